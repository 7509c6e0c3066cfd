//! Connecting, negotiation, heart-beats and protocol errors.

use std::time::Duration;

use super::Harness;
use crate::broker::conn::Phase;
use crate::broker::engine::Config;
use crate::broker::handle::heart_beat_answer;
use crate::frame::{Command, Version};

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
    assert_eq!(c.get("heart-beat"), Some("0,0"), "none asked, none given");
    let id = h.engine.open(h.now);
    h.cmd(id, Command::Connect, &[("heart-beat", "500,500")]);
    let c = h.one(id);
    assert_eq!(c.get("version"), Some("1.0"));
    assert_eq!(c.get("heart-beat"), None, "STOMP 1.0 has no heart-beats");
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
fn disconnect_sends_receipt_then_closes() {
    let mut h = Harness::new();
    let c = h.connect("1.2");
    h.cmd(c, Command::Disconnect, &[("receipt", "bye")]);
    assert_eq!(h.one(c).get("receipt-id"), Some("bye"));
    assert_eq!(h.engine.conn(c).unwrap().phase, Phase::Closing);
}

#[test]
fn the_heart_beat_answer_follows_the_client_within_floor_and_ceiling() {
    let limits = (100, 60_000);
    let cases = [
        ((0, 0), (0, 0)),           // none asked: none given
        ((500, 500), (500, 500)),   // as asked
        ((5000, 100), (100, 5000)), // sends at the client's wish, expects at its promise
        ((1, 0), (0, 100)),         // below the floor
        ((0, 3_600_000), (60_000, 0)),
    ];
    for (client, want) in cases {
        assert_eq!(heart_beat_answer(client, limits), want, "{client:?}");
    }
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
fn bytes_do_not_put_off_a_connects_deadline() {
    let mut h = Harness::new();
    let c = h.engine.open(h.now);
    let t0 = h.now;
    assert_eq!(h.engine.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    h.now = t0 + Duration::from_secs(9);
    h.input(c, b"CONNECT\naccept-version:1.2\n");
    assert!(h
        .engine
        .handle_timeout(t0 + Duration::from_millis(9_999))
        .is_empty());
    assert_eq!(h.engine.handle_timeout(t0 + Duration::from_secs(10)), [c]);
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
