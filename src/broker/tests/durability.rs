//! Persistent messages with a data directory: what reaches the store and when, receipts held
//! until the commit, recovery.

use super::*;
use crate::broker::store::Store;

fn persistent(dest: &str, body: &str, receipt: Option<&str>) -> Frame {
    let mut f = frame(
        Command::Send,
        &[("destination", dest), ("persistent", "true")],
        body,
    );
    if let Some(r) = receipt {
        f = f.with_header("receipt", r);
    }
    f
}

/// The bodies the store in `dir` holds, oldest first (the engine must be gone).
fn on_disk(dir: &Path) -> Vec<String> {
    let opened = Store::open(dir).unwrap();
    let text = |(_, m): &(u64, crate::broker::queue::Message)| {
        String::from_utf8_lossy(&m.body).into_owned()
    };
    opened.messages.iter().map(text).collect()
}

/// Stops the harness's engine (closing its store) and returns what it held.
fn stop(h: Harness) -> Stored {
    h.engine.into_stored(h.now)
}

#[test]
fn a_receipt_waits_for_the_commit_of_its_turn() {
    let dir = TempDir::new("receipt");
    let mut h = Harness::durable(&dir.0, Stored::default());
    let c = h.connect("1.2");
    h.send(c, persistent("/queue/p", "1", Some("r1")));
    h.send(c, persistent("/queue/p", "2", Some("r2")));
    assert!(
        h.engine.needs_commit(),
        "nothing is written before the commit"
    );
    assert!(
        h.engine.conn(c).unwrap().pending_output() > 0,
        "the receipts are queued, held"
    );
    // Harness::output commits first, as the server does before writing.
    let out = h.output(c);
    let ids: Vec<_> = out.iter().map(|f| f.get("receipt-id").unwrap()).collect();
    assert_eq!(ids, ["r1", "r2"]);
    assert!(!h.engine.needs_commit());
    stop(h);
    assert_eq!(on_disk(&dir.0), ["1", "2"]);
}

#[test]
fn only_persistent_queue_messages_are_stored() {
    let dir = TempDir::new("which");
    let mut h = Harness::durable(&dir.0, Stored::default());
    let c = h.connect("1.2");
    h.publish(c, "/queue/p", "transient");
    h.send(c, persistent("/topic/t", "topic", None));
    h.send(c, persistent("plain-name", "queue too", None));
    h.send(
        c,
        frame(
            Command::Send,
            &[("destination", "/queue/p"), ("persistent", "false")],
            "no",
        ),
    );
    assert!(h.engine.needs_commit());
    h.output(c);
    stop(h);
    assert_eq!(on_disk(&dir.0), ["queue too"]);
}

#[test]
fn acks_remove_and_nacks_keep() {
    let dir = TempDir::new("acks");
    let mut h = Harness::durable(&dir.0, Stored::default());
    let p = h.connect("1.2");
    for i in 0..6 {
        h.send(p, persistent("/queue/a", &i.to_string(), None));
    }
    h.output(p);
    let ci = h.connect("1.2");
    h.cmd(
        ci,
        Command::Subscribe,
        &[
            ("id", "s"),
            ("destination", "/queue/a"),
            ("ack", "client-individual"),
            ("prefetch-count", "3"),
        ],
    );
    let got = h.output(ci);
    assert_eq!(got.len(), 3);
    let ack = |f: &Frame| f.get("ack").unwrap().to_owned();
    // ACK 1 with a receipt, NACK 0: 0 comes back, 1 is gone.
    h.cmd(
        ci,
        Command::Ack,
        &[("id", &ack(&got[1])), ("receipt", "a1")],
    );
    assert!(h.engine.needs_commit(), "the ACK waits for the commit");
    h.cmd(ci, Command::Nack, &[("id", &ack(&got[0]))]);
    let out = h.output(ci);
    assert_eq!(out[0].get("receipt-id"), Some("a1"));
    h.engine.close(ci, h.now);
    // A client-mode ACK takes every earlier delivery with it.
    let cc = h.connect("1.2");
    h.subscribe(cc, "s", "/queue/a", "client");
    let got = h.output(cc);
    let text = |f: &Frame| String::from_utf8_lossy(f.body()).into_owned();
    let mut bodies: Vec<_> = got.iter().map(text).collect();
    bodies.sort();
    assert_eq!(bodies, ["0", "2", "3", "4", "5"]);
    h.cmd(
        cc,
        Command::Ack,
        &[("id", &ack(&got[2])), ("receipt", "a2")],
    );
    assert_eq!(h.one(cc).get("receipt-id"), Some("a2"));
    stop(h);
    let mut left: Vec<_> = got[3..].iter().map(text).collect();
    left.sort();
    assert_eq!(on_disk(&dir.0), left, "the store keeps its own order");
}

