//! The shell: run a line, print what arrived; repeat. Where lines come from (terminal or
//! standard input) is in `terminal.rs`; the commands are in `shell_commands.rs`.
//!
//! The client is pull-style and single-threaded, so the shell drains received frames
//! (briefly) after every command and polls for them while it waits for the next line.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use rustyline::ExternalPrinter;
use stompy::{Command, Error, Frame, StompClient};

use crate::args::{ConnOpts, Format, ShellArgs};
use crate::error::CliError;
use crate::format::write_frame;
use crate::stats::Stats;

/// How long the shell listens for arriving frames after each command.
const DRAIN: Duration = Duration::from_millis(20);

/// Deepest nesting of `run FILE`.
const MAX_RUN_DEPTH: usize = 8;

/// The shell's state besides the connection.
pub(crate) struct Shell {
    pub(crate) client: StompClient,
    pub(crate) wait: Duration,
    pub(crate) format: Format,
    /// The open transaction, if any: sends and acks join it.
    pub(crate) transaction: Option<String>,
    /// Messages of client-ack subscriptions not yet ACKed or NACKed, oldest first.
    pub(crate) unacked: Vec<Frame>,
    pub(crate) stats: Stats,
    pub(crate) run_depth: usize,
    /// Set by `quit` / `exit`.
    pub(crate) done: bool,
    /// How many commands failed.
    pub(crate) failures: u64,
    /// Messages printed since the last `wait` counted them.
    pub(crate) unwaited: u64,
    /// While the line editor shows the prompt, output goes through it (above the prompt).
    pub(crate) at_prompt: Option<Box<dyn ExternalPrinter>>,
}

/// The result of a command: an error is reported, and ends the shell only when the
/// connection is lost.
pub(crate) type Outcome = Result<(), CliError>;

/// `stompy shell` (and `stompy` with no subcommand).
pub(crate) fn run(conn: &ConnOpts, args: &ShellArgs) -> Result<(), CliError> {
    let client = conn.connect()?;
    let mut shell = Shell {
        client,
        wait: conn.wait(),
        format: args.format,
        transaction: None,
        unacked: Vec::new(),
        stats: Stats::default(),
        run_depth: 0,
        done: false,
        failures: 0,
        unwaited: 0,
        at_prompt: None,
    };
    let interactive = args.script.is_none() && io::stdin().is_terminal();
    let result = match &args.script {
        Some(path) => shell.run_file(path),
        None if interactive => shell.interactive(),
        None => shell.piped(),
    };
    let closed = shell.client.disconnect();
    result?;
    closed?;
    if !interactive && shell.failures > 0 {
        return Err(CliError::usage(format!(
            "{} command(s) failed",
            shell.failures
        )));
    }
    Ok(())
}

impl Shell {
    /// Runs the commands of a file (`run FILE`, `shell --run FILE`).
    fn batch(&mut self, input: impl BufRead) -> Outcome {
        for line in input.lines() {
            self.line(&line?)?;
            if self.done {
                break;
            }
        }
        Ok(())
    }

    /// `run FILE`.
    pub(crate) fn run_file(&mut self, path: &Path) -> Outcome {
        if self.run_depth >= MAX_RUN_DEPTH {
            return Err(CliError::usage(format!(
                "run: more than {MAX_RUN_DEPTH} nested files"
            )));
        }
        let file = File::open(path)
            .map_err(|e| CliError::usage(format!("cannot open {}: {e}", path.display())))?;
        self.run_depth += 1;
        let r = self.batch(BufReader::new(file));
        self.run_depth -= 1;
        r
    }

    /// Runs one line, reports its error, and prints what arrived meanwhile. Only a lost
    /// connection ends the shell.
    pub(crate) fn line(&mut self, line: &str) -> Outcome {
        if let Err(e) = self.execute(line) {
            self.report(&e.to_string());
        }
        self.drain(DRAIN)
    }

    pub(crate) fn report(&mut self, msg: &str) {
        self.failures += 1;
        self.stats.on_error();
        let line = format!("stompy: error: {}", msg.lines().next().unwrap_or_default());
        if let Some(p) = self.at_prompt.as_mut() {
            if p.print(line.clone()).is_ok() {
                return;
            }
        }
        let _ = io::stdout().flush();
        eprintln!("{line}");
    }

    /// Prints the frames that arrive within `idle` of each other.
    pub(crate) fn drain(&mut self, idle: Duration) -> Outcome {
        while self.receive(idle)?.is_some() {}
        Ok(())
    }

    /// Waits up to `timeout` for one frame and prints it. `Ok(None)` when none came. An
    /// ERROR frame is reported (and counted) and returned as `Some`.
    pub(crate) fn receive(&mut self, timeout: Duration) -> Result<Option<Command>, CliError> {
        match self.client.recv_timeout(timeout) {
            Ok(Some(frame)) => {
                if frame.command() == Command::Message {
                    self.unwaited += 1;
                }
                self.show(frame)?;
                Ok(Some(Command::Message))
            }
            Ok(None) => Err(CliError::usage(match self.client.close_reason() {
                Some(e) => format!("connection closed: {}", e.report()),
                None => "connection closed by the broker".to_owned(),
            })),
            Err(Error::Timeout(stompy::Timeout::Recv(_))) => Ok(None),
            Err(e) if e.broker_error().is_some() && self.client.is_connected() => {
                self.stats.on_error_frame();
                self.report(&e.report().to_string());
                Ok(Some(Command::Error))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn show(&mut self, frame: Frame) -> Outcome {
        self.stats.on_received(&frame, self.client.version());
        self.print_frame(&frame)?;
        if frame.command() == Command::Message && self.needs_ack(&frame) {
            self.unacked.push(frame);
        }
        Ok(())
    }

    fn print_frame(&mut self, frame: &Frame) -> Outcome {
        if let Some(p) = self.at_prompt.as_mut() {
            let mut buf = Vec::new();
            write_frame(&mut buf, frame, self.format)?;
            return p
                .print(String::from_utf8_lossy(&buf).into_owned())
                .map_err(CliError::from);
        }
        let mut out = io::stdout().lock();
        write_frame(&mut out, frame, self.format)?;
        out.flush()?;
        Ok(())
    }

    fn needs_ack(&self, frame: &Frame) -> bool {
        let sub = frame.subscription();
        self.client
            .subscriptions()
            .iter()
            .any(|s| Some(s.id.as_str()) == sub && s.ack.needs_ack())
    }
}
