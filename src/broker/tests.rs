//! Engine tests without sockets: bytes in, bytes out, time as an argument.

use std::time::{Duration, Instant};

use super::conn::Phase;
use super::engine::{Config, Engine, Stored};
use crate::codec::{encode_frame, Decoder, Item, Limits};
use crate::frame::{Command, Frame, Version};

struct Harness {
    engine: Engine,
    now: Instant,
}

fn frame(command: Command, headers: &[(&str, &str)], body: &str) -> Frame {
    let mut f = Frame::new(command).with_body(body);
    for (k, v) in headers {
        f = f.with_header(k, v);
    }
    f
}

impl Harness {
    fn new() -> Self {
        Self::with(Config::default())
    }

    fn with(cfg: Config) -> Self {
        Harness {
            engine: Engine::new(cfg, Stored::default()),
            now: Instant::now(),
        }
    }

    fn input(&mut self, id: usize, bytes: &[u8]) {
        self.engine.conn_mut(id).unwrap().feed(bytes, self.now);
        self.engine.process(id, self.now);
    }

    fn send(&mut self, id: usize, f: Frame) {
        let version = self.engine.conn(id).unwrap().version;
        let mut out = Vec::new();
        encode_frame(&f, version, &mut out).unwrap();
        self.input(id, &out);
    }

    fn cmd(&mut self, id: usize, command: Command, headers: &[(&str, &str)]) {
        self.send(id, frame(command, headers, ""));
    }

