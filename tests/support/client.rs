//! A bare STOMP peer for broker tests: std TcpStream plus stompy's codec, nothing else.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use stompy::codec::{encode_frame, Decoder, Item};
use stompy::{Command, Frame, Limits, Version};

/// Headers as name, value pairs.
pub(crate) type Hdrs<'a> = &'a [(&'a str, &'a str)];

pub(crate) const WAIT: Duration = Duration::from_secs(10);

pub(crate) struct Peer {
    pub(crate) stream: TcpStream,
    pub(crate) dec: Decoder,
    pub(crate) version: Version,
    pub(crate) heart_beats: usize,
}

pub(crate) fn frame(command: Command, headers: &[(&str, &str)], body: &[u8]) -> Frame {
    let mut f = Frame::new(command).with_body(body.to_vec());
    for (k, v) in headers {
        f = f.with_header(k, v);
    }
    f
}

impl Peer {
    /// A TCP connection with nothing sent yet.
    #[track_caller]
    pub(crate) fn raw(addr: SocketAddr) -> Peer {
        let stream = TcpStream::connect(addr).expect("connect to broker");
        stream.set_nodelay(true).unwrap();
        let limits = Limits::default().max_body(64 << 20);
        Peer {
            stream,
            dec: Decoder::new(Version::V1_0, limits),
            version: Version::V1_0,
            heart_beats: 0,
        }
    }

    /// Connects and negotiates `version`, with extra CONNECT headers.
    #[track_caller]
    pub(crate) fn connect_with(
        addr: SocketAddr,
        version: &str,
        extra: &[(&str, &str)],
    ) -> (Peer, Frame) {
        let mut p = Peer::raw(addr);
        let mut headers = vec![("accept-version", version), ("host", "localhost")];
        headers.extend_from_slice(extra);
        p.send(frame(Command::Connect, &headers, b""));
        let f = p.recv();
        assert_eq!(f.command(), Command::Connected, "{f:?}");
        if let Some(v) = f.get("version") {
            p.version = v.parse().unwrap();
            p.dec.set_version(p.version);
        }
        (p, f)
    }

    #[track_caller]
    pub(crate) fn connect(addr: SocketAddr, version: &str) -> Peer {
        Peer::connect_with(addr, version, &[]).0
    }

    pub(crate) fn send(&mut self, f: Frame) {
        let mut out = Vec::new();
        encode_frame(&f, self.version, &mut out).unwrap();
        self.stream.write_all(&out).unwrap();
    }

    pub(crate) fn cmd(&mut self, command: Command, headers: &[(&str, &str)]) {
        self.send(frame(command, headers, b""));
    }

    pub(crate) fn publish(&mut self, dest: &str, body: &str) {
        self.cmd_body(Command::Send, &[("destination", dest)], body.as_bytes());
    }

    pub(crate) fn cmd_body(&mut self, command: Command, headers: &[(&str, &str)], body: &[u8]) {
        self.send(frame(command, headers, body));
    }

    pub(crate) fn subscribe(&mut self, id: &str, dest: &str, ack: &str) {
        self.cmd(
            Command::Subscribe,
            &[("id", id), ("destination", dest), ("ack", ack)],
        );
    }

    /// Sends `command` with a receipt and waits for it.
    #[track_caller]
    pub(crate) fn with_receipt(&mut self, command: Command, headers: &[(&str, &str)]) {
        let mut h = headers.to_vec();
        h.push(("receipt", "sync"));
        self.cmd(command, &h);
        let f = self.recv();
        assert_eq!(
            (f.command(), f.get("receipt-id")),
            (Command::Receipt, Some("sync")),
            "{f:?}"
        );
    }

    /// The next frame, or `None` when nothing came within `d` (or the connection closed).
    pub(crate) fn recv_timeout(&mut self, d: Duration) -> Option<Frame> {
        let deadline = Instant::now() + d;
        loop {
            match self.dec.decode().expect("valid STOMP from broker") {
                Some(Item::Frame(f)) => return Some(f),
                Some(Item::HeartBeat) => {
                    self.heart_beats += 1;
                    continue;
                }
                None => {}
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            match self.dec.read_from(&mut self.stream) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
    }

    #[track_caller]
    pub(crate) fn recv(&mut self) -> Frame {
        self.recv_timeout(WAIT).expect("a frame from the broker")
    }

    /// Asserts that nothing but heart-beats arrives for `d`.
    #[track_caller]
    pub(crate) fn expect_silence(&mut self, d: Duration) {
        if let Some(f) = self.recv_timeout(d) {
            panic!("unexpected {f:?}");
        }
    }

    /// Asserts the next frame is an ERROR containing `needle`, then that the broker closes.
    #[track_caller]
    pub(crate) fn expect_error(&mut self, needle: &str) -> Frame {
        let f = self.recv();
        assert_eq!(f.command(), Command::Error, "{f:?}");
        assert!(f.get("message").unwrap_or("").contains(needle), "{f:?}");
        self.expect_closed();
        f
    }

    /// Asserts that the broker closes the connection within [`WAIT`].
    #[track_caller]
    pub(crate) fn expect_closed(&mut self) {
        let deadline = Instant::now() + WAIT;
        let mut buf = [0u8; 4096];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
        panic!("broker did not close the connection");
    }
}