#[test]
fn auto_mode_delivery_consumes_and_a_same_turn_round_trip_never_reaches_the_file() {
    let dir = TempDir::new("auto");
    let mut h = Harness::durable(&dir.0, Stored::default());
    let c = h.connect("1.2");
    h.send(c, persistent("/queue/x", "early", None));
    h.output(c);
    h.subscribe(c, "s", "/queue/x", "auto");
    h.send(c, persistent("/queue/x", "late", Some("r")));
    // Put and removed in the same turn: nothing to write, the commit is only the release.
    let out = h.output(c);
    let kinds: Vec<_> = out.iter().map(|f| f.command()).collect();
    assert_eq!(
        kinds,
        [Command::Message, Command::Receipt, Command::Message],
        "{out:?}"
    );
    stop(h);
    assert!(on_disk(&dir.0).is_empty());
}

#[test]
fn transactions_store_at_commit() {
    let dir = TempDir::new("tx");
    let mut h = Harness::durable(&dir.0, Stored::default());
    let c = h.connect("1.2");
    h.cmd(c, Command::Begin, &[("transaction", "t")]);
    h.send(
        c,
        persistent("/queue/t", "in tx", None).with_header("transaction", "t"),
    );
    h.send(c, persistent("/queue/t", "outside", None));
    h.output(c);
    h.cmd(c, Command::Begin, &[("transaction", "u")]);
    h.send(
        c,
        persistent("/queue/t", "aborted", None).with_header("transaction", "u"),
    );
    h.cmd(c, Command::Abort, &[("transaction", "u")]);
    assert!(!h.engine.needs_commit());
    h.cmd(
        c,
        Command::Commit,
        &[("transaction", "t"), ("receipt", "c")],
    );
    assert!(h.engine.needs_commit());
    assert_eq!(h.one(c).get("receipt-id"), Some("c"));
    stop(h);
    // Queue order: the transaction's message entered its queue at COMMIT.
    assert_eq!(on_disk(&dir.0), ["outside", "in tx"]);
}

#[test]
fn a_failed_commit_sends_an_error_instead_of_the_receipt() {
    let dir = TempDir::new("fail");
    let mut h = Harness::durable(&dir.0, Stored::default());
    let bystander = h.connect("1.2");
    h.subscribe(bystander, "s", "/queue/other", "auto");
    let c = h.connect("1.2");
    h.send(c, persistent("/queue/f", "lost", Some("r")));
    h.engine.durable.as_mut().unwrap().fail_next = Some("disk full".into());
    let out = h.output(c);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].command(), Command::Error);
    assert!(out[0].get("message").unwrap().contains("disk full"));
    assert_eq!(h.engine.conn(c).unwrap().phase, Phase::Closing);
    assert_eq!(h.engine.conn(bystander).unwrap().phase, Phase::Open);
    // The store goes on working for later turns.
    h.send(bystander, persistent("/queue/g", "kept", Some("r2")));
    assert_eq!(h.one(bystander).get("receipt-id"), Some("r2"));
    stop(h);
    assert_eq!(on_disk(&dir.0), ["kept"]);
}

