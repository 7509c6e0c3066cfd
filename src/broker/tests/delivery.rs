//! Queues, topics, acknowledgements, transactions, flow control and stored state.

use std::time::Duration;

use super::{frame, Harness};
use crate::broker::engine::{Config, Engine, Stored};
use crate::frame::Command;

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
fn full_queues_pause_their_producer() {
    let cfg = Config {
        max_queue_len: 2,
        ..Config::default()
    };
    let mut h = Harness::with(cfg);
    let c = h.connect("1.2");
    h.publish(c, "/queue/f", "1");
    assert!(h.engine.may_read(c));
    h.publish(c, "/queue/f", "2");
    assert!(!h.engine.may_read(c), "a full queue pauses its producer");
    assert!(h
        .engine
        .handle_timeout(h.now + Duration::from_secs(60))
        .is_empty());
    h.publish(c, "/queue/f", "3");
    h.send(
        c,
        frame(
            Command::Send,
            &[("destination", "/queue/f"), ("receipt", "r")],
            "4",
        ),
    );
    assert!(h.output(c).is_empty(), "frames wait in the decoder");
    let d = h.connect("1.2");
    h.subscribe(d, "s", "/queue/f", "auto");
    assert_eq!(h.bodies(d), ["1", "2"]);
    assert_eq!(h.engine.unblocked(), [c]);
    h.engine.process(c, h.now);
    assert_eq!(h.bodies(d), ["3", "4"]);
    assert_eq!(h.one(c).get("receipt-id"), Some("r"));
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