    /// Every frame the connection has been sent since the last call.
    fn output(&mut self, id: usize) -> Vec<Frame> {
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

    fn one(&mut self, id: usize) -> Frame {
        let mut out = self.output(id);
        assert_eq!(out.len(), 1, "{out:?}");
        out.remove(0)
    }

    fn connect(&mut self, version: &str) -> usize {
        let id = self.engine.open(self.now);
        self.cmd(id, Command::Connect, &[("accept-version", version)]);
        assert_eq!(self.one(id).command(), Command::Connected);
        id
    }

    fn subscribe(&mut self, id: usize, sub: &str, dest: &str, ack: &str) {
        let h = [("id", sub), ("destination", dest), ("ack", ack)];
        self.cmd(id, Command::Subscribe, &h);
    }

    fn publish(&mut self, id: usize, dest: &str, body: &str) {
        self.send(id, frame(Command::Send, &[("destination", dest)], body));
    }

    fn bodies(&mut self, id: usize) -> Vec<String> {
        let out = self.output(id);
        out.iter()
            .map(|f| String::from_utf8_lossy(f.body()).into_owned())
            .collect()
    }

    fn assert_error(&mut self, id: usize, needle: &str) -> Frame {
        let out = self.output(id);
        let err = out.last().unwrap_or_else(|| panic!("no output"));
        assert_eq!(err.command(), Command::Error, "{out:?}");
        assert!(err.get("message").unwrap().contains(needle), "{err:?}");
        assert_eq!(self.engine.conn(id).unwrap().phase, Phase::Closing);
        err.clone()
    }
}

#[test]
fn negotiates_the_highest_common_version() {
    let mut h = Harness::new();
    let id = h.engine.open(h.now);
    h.cmd(
        id,
        Command::Stomp,
        &[("accept-version", "1.0,1.1,1.2"), ("heart-beat", "0,0")],
    );
    let c = h.one(id);
    assert_eq!(c.get("version"), Some("1.2"));
    assert!(c.get("server").unwrap().starts_with("stompy/"));
    assert!(c.get("session").is_some());
    assert_eq!(c.get("heart-beat"), Some("10000,10000"));
    let id = h.engine.open(h.now);
    h.cmd(id, Command::Connect, &[]);
    assert_eq!(h.one(id).get("version"), Some("1.0"));
    assert_eq!(h.engine.conn(id).unwrap().version, Version::V1_0);
}

#[test]
fn refuses_unknown_versions_and_frames_before_connect() {
    let mut h = Harness::new();
    let id = h.engine.open(h.now);
    h.cmd(
        id,
        Command::Connect,
        &[("accept-version", "2.0"), ("receipt", "r")],
    );
    let err = h.assert_error(id, "unsupported protocol versions");
    assert_eq!(err.get("version"), Some("1.0,1.1,1.2"));
    assert_eq!(err.get("receipt-id"), Some("r"));
    let id = h.engine.open(h.now);
    h.publish(id, "/queue/a", "x");
    h.assert_error(id, "expected CONNECT");
}

#[test]
fn checks_logins_when_users_are_set() {
    let mut cfg = Config::default();
    cfg.users.insert("guest".into(), "pw".into());
    let mut h = Harness::with(cfg);
    let id = h.engine.open(h.now);
    h.cmd(
        id,
        Command::Connect,
        &[("login", "guest"), ("passcode", "bad")],
    );
    h.assert_error(id, "login failed");
    let id = h.engine.open(h.now);
    h.cmd(
        id,
        Command::Connect,
        &[("login", "guest"), ("passcode", "pw")],
    );
    assert_eq!(h.one(id).command(), Command::Connected);
}

#[test]
fn queue_keeps_messages_until_a_consumer_comes() {
    let mut h = Harness::new();
    let p = h.connect("1.2");
    let mut send = frame(Command::Send, &[("destination", "/queue/a")], "one");
    send = send
        .with_header("receipt", "r1")
        .with_header("x-custom", "a:b");
    h.send(p, send);
    assert_eq!(h.one(p).get("receipt-id"), Some("r1"));
    let c = h.connect("1.2");
    h.subscribe(c, "s1", "/queue/a", "auto");
    let m = h.one(c);
    assert_eq!(m.command(), Command::Message);
    assert_eq!(m.get("subscription"), Some("s1"));
    assert_eq!(m.get("destination"), Some("/queue/a"));
    assert_eq!(m.get("x-custom"), Some("a:b"));
    assert!(m.get("message-id").is_some());
    assert!(m.get("receipt").is_none() && m.get("ack").is_none());
    assert_eq!(m.body(), b"one");
}

#[test]
fn competing_consumers_take_turns() {
    let mut h = Harness::new();
    let (a, b) = (h.connect("1.2"), h.connect("1.2"));
    h.subscribe(a, "s", "/queue/rr", "auto");
    h.subscribe(b, "s", "/queue/rr", "auto");
    for i in 0..4 {
        h.publish(a, "/queue/rr", &i.to_string());
    }
    assert_eq!(h.bodies(a), ["0", "2"]);
    assert_eq!(h.bodies(b), ["1", "3"]);
}

#[test]
fn prefetch_limits_unacked_messages() {
    let mut h = Harness::new();
    let c = h.connect("1.2");
    let sub = [
        ("id", "s"),
        ("destination", "/queue/p"),
        ("ack", "client-individual"),
    ];
    h.cmd(
        c,
        Command::Subscribe,
        &[sub[0], sub[1], sub[2], ("prefetch-count", "1")],
    );
    h.publish(c, "/queue/p", "1");
    h.publish(c, "/queue/p", "2");
    let m = h.one(c);
    assert_eq!(m.body(), b"1");
    h.cmd(c, Command::Ack, &[("id", m.get("ack").unwrap())]);
    assert_eq!(h.bodies(c), ["2"]);
}

#[test]
fn client_ack_is_cumulative_and_the_rest_is_redelivered() {
    let mut h = Harness::new();
    let c = h.connect("1.1");
    h.subscribe(c, "s", "/queue/c", "client");
    for i in 0..3 {
        h.publish(c, "/queue/c", &i.to_string());
    }
    let out = h.output(c);
    assert_eq!(out.len(), 3);
    let (mid, sub) = (out[1].message_id().unwrap(), out[1].subscription().unwrap());
    h.cmd(
        c,
        Command::Ack,
        &[("message-id", mid), ("subscription", sub)],
    );
    h.engine.close(c, h.now);
    let d = h.connect("1.2");
    h.subscribe(d, "s", "/queue/c", "auto");
    let m = h.one(d);
    assert_eq!(m.body(), b"2");
    assert_eq!(m.get("redelivered"), Some("true"));
    assert_eq!(m.message_id(), out[2].message_id());
}

#[test]
fn client_individual_ack_and_nack() {
    let mut h = Harness::new();
    let c = h.connect("1.2");
    h.subscribe(c, "s", "/queue/i", "client-individual");
    h.publish(c, "/queue/i", "a");
    h.publish(c, "/queue/i", "b");
    let out = h.output(c);
    h.cmd(c, Command::Ack, &[("id", out[1].get("ack").unwrap())]);
    assert!(h.output(c).is_empty());
    h.cmd(c, Command::Nack, &[("id", out[0].get("ack").unwrap())]);
    let m = h.one(c);
    assert_eq!((m.body(), m.get("redelivered")), (&b"a"[..], Some("true")));
    h.cmd(c, Command::Ack, &[("id", out[0].get("ack").unwrap())]);
    h.assert_error(c, "not pending");
}

#[test]
fn transactions_hold_sends_and_acks_until_commit() {
    let mut h = Harness::new();
    let c = h.connect("1.2");
    h.subscribe(c, "s", "/queue/t", "client-individual");
    h.cmd(c, Command::Begin, &[("transaction", "t1")]);
    let send = frame(
        Command::Send,
        &[("destination", "/queue/t"), ("transaction", "t1")],
        "x",
    );
    h.send(c, send.clone());
    assert!(h.output(c).is_empty());
    h.cmd(c, Command::Commit, &[("transaction", "t1")]);
    let m = h.one(c);
    assert!(m.get("transaction").is_none());
    h.cmd(c, Command::Begin, &[("transaction", "t2")]);
    h.cmd(
        c,
        Command::Ack,
        &[("id", m.get("ack").unwrap()), ("transaction", "t2")],
    );
    let send = frame(
        Command::Send,
        &[("destination", "/queue/t"), ("transaction", "t2")],
        "y",
    );
    h.send(c, send.with_header("receipt", "r"));
    assert_eq!(h.one(c).command(), Command::Receipt);
    h.cmd(c, Command::Abort, &[("transaction", "t2")]);
    h.engine.close(c, h.now);
    let state = std::mem::replace(
        &mut h.engine,
        Engine::new(Config::default(), Stored::default()),
    );
    let stored = state.into_stored(h.now);
    assert_eq!(
        stored.queues[0].1.len(),
        1,
        "aborted ACK leaves the message queued"
    );
    assert!(stored.queues[0].1[0].redelivered);
}

#[test]
fn transaction_errors() {
    let mut h = Harness::new();
    let c = h.connect("1.2");
    h.cmd(c, Command::Begin, &[("transaction", "t")]);
    h.cmd(c, Command::Begin, &[("transaction", "t")]);
    h.assert_error(c, "already open");
    let c = h.connect("1.2");
    h.cmd(c, Command::Commit, &[("transaction", "nope")]);
    h.assert_error(c, "unknown transaction");
}

#[test]
fn topics_fan_out_and_keep_nothing() {
    let mut h = Harness::new();
    let (a, b) = (h.connect("1.2"), h.connect("1.0"));
    h.publish(a, "/topic/t", "lost");
    h.subscribe(a, "s", "/topic/t", "auto");
    h.subscribe(b, "s", "/topic/t", "auto");
    h.publish(a, "/topic/t", "hi");
    assert_eq!(h.bodies(a), ["hi"]);
    assert_eq!(h.bodies(b), ["hi"]);
}

#[test]
fn headers_are_escaped_per_version() {
    let mut h = Harness::new();
    let c = h.connect("1.1");
    h.subscribe(c, "s", "/queue/e", "auto");
    h.input(c, b"SEND\ndestination:/queue/e\nk:a\\cb\\nc\\\\\n\nx\0");
    let conn = h.engine.conn_mut(c).unwrap();
    let raw = String::from_utf8(conn.take_output()).unwrap();
    assert!(raw.contains("\nk:a\\cb\\nc\\\\\n"), "{raw:?}");
}

#[test]
fn protocol_violations_get_error_and_close() {
    type Hdrs<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Hdrs, Command, &str)] = &[
        (&[], Command::Send, "destination"),
        (&[("destination", "/queue/a")], Command::Subscribe, "id"),
        (&[("id", "x")], Command::Unsubscribe, "no such subscription"),
        (
            &[("id", "s"), ("destination", "/q"), ("ack", "bad")],
            Command::Subscribe,
            "ack mode",
        ),
        (&[], Command::Message, "server frame"),
    ];
    for (headers, command, needle) in cases {
        let mut h = Harness::new();
        let c = h.connect("1.2");
        h.cmd(c, *command, headers);
        h.assert_error(c, needle);
    }
    let mut h = Harness::new();
    let c = h.connect("1.2");
    h.subscribe(c, "s", "/queue/a", "auto");
    h.subscribe(c, "s", "/queue/b", "auto");
    h.assert_error(c, "already in use");
    let c = h.connect("1.2");
    h.input(c, b"BOGUS\n\n\0");
    h.assert_error(c, "unknown command");
}

