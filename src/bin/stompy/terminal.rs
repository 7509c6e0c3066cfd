//! Where the shell's lines come from: a line editor with history on a terminal, or standard
//! input otherwise. Either is read on its own thread, so that messages (and heart-beats) are
//! handled while no line has come yet, and on a terminal printed above the prompt.
//!
//! The connection stays on the main thread: between lines it polls the client briefly and
//! checks for a line. While a command runs, the editor waits, so a command's output never
//! mixes with the prompt.

use std::io::{self, BufRead};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread;
use std::time::Duration;

use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;

use crate::error::CliError;
use crate::shell::{Outcome, Shell};

/// How long the main thread waits for network input before it looks for a typed line.
const POLL: Duration = Duration::from_millis(25);

const PROMPT: &str = "stompy> ";

/// What the editor thread hands over: a line, or `None` at end of input (Ctrl-D).
type Typed = Option<String>;

impl Shell {
    /// Reads commands from a terminal with line editing and history (`~/.stompy_history`).
    pub(crate) fn interactive(&mut self) -> Outcome {
        let mut editor = DefaultEditor::new()?;
        let history = history_path();
        if let Some(h) = &history {
            let _ = editor.load_history(h); // none yet is fine
        }
        let printer = editor.create_external_printer()?;
        println!(
            "connected to {} (STOMP {}); type help for commands",
            self.client
                .broker_address()
                .map(ToString::to_string)
                .unwrap_or_default(),
            self.client.version()
        );
        let (typed_tx, typed) = mpsc::channel();
        let (next_tx, next) = mpsc::channel();
        let editor_thread = thread::spawn(move || edit_lines(editor, history, &typed_tx, &next));
        self.at_prompt = Some(Box::new(printer));
        let result = self.serve(&typed, Some(&next_tx));
        drop(next_tx); // the editor thread ends when it next waits for its turn
        let _ = editor_thread.join();
        result
    }

    /// Reads commands from standard input (a script): no prompt, only results.
    pub(crate) fn piped(&mut self) -> Outcome {
        let (typed_tx, typed) = mpsc::channel();
        // Not joined: it may be blocked reading when `quit` ends the shell.
        thread::spawn(move || {
            for line in io::stdin().lock().lines() {
                let line = line.unwrap_or_else(|e| {
                    eprintln!("stompy: error: reading standard input: {e}");
                    String::from("quit")
                });
                if typed_tx.send(Some(line)).is_err() {
                    return;
                }
            }
            let _ = typed_tx.send(None);
        });
        self.serve(&typed, None)
    }

    /// Runs lines and prints arrivals until `quit`, end of input or a lost connection. On a
    /// terminal, `next` lets the editor show the prompt again once a line has run.
    fn serve(&mut self, typed: &Receiver<Typed>, next: Option<&Sender<()>>) -> Outcome {
        loop {
            match typed.try_recv() {
                Ok(Some(line)) => {
                    let printer = self.at_prompt.take();
                    let r = self.line(&line);
                    self.at_prompt = printer;
                    if r.is_err() || self.done {
                        return r;
                    }
                    if let Some(next) = next {
                        let _ = next.send(());
                    }
                }
                Ok(None) | Err(TryRecvError::Disconnected) => return Ok(()),
                Err(TryRecvError::Empty) => {
                    if let Err(e) = self.receive(POLL) {
                        if next.is_some() {
                            // The editor is still reading a line: let the user end it.
                            self.report(&format!("{e}; press Enter to leave"));
                            let _ = typed.recv();
                        }
                        return Err(e);
                    }
                }
            }
        }
    }
}

/// The editor thread: read a line, hand it over, wait for the go-ahead; repeat.
fn edit_lines(
    mut editor: DefaultEditor,
    history: Option<PathBuf>,
    typed: &Sender<Typed>,
    next: &Receiver<()>,
) {
    loop {
        let line = match editor.readline(PROMPT) {
            Ok(line) => Some(line),
            Err(ReadlineError::Interrupted) => continue, // Ctrl-C drops the line
            Err(ReadlineError::Eof) => None,
            Err(e) => {
                eprintln!("stompy: error: {}", CliError::from(e));
                None
            }
        };
        if let Some(l) = line.as_deref().filter(|l| !l.trim().is_empty()) {
            let _ = editor.add_history_entry(l);
            if let Some(h) = &history {
                let _ = editor.save_history(h);
            }
        }
        let end = line.is_none();
        if typed.send(line).is_err() || end || next.recv().is_err() {
            return;
        }
    }
}

/// `~/.stompy_history`.
fn history_path() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".stompy_history"))
}
