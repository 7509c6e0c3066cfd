//! Counters for the shell's `stats` command: frames by command, bytes, errors.

use std::collections::BTreeMap;
use std::fmt;

use stompy::codec::encode_frame;
use stompy::{Command, Frame, Version};

/// What went over the connection, as the shell saw it. RECEIPTs and heart-beats are handled
/// inside the client and not counted.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    sent: BTreeMap<&'static str, u64>,
    received: BTreeMap<&'static str, u64>,
    body_sent: u64,
    body_received: u64,
    wire_sent: u64,
    wire_received: u64,
    errors: u64,
}

/// The frame's size on the wire, as encoded for `version`.
fn wire_len(frame: &Frame, version: Version) -> u64 {
    let mut buf = Vec::new();
    encode_frame(frame, version, &mut buf).map_or(0, |()| buf.len() as u64)
}

impl Stats {
    /// A frame the shell sent.
    pub(crate) fn on_sent(&mut self, frame: &Frame, version: Version) {
        *self.sent.entry(frame.command().as_str()).or_default() += 1;
        self.body_sent += frame.body().len() as u64;
        self.wire_sent += wire_len(frame, version);
    }

    /// A frame the shell received.
    pub(crate) fn on_received(&mut self, frame: &Frame, version: Version) {
        *self.received.entry(frame.command().as_str()).or_default() += 1;
        self.body_received += frame.body().len() as u64;
        self.wire_received += wire_len(frame, version);
    }

    /// An ERROR frame, seen only as the error the client made of it.
    pub(crate) fn on_error_frame(&mut self) {
        *self.received.entry(Command::Error.as_str()).or_default() += 1;
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
        writeln!(f, "sent:        {}", list(&self.sent))?;
        writeln!(f, "received:    {}", list(&self.received))?;
        writeln!(
            f,
            "body bytes:  sent={} received={}",
            self.body_sent, self.body_received
        )?;
        writeln!(
            f,
            "frame bytes: sent={} received={}",
            self.wire_sent, self.wire_received
        )?;
        write!(f, "errors:      {}", self.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_command() {
        let mut s = Stats::default();
        let send = |body: &str| {
            Frame::new(Command::Send)
                .with_header("destination", "/queue/a")
                .with_body(body)
        };
        s.on_sent(&send("hello"), Version::V1_2);
        s.on_sent(&send("abc"), Version::V1_2);
        s.on_sent(
            &Frame::new(Command::Begin).with_header("transaction", "t"),
            Version::V1_2,
        );
        s.on_received(&send("hello"), Version::V1_2);
        s.on_error_frame();
        s.on_error();
        // "SEND\ndestination:/queue/a\ncontent-length:5\n\nhello\0" is 50 bytes.
        assert_eq!(
            s.to_string(),
            "sent:        BEGIN=1 SEND=2\nreceived:    ERROR=1 SEND=1\n\
             body bytes:  sent=8 received=5\nframe bytes: sent=120 received=50\n\
             errors:      1"
        );
    }
}