#[test]
fn a_restart_brings_back_unacked_messages_in_order() {
    let dir = TempDir::new("restart");
    let mut h = Harness::durable(&dir.0, Stored::default());
    let c = h.connect("1.2");
    for i in 0..5 {
        h.send(c, persistent("/queue/r", &format!("m{i}"), None));
    }
    h.publish(c, "/queue/r", "transient");
    h.subscribe(c, "s", "/queue/r", "client-individual");
    let got = h.output(c);
    h.cmd(c, Command::Ack, &[("id", got[1].get("ack").unwrap())]);
    h.output(c);
    let last_id: u64 = got[4].get("message-id").unwrap().parse().unwrap();
    // The engine goes away without `into_stored`: only the store is left.
    drop(h);
    let mut h = Harness::durable(&dir.0, Stored::default());
    let c = h.connect("1.2");
    h.subscribe(c, "s", "/queue/r", "auto");
    let got = h.output(c);
    let bodies: Vec<_> = got.iter().map(|f| f.body().to_vec()).collect();
    assert_eq!(bodies, [b"m0", b"m2", b"m3", b"m4"].map(|b| b.to_vec()));
    assert!(got.iter().all(|f| f.get("redelivered") == Some("true")));
    assert_eq!(got[3].get("message-id").unwrap(), last_id.to_string());
    h.publish(c, "/queue/r", "new");
    let m = h.one(c);
    let id: u64 = m.get("message-id").unwrap().parse().unwrap();
    assert!(id > last_id, "message ids stay unique after a restart");
    stop(h);
    assert!(on_disk(&dir.0).is_empty(), "auto delivery consumed them");
}

#[test]
fn a_handover_on_the_same_directory_counts_nothing_twice() {
    let dir = TempDir::new("handover");
    let mut h = Harness::durable(&dir.0, Stored::default());
    let c = h.connect("1.2");
    h.send(c, persistent("/queue/h", "p1", None));
    h.publish(c, "/queue/h", "t1");
    h.send(c, persistent("/queue/h", "p2", None));
    h.output(c);
    let state = stop(h);
    let mut h = Harness::durable(&dir.0, state);
    let c = h.connect("1.2");
    h.subscribe(c, "s", "/queue/h", "client");
    assert_eq!(h.bodies(c), ["p1", "t1", "p2"]);
    stop(h);
    assert_eq!(on_disk(&dir.0), ["p1", "p2"]);
}

#[test]
fn a_handover_through_a_broker_without_a_directory() {
    let dir = TempDir::new("chain");
    let mut h = Harness::durable(&dir.0, Stored::default());
    let c = h.connect("1.2");
    h.send(c, persistent("/queue/c", "p1", None));
    h.send(c, persistent("/queue/c", "p2", None));
    h.output(c);
    let state = stop(h);
    // A broker without a data directory consumes p1 and takes p3.
    let mut h = Harness {
        engine: Engine::new(Config::default(), state),
        now: Instant::now(),
    };
    let c = h.connect("1.2");
    h.subscribe(c, "s", "/queue/c", "client-individual");
    let got = h.output(c);
    assert_eq!(got.len(), 2);
    h.cmd(c, Command::Ack, &[("id", got[0].get("ack").unwrap())]);
    h.engine.close(c, h.now);
    let c = h.connect("1.2");
    h.send(c, persistent("/queue/c", "p3", None));
    let state = stop(h);
    // Back on the directory: p2 and p3; p1 was consumed meanwhile.
    let mut h = Harness::durable(&dir.0, state);
    let c = h.connect("1.2");
    h.subscribe(c, "s", "/queue/c", "client");
    assert_eq!(h.bodies(c), ["p2", "p3"]);
    stop(h);
    assert_eq!(on_disk(&dir.0), ["p2", "p3"]);
}