#[test]
fn limits_are_enforced() {
    let mut cfg = Config::default();
    cfg.limits.max_body = 10;
    let mut h = Harness::with(cfg);
    let c = h.connect("1.2");
    h.publish(c, "/queue/a", "far more than ten bytes");
    h.assert_error(c, "too large");
}

#[test]
fn full_queues_refuse_sends() {
    let cfg = Config {
        max_queue_len: 2,
        ..Config::default()
    };
    let mut h = Harness::with(cfg);
    let c = h.connect("1.2");
    h.publish(c, "/queue/f", "1");
    h.publish(c, "/queue/f", "2");
    h.publish(c, "/queue/f", "3");
    h.assert_error(c, "full");
}

#[test]
fn disconnect_sends_receipt_then_closes() {
    let mut h = Harness::new();
    let c = h.connect("1.2");
    h.cmd(c, Command::Disconnect, &[("receipt", "bye")]);
    assert_eq!(h.one(c).get("receipt-id"), Some("bye"));
    assert_eq!(h.engine.conn(c).unwrap().phase, Phase::Closing);
}

#[test]
fn heart_beats_are_sent_and_silence_kills() {
    let cfg = Config {
        heart_beat: (100, 100),
        ..Config::default()
    };
    let mut h = Harness::with(cfg);
    let c = h.engine.open(h.now);
    h.cmd(
        c,
        Command::Connect,
        &[("accept-version", "1.2"), ("heart-beat", "50,50")],
    );
    h.output(c);
    let t0 = h.now;
    assert_eq!(
        h.engine.poll_timeout(),
        Some(t0 + Duration::from_millis(100))
    );
    assert!(h
        .engine
        .handle_timeout(t0 + Duration::from_millis(100))
        .is_empty());
    assert_eq!(h.engine.conn_mut(c).unwrap().take_output(), b"\n");
    h.now = t0 + Duration::from_millis(150);
    h.input(c, b"\n");
    assert!(h
        .engine
        .handle_timeout(t0 + Duration::from_millis(349))
        .is_empty());
    assert_eq!(
        h.engine.handle_timeout(t0 + Duration::from_millis(350)),
        [c]
    );
}

