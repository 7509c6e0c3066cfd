//! The shell's commands.

use std::path::Path;
use std::time::Instant;

use stompy::session::AckToken;
use stompy::{header, AckMode, Command, Frame};

use crate::args::parse_ack_mode;
use crate::connect::secs;
use crate::error::CliError;
use crate::shell::{Outcome, Shell};

const HELP: &str = "\
commands:
  send DEST BODY...          send a message (inside the open transaction, if any)
  sendrec DEST BODY...       send with a receipt and wait for it
  sendfile DEST PATH         send a file's contents
  subscribe DEST [ACK]       subscribe; ACK is auto (default), client or client-individual
  unsubscribe ID|DEST        end a subscription
  ack MESSAGE_ID             acknowledge a message of a client-ack subscription
  nack MESSAGE_ID            reject a message of a client-ack subscription (STOMP 1.1+)
  begin                      open a transaction
  commit                     commit the open transaction
  abort                      roll back the open transaction
  wait [N] [SECS]            print until N messages (default 1) arrived, or SECS passed
  stats                      frames sent and received by command, bytes, errors
  version                    the negotiated protocol version and the broker's server header
  run FILE                   run the commands of a file
  help                       this text
  quit, exit                 disconnect and leave";

/// Splits off the first whitespace-separated word.
fn word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.split_once(char::is_whitespace) {
        Some((w, rest)) => (w, rest.trim_start()),
        None => (s, ""),
    }
}

fn need<'a>(arg: &'a str, usage: &str) -> Result<&'a str, CliError> {
    if arg.is_empty() {
        Err(CliError::usage(format!("usage: {usage}")))
    } else {
        Ok(arg)
    }
}

impl Shell {
    /// Runs one command line. Blank lines and lines starting with `#` do nothing.
    pub(crate) fn execute(&mut self, line: &str) -> Outcome {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let (cmd, rest) = word(line);
        match cmd {
            "send" => {
                let (dest, body) = word(rest);
                self.send(need(dest, "send DEST BODY...")?, body.as_bytes().to_vec())
            }
            "sendrec" => {
                let (dest, body) = word(rest);
                let dest = need(dest, "sendrec DEST BODY...")?;
                self.send_with_receipt(dest, body.as_bytes().to_vec())
            }
            "sendfile" => {
                let (dest, path) = word(rest);
                let path = need(path, "sendfile DEST PATH")?;
                let body = std::fs::read(path)
                    .map_err(|e| CliError::usage(format!("cannot read {path}: {e}")))?;
                self.send(need(dest, "sendfile DEST PATH")?, body)
            }
            "subscribe" | "sub" => {
                let (dest, mode) = word(rest);
                let mode = match mode {
                    "" => AckMode::Auto,
                    m => parse_ack_mode(m).map_err(CliError::usage)?,
                };
                self.subscribe(need(dest, "subscribe DEST [ACK]")?, mode)
            }
            "unsubscribe" | "unsub" => self.unsubscribe(need(rest, "unsubscribe ID|DEST")?),
            "ack" => self.acknowledge(need(rest, "ack MESSAGE_ID")?, Command::Ack),
            "nack" => self.acknowledge(need(rest, "nack MESSAGE_ID")?, Command::Nack),
            "begin" => self.begin(),
            "commit" => self.finish(Command::Commit),
            "abort" | "rollback" => self.finish(Command::Abort),
            "wait" => self.wait_for(rest),
            "stats" => {
                println!("{}", self.stats);
                Ok(())
            }
            "version" | "ver" => {
                let server = self.client.connected_frame().and_then(|f| f.get("server"));
                println!(
                    "STOMP {} (server: {})",
                    self.client.version(),
                    server.unwrap_or("unknown")
                );
                Ok(())
            }
            "run" => self.run_file(Path::new(need(rest, "run FILE")?)),
            "help" | "?" => {
                println!("{HELP}");
                Ok(())
            }
            "quit" | "exit" => {
                self.done = true;
                Ok(())
            }
            other => Err(CliError::usage(format!(
                "unknown command {other:?} (try help)"
            ))),
        }
    }

    /// Sends `frame` and counts it.
    fn send_frame(&mut self, frame: &Frame) -> Outcome {
        self.client.send_frame(frame)?;
        self.stats.on_sent(frame, self.client.version());
        Ok(())
    }

    fn send(&mut self, dest: &str, body: Vec<u8>) -> Outcome {
        let f = self.message(dest, body);
        self.send_frame(&f)
    }

    /// `sendrec`: outside a transaction the broker's RECEIPT says it has the message. (Inside
    /// one, RabbitMQ holds the RECEIPT until the COMMIT.)
    fn send_with_receipt(&mut self, dest: &str, body: Vec<u8>) -> Outcome {
        let receipt = self.client.new_receipt_id();
        let f = self
            .message(dest, body)
            .with_header(header::RECEIPT, &receipt);
        self.send_frame(&f)?;
        self.client.wait_for_receipt(&receipt, self.wait)?;
        println!("receipt {receipt}");
        Ok(())
    }

