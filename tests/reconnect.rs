//! Reconnect and failover with counts: every message processed, duplicates only as flagged
//! redeliveries, nothing lost.

mod peer;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use stompy::broker::Broker;
use stompy::{AckMode, Error, ReconnectPolicy, StompClient};

const T: Duration = Duration::from_secs(10);

fn patient() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .initial(Duration::from_millis(20))
        .attempts(Some(50))
}

/// A client on `addr` that reconnects on its own, with the [`patient`] policy.
fn reconnecting(addr: std::net::SocketAddr) -> StompClient {
    StompClient::builder()
        .address(addr)
        .unwrap()
        .auto_reconnect(true)
        .reconnect_policy(patient())
        .connect()
        .unwrap()
}

fn preload(addr: std::net::SocketAddr, queue: &str, range: std::ops::Range<u32>) {
    let mut p = StompClient::connect(addr).unwrap();
    for i in range {
        p.send(queue, i.to_string()).unwrap();
    }
    let r = p
        .message("/queue/unused")
        .receipt()
        .send()
        .unwrap()
        .unwrap();
    p.wait_for_receipt(&r, T).unwrap();
    p.disconnect().unwrap();
}

/// Consumes until every number in 0..total was processed, calling `fault` after each new
/// message with the count processed so far. Returns how many were processed twice.
fn consume_all(
    c: &mut StompClient,
    total: u32,
    mut fault: impl FnMut(usize, &mut StompClient),
) -> usize {
    let mut seen = HashSet::new();
    let mut duplicates = 0;
    while seen.len() < total as usize {
        let f = c.recv_timeout(T).expect("recv").expect("connection open");
        let n: u32 = f.text().unwrap().parse().unwrap();
        let is_new = seen.insert(n);
        if !is_new {
            assert!(f.is_redelivered(), "a duplicate must be flagged: {f:?}");
            duplicates += 1;
        }
        if is_new {
            fault(seen.len(), c);
        }
    }
    duplicates
}

#[test]
fn ten_thousand_messages_survive_broker_kills_and_a_restart() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let addr = broker.addr();
    let q = "/queue/survive";
    preload(addr, q, 0..10_000);
    let mut c = reconnecting(addr);
    let sub = c
        .subscription(q)
        .ack(AckMode::ClientIndividual)
        .prefetch(100)
        .subscribe()
        .unwrap();
    let mut broker = Some(broker);
    let dups = consume_all(&mut c, 10_000, |done, _| match done {
        2_000 | 4_000 => broker.as_ref().unwrap().kill_connections(),
        7_000 => {
            let state = broker.take().unwrap().shutdown_keep_state();
            broker = Some(Broker::builder().state(state).bind(addr).unwrap());
        }
        _ => {}
    });
    assert!(c.reconnect_count() >= 3, "{}", c.reconnect_count());
    assert_eq!(
        c.subscriptions()[0].id,
        sub,
        "re-subscribed with the same id"
    );
    assert!(
        dups <= 3 * 101,
        "at most the in-flight window per fault, got {dups}"
    );
    c.disconnect().unwrap();
}

#[test]
fn ten_thousand_messages_survive_failing_over_between_brokers_and_back() {
    let a = Broker::bind("127.0.0.1:0").unwrap();
    let b = Broker::bind("127.0.0.1:0").unwrap();
    let (a_addr, b_addr) = (a.addr(), b.addr());
    let q = "/queue/failover";
    preload(a_addr, q, 0..5_000);
    preload(b_addr, q, 5_000..10_000);
    let mut c = StompClient::builder()
        .addresses([a_addr, b_addr])
        .unwrap()
        .auto_reconnect(true)
        .reconnect_policy(patient())
        .connect()
        .unwrap();
    c.subscription(q)
        .ack(AckMode::ClientIndividual)
        .prefetch(50)
        .subscribe()
        .unwrap();
    let (mut a, mut b) = (Some(a), Some(b));
    let mut a_state = None;
    let mut seen = HashSet::new();
    let mut from_b = 0;
    while seen.len() < 10_000 {
        let f = c.recv_timeout(T).unwrap().unwrap();
        let n: u32 = f.text().unwrap().parse().unwrap();
        let is_new = seen.insert(n);
        assert!(
            is_new || f.is_redelivered(),
            "an unflagged duplicate: {f:?}"
        );
        from_b += usize::from(is_new && n >= 5_000);
        if seen.len() == 2_500 && a.is_some() {
            // A dies mid-stream, keeping what it stored: the client fails over to B.
            a_state = Some(a.take().unwrap().shutdown_keep_state());
        }
        if from_b == 5_000 && b.is_some() {
            // B is drained; A comes back on its port and B goes: the client fails back.
            a = Some(
                Broker::builder()
                    .state(a_state.take().unwrap())
                    .bind(a_addr)
                    .unwrap(),
            );
            b.take().unwrap().shutdown();
        }
    }
    assert_eq!(c.broker_address().unwrap().port, a_addr.port());
    assert_eq!(c.reconnect_count(), 2);
}