#[test]
fn input_may_arrive_one_byte_at_a_time() {
    let mut h = Harness::new();
    let c = h.engine.open(h.now);
    let bytes = b"CONNECT\naccept-version:1.2\n\n\0SUBSCRIBE\nid:s\ndestination:/queue/b\n\n\0\
                  SEND\ndestination:/queue/b\n\nbyte\0";
    for b in bytes {
        h.input(c, &[*b]);
    }
    let out = h.output(c);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].body(), b"byte");
}

#[test]
fn stored_state_includes_unacked_messages() {
    let mut h = Harness::new();
    let c = h.connect("1.2");
    h.subscribe(c, "s", "/queue/k", "client");
    h.publish(c, "/queue/k", "1");
    h.publish(c, "/queue/z", "2");
    let stored = h.engine.into_stored(h.now);
    let mut lens: Vec<_> = stored
        .queues
        .iter()
        .map(|(n, q)| (n.to_string(), q.len()))
        .collect();
    lens.sort();
    assert_eq!(
        lens,
        [("/queue/k".to_string(), 1), ("/queue/z".to_string(), 1)]
    );
    let mut h = Harness {
        engine: Engine::new(Config::default(), stored),
        now: h.now,
    };
    let c = h.connect("1.2");
    h.subscribe(c, "s", "/queue/z", "auto");
    assert_eq!(h.one(c).body(), b"2");
}