    /// A SEND in the open transaction, if any.
    fn message(&self, dest: &str, body: Vec<u8>) -> Frame {
        let mut f = Frame::new(Command::Send).with_header(header::DESTINATION, dest);
        if let Some(tx) = &self.transaction {
            f = f.with_header(header::TRANSACTION, tx);
        }
        f.with_body(body)
    }

    fn subscribe(&mut self, dest: &str, mode: AckMode) -> Outcome {
        let id = self
            .client
            .subscription(dest)
            .ack(mode)
            .auto_ack(false)
            .wait_receipt(self.wait)
            .subscribe()?;
        if let Some(sub) = self.client.subscriptions().iter().find(|s| s.id == id) {
            self.stats
                .on_sent(&sub.subscribe_frame(), self.client.version());
        }
        println!("subscribed to {dest} (id {id}, ack {mode})");
        Ok(())
    }

    fn unsubscribe(&mut self, which: &str) -> Outcome {
        let subs = self.client.subscriptions();
        let id = subs
            .iter()
            .find(|s| s.id == which)
            .or_else(|| subs.iter().find(|s| s.destination == which))
            .map(|s| s.id.clone())
            .ok_or_else(|| CliError::usage(format!("no subscription {which:?}")))?;
        self.client.unsubscribe(&id)?;
        self.unacked
            .retain(|f| f.subscription() != Some(id.as_str()));
        let f = Frame::new(Command::Unsubscribe).with_header(header::ID, &id);
        self.stats.on_sent(&f, self.client.version());
        println!("unsubscribed {id}");
        Ok(())
    }

    /// ACK or NACK a kept message. In `client` mode an ACK covers the subscription's earlier
    /// messages too, so those are forgotten as well.
    fn acknowledge(&mut self, message_id: &str, command: Command) -> Outcome {
        let i = self
            .unacked
            .iter()
            .position(|f| f.message_id() == Some(message_id))
            .ok_or_else(|| {
                CliError::usage(format!("no un-acknowledged message with id {message_id:?}"))
            })?;
        let frame = &self.unacked[i];
        let f = AckToken::of(frame).frame(
            command,
            self.client.version(),
            self.transaction.as_deref(),
        )?;
        self.client.send_frame(&f)?;
        self.stats.on_sent(&f, self.client.version());
        let sub = frame.subscription().map(str::to_owned);
        let cumulative = self
            .client
            .subscriptions()
            .iter()
            .any(|s| Some(&s.id) == sub.as_ref() && s.ack == AckMode::Client);
        let mut n = 0;
        self.unacked.retain(|f| {
            n += 1;
            let earlier_same_sub = cumulative && n <= i && f.subscription() == sub.as_deref();
            n != i + 1 && !earlier_same_sub
        });
        Ok(())
    }

    fn begin(&mut self) -> Outcome {
        if let Some(tx) = &self.transaction {
            return Err(CliError::usage(format!(
                "transaction {tx} is open: commit or abort it first"
            )));
        }
        let id = format!("tx-{}", uuid::Uuid::new_v4().simple());
        let f = Frame::new(Command::Begin).with_header(header::TRANSACTION, &id);
        self.send_frame(&f)?;
        println!("transaction {id} begun");
        self.transaction = Some(id);
        Ok(())
    }

    /// COMMIT or ABORT the open transaction, waiting for the broker's receipt.
    fn finish(&mut self, command: Command) -> Outcome {
        let id = self
            .transaction
            .take()
            .ok_or_else(|| CliError::usage("no transaction is open (use begin)"))?;
        let receipt = self.client.new_receipt_id();
        let f = Frame::new(command)
            .with_header(header::TRANSACTION, &id)
            .with_header(header::RECEIPT, &receipt);
        self.send_frame(&f)?;
        self.client.wait_for_receipt(&receipt, self.wait)?;
        let done = if command == Command::Commit {
            "committed"
        } else {
            "aborted"
        };
        println!("transaction {id} {done}");
        Ok(())
    }

    /// `wait [N] [SECS]`: prints frames until N messages were printed since the last `wait`
    /// (those printed after earlier commands count), or fails after SECS.
    fn wait_for(&mut self, args: &str) -> Outcome {
        let (n, secs_arg) = word(args);
        let usage = || CliError::usage("usage: wait [N] [SECS]");
        let n: u64 = if n.is_empty() {
            1
        } else {
            n.parse().map_err(|_| usage())?
        };
        let timeout = match secs_arg {
            "" => self.wait,
            s => secs(s.parse().map_err(|_| usage())?),
        };
        let deadline = Instant::now() + timeout;
        while self.unwaited < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.receive(left)?.is_none() {
                let got = std::mem::take(&mut self.unwaited);
                return Err(CliError::usage(format!(
                    "wait: {got} of {n} message(s) in {timeout:?}"
                )));
            }
        }
        self.unwaited -= n;
        Ok(())
    }
}
