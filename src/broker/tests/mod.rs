//! Engine tests without sockets: bytes in, bytes out, time as an argument. The harness is
//! here; `session.rs` covers connecting and protocol errors, `delivery.rs` destinations,
//! acknowledgements and transactions.

mod delivery;
mod durability;
mod session;

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::conn::Phase;
use super::engine::{Config, Engine, Stored};
use super::store;
use crate::codec::{encode_frame, Decoder, Item, Limits};
use crate::frame::{Command, Frame};

pub(super) struct Harness {
    pub(super) engine: Engine,
    pub(super) now: Instant,
}

pub(super) fn frame(command: Command, headers: &[(&str, &str)], body: &str) -> Frame {
    let mut f = Frame::new(command).with_body(body);
    for (k, v) in headers {
        f = f.with_header(k, v);
    }
    f
}

impl Harness {
    pub(super) fn new() -> Self {
        Self::with(Config::default())
    }

    pub(super) fn with(cfg: Config) -> Self {
        Harness {
            engine: Engine::new(cfg, Stored::default()),
            now: Instant::now(),
        }
    }

    /// An engine keeping persistent messages in `dir`, with what `state` and `dir` hold.
    pub(super) fn durable(dir: &Path, state: Stored) -> Self {
        let (stored, durable) = store::recover(dir, state).unwrap();
        Harness {
            engine: Engine::with_store(Config::default(), stored, Some(durable)),
            now: Instant::now(),
        }
    }

    pub(super) fn input(&mut self, id: usize, bytes: &[u8]) {
        self.engine.conn_mut(id).unwrap().feed(bytes, self.now);
        self.engine.process(id, self.now);
    }

    pub(super) fn send(&mut self, id: usize, f: Frame) {
        let version = self.engine.conn(id).unwrap().version;
        let mut out = Vec::new();
        encode_frame(&f, version, &mut out).unwrap();
        self.input(id, &out);
    }

    pub(super) fn cmd(&mut self, id: usize, command: Command, headers: &[(&str, &str)]) {
        self.send(id, frame(command, headers, ""));
    }

    /// Every frame the connection has been sent since the last call (after the store's
    /// commit, as the server writes).
    pub(super) fn output(&mut self, id: usize) -> Vec<Frame> {
        self.engine.commit(self.now);
        let conn = self.engine.conn_mut(id).unwrap();
        let mut d = Decoder::new(conn.version, Limits::default());
        d.feed(&conn.take_output());
        let mut frames = Vec::new();
        while let Some(item) = d.decode().unwrap() {
            if let Item::Frame(f) = item {
                frames.push(f);
            }
        }
        frames
    }

    pub(super) fn one(&mut self, id: usize) -> Frame {
        let mut out = self.output(id);
        assert_eq!(out.len(), 1, "{out:?}");
        out.remove(0)
    }

    pub(super) fn connect(&mut self, version: &str) -> usize {
        let id = self.engine.open(self.now);
        self.cmd(id, Command::Connect, &[("accept-version", version)]);
        assert_eq!(self.one(id).command(), Command::Connected);
        id
    }

    pub(super) fn subscribe(&mut self, id: usize, sub: &str, dest: &str, ack: &str) {
        let h = [("id", sub), ("destination", dest), ("ack", ack)];
        self.cmd(id, Command::Subscribe, &h);
    }

    pub(super) fn publish(&mut self, id: usize, dest: &str, body: &str) {
        self.send(id, frame(Command::Send, &[("destination", dest)], body));
    }

    pub(super) fn bodies(&mut self, id: usize) -> Vec<String> {
        let out = self.output(id);
        out.iter()
            .map(|f| String::from_utf8_lossy(f.body()).into_owned())
            .collect()
    }

    pub(super) fn assert_error(&mut self, id: usize, needle: &str) -> Frame {
        let out = self.output(id);
        let err = out.last().unwrap_or_else(|| panic!("no output"));
        assert_eq!(err.command(), Command::Error, "{out:?}");
        assert!(err.get("message").unwrap().contains(needle), "{err:?}");
        assert_eq!(self.engine.conn(id).unwrap().phase, Phase::Closing);
        err.clone()
    }
}

/// A fresh directory for a store, removed on drop.
pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "stompy-broker-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
