//! Counters for the shell's `stats` command: frames by command, body bytes, errors.

use std::collections::BTreeMap;
use std::fmt;

use stompy::Command;

/// What went over the connection, as the shell saw it.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    sent: BTreeMap<&'static str, u64>,
    received: BTreeMap<&'static str, u64>,
    bytes_sent: u64,
    bytes_received: u64,
    errors: u64,
}

impl Stats {
    /// A frame the shell sent, with `body` bytes.
    pub(crate) fn on_sent(&mut self, command: Command, body: usize) {
        *self.sent.entry(command.as_str()).or_default() += 1;
        self.bytes_sent += body as u64;
    }

    /// A frame the shell received, with `body` bytes.
    pub(crate) fn on_received(&mut self, command: Command, body: usize) {
        *self.received.entry(command.as_str()).or_default() += 1;
        self.bytes_received += body as u64;
    }

    /// A failed command or an ERROR frame.
    pub(crate) fn on_error(&mut self) {
        self.errors += 1;
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |m: &BTreeMap<&str, u64>| {
            if m.is_empty() {
                return "none".to_owned();
            }
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        writeln!(f, "sent:       {}", list(&self.sent))?;
        writeln!(f, "received:   {}", list(&self.received))?;
        writeln!(
            f,
            "body bytes: sent={} received={}",
            self.bytes_sent, self.bytes_received
        )?;
        write!(f, "errors:     {}", self.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_command() {
        let mut s = Stats::default();
        s.on_sent(Command::Send, 5);
        s.on_sent(Command::Send, 3);
        s.on_sent(Command::Subscribe, 0);
        s.on_received(Command::Message, 5);
        s.on_error();
        assert_eq!(
            s.to_string(),
            "sent:       SEND=2 SUBSCRIBE=1\nreceived:   MESSAGE=1\n\
             body bytes: sent=8 received=5\nerrors:     1"
        );
    }
}