#[test]
fn a_transaction_open_across_a_reconnect_fails_instead_of_committing_half() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let mut c = reconnecting(broker.addr());
    c.subscription("/queue/tx-lost").subscribe().unwrap();
    let mut tx = c.transaction().unwrap();
    tx.send("/queue/tx-lost", "first half").unwrap();
    broker.kill_connections();
    // The client notices the loss on its next wait, reconnects and goes on.
    let err = tx
        .client()
        .recv_timeout(Duration::from_millis(500))
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(tx.client().reconnect_count(), 1);
    let err = tx.send("/queue/tx-lost", "second half").unwrap_err();
    assert!(matches!(err, Error::TransactionLost(_)), "{err:?}");
    assert!(matches!(tx.commit(), Err(Error::TransactionLost(_))));
    // Nothing of the transaction was delivered.
    c.message("/queue/tx-lost")
        .body("marker")
        .send_and_wait(T)
        .unwrap();
    assert_eq!(c.recv_timeout(T).unwrap().unwrap().body(), b"marker");
}

#[test]
fn without_auto_reconnect_a_lost_connection_ends_the_iteration_with_a_reason() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let mut c = StompClient::connect(broker.addr()).unwrap();
    c.subscription("/queue/x").subscribe().unwrap();
    broker.kill_connections();
    assert!((&mut c).next().is_none());
    assert!(!c.is_connected());
}

#[test]
fn kill_connections_can_be_repeated_while_clients_reconnect() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let mut c = reconnecting(broker.addr());
    // Connections killed at once, with nothing received, count as failed rounds: the
    // back-off grows, so a few are enough.
    for i in 0..10 {
        broker.kill_connections();
        c.message("/queue/k").body(format!("{i}")).send().ok();
        let _ = c.recv_timeout(Duration::from_millis(20));
    }
}

#[test]
fn a_nack_inside_a_loop_callback_is_not_followed_by_an_auto_ack() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let mut c = StompClient::connect(broker.addr()).unwrap();
    c.subscription("/queue/nack-in-loop")
        .ack(AckMode::ClientIndividual)
        .subscribe()
        .unwrap();
    c.message("/queue/nack-in-loop")
        .body("job")
        .send_and_wait(T)
        .unwrap();
    let first = c
        .loop_with(|client, frame| {
            client.nack(&frame).unwrap();
            Some(frame.is_redelivered())
        })
        .unwrap();
    assert_eq!(first, Some(false));
    // The NACK requeued it; had an ACK followed, it would be gone.
    let again = c.recv_timeout(T).unwrap().unwrap();
    assert_eq!((again.body(), again.is_redelivered()), (&b"job"[..], true));
}

#[test]
fn held_messages_from_a_lost_connection_are_not_acked_on_the_new_one() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let q = "/queue/held";
    preload(broker.addr(), q, 0..3);
    let mut c = reconnecting(broker.addr());
    c.subscription(q)
        .ack(AckMode::ClientIndividual)
        .subscribe()
        .unwrap();
    // Let all three arrive while waiting for a receipt: they are held, not yet received.
    c.message("/queue/other")
        .body("x")
        .send_and_wait(T)
        .unwrap();
    broker.kill_connections();
    // Every message comes (held ones from the old connection may come again, flagged as
    // redeliveries), and no stale ACK reaches the new connection: the broker would answer
    // it with an ERROR and close.
    let mut got = HashSet::new();
    while got.len() < 3 {
        let f = c.recv_timeout(T).unwrap().unwrap();
        got.insert(f.text().unwrap().into_owned());
    }
    // The loss shows when the client next writes: the first write into a socket the peer
    // closed may still succeed, the next one fails and reconnects (and says so).
    for _ in 0..10 {
        if c.reconnect_count() == 1 {
            break;
        }
        let _ = c.message("/queue/other").body("y").send();
    }
    assert_eq!(c.reconnect_count(), 1);
    c.message("/queue/other")
        .body("z")
        .send_and_wait(T)
        .unwrap();
}

/// A broker that answers every CONNECT with CONNECTED and closes the connection at once;
/// returns its address and how many connections it accepted so far.
fn closing_right_after_connected() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(mut sock) = sock else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf);
            let _ = sock.write_all(b"CONNECTED\nversion:1.2\n\n\0");
        }
    });
    (addr, accepted)
}

#[test]
fn a_broker_that_closes_right_after_connected_is_not_reconnected_to_in_a_tight_loop() {
    // Each such drop counts as a failed round: the back-off grows as after failed rounds.
    let (addr, accepted) = closing_right_after_connected();
    let mut c = StompClient::builder()
        .address(addr)
        .unwrap()
        .auto_reconnect(true)
        .connect()
        .unwrap();
    let end = c.recv_timeout(Duration::from_secs(3));
    assert!(matches!(end, Err(Error::Timeout(_))), "{end:?}");
    let n = accepted.load(Ordering::SeqCst);
    assert!(n <= 10, "{n} connections in 3 s: the back-off grows");
    // With a give-up time, the client gives up and says why.
    let (addr, _) = closing_right_after_connected();
    let policy = patient().give_up_after(Some(Duration::from_millis(500)));
    let mut c = StompClient::builder()
        .address(addr)
        .unwrap()
        .auto_reconnect(true)
        .reconnect_policy(policy)
        .connect()
        .unwrap();
    let end = c.recv_timeout(Duration::from_secs(10));
    assert!(matches!(end, Err(Error::ConnectFailed { .. })), "{end:?}");
    assert!(!c.is_connected() && !c.is_reconnecting());
    assert!(c.close_reason().is_some());
}

#[test]
fn recv_timeout_holds_against_a_broker_that_closes_right_after_connected() {
    let mut c = reconnecting(closing_right_after_connected().0);
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let err = c.recv_timeout(Duration::from_millis(200)).unwrap_err();
        let took = start.elapsed();
        assert!(matches!(err, Error::Timeout(_)), "{err:?}");
        assert!(took < Duration::from_millis(300), "{took:?}");
    }
    assert!(c.reconnect_count() > 0);
}

#[test]
fn a_connection_lost_on_the_auto_ack_after_a_loop_callback_is_re_established() {
    use peer::{connected, write, Peer, Step};
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    preload(broker.addr(), "/queue/a", 0..1);
    // The first broker delivers one message and resets the connection while the callback
    // runs: the auto-ACK due when it returns is the write that finds the connection gone.
    let first = Peer::start(vec![
        Step::Read,
        connected("1.2", "0,0"),
        Step::Read, // SUBSCRIBE
        write("MESSAGE\ndestination:/queue/a\nmessage-id:m\nsubscription:sub-1\nack:a\n\nfirst\0"),
        Step::Reset,
    ]);
    let mut c = StompClient::builder()
        .addresses([first.addr, broker.addr()])
        .unwrap()
        .auto_reconnect(true)
        .reconnect_policy(patient())
        .connect()
        .unwrap();
    c.subscription("/queue/a")
        .id("sub-1")
        .ack(AckMode::ClientIndividual)
        .subscribe()
        .unwrap();
    let mut first = Some(first);
    let mut bodies = Vec::new();
    let out = c
        .loop_with(|_, frame| {
            if let Some(peer) = first.take() {
                peer.frames(); // the reset is done
            }
            bodies.push(frame.text().unwrap().into_owned());
            (bodies.len() == 2).then_some(())
        })
        .expect("the loop goes on over the new connection");
    assert_eq!(out, Some(()));
    assert_eq!(bodies, ["first", "0"]);
    assert_eq!(c.reconnect_count(), 1);
}

#[test]
fn a_reconnect_that_fails_right_after_connected_leaves_the_client_disconnected() {
    use peer::{connected, Peer, Step};
    let first = Peer::start(vec![
        Step::Read,
        connected("1.2", "0,0"),
        Step::Read, // SUBSCRIBE
        Step::Close,
    ]);
    // Answers CONNECT and resets at once: re-subscribing finds the connection gone.
    let second = Peer::start(vec![Step::Read, connected("1.2", "0,0"), Step::Reset]);
    let mut c = StompClient::builder()
        .addresses([first.addr, second.addr])
        .unwrap()
        .connected_timeout(Duration::from_secs(1))
        .auto_reconnect(true)
        .reconnect_policy(ReconnectPolicy::once())
        .connect()
        .unwrap();
    c.subscribe("/queue/a", AckMode::Client).unwrap();
    let _ = c.recv_timeout(T);
    second.frames();
    assert!(c.close_reason().is_some());
    assert!(!c.is_connected(), "{:?}", c.close_reason());
    assert!(matches!(
        c.send("/queue/a", "x"),
        Err(Error::NotConnected(_))
    ));
}
