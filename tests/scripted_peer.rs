//! The client against a scripted peer: what real brokers will not do on demand.

mod peer;

use std::time::{Duration, Instant};

use peer::{assert_heart_beat_timeout, assert_no_receipt_within, connected, write, Peer, Step};
use stompy::{AckMode, Command, Error, Limits, ProtocolError, StompClient, Timeout};

const MSG: &str = "MESSAGE\ndestination:/queue/a\nmessage-id:1\nsubscription:sub-1\n\nhello\0";

fn client(peer: &Peer) -> StompClient {
    StompClient::builder()
        .address(peer.addr)
        .unwrap()
        .connected_timeout(Duration::from_secs(5))
        .connect()
        .expect("connect to scripted peer")
}

fn subscribed(peer: &Peer) -> StompClient {
    let mut c = client(peer);
    c.subscription("/queue/a").id("sub-1").subscribe().unwrap();
    c
}

/// A peer announcing 200 ms heart-beats that beats once after `first` and then stays silent
/// for `then`, and a client that expects its beats.
fn one_beat_after(first: Duration, then: Duration) -> (Peer, StompClient) {
    let peer = Peer::heart_beat_then(
        "200,0",
        vec![Step::Silence(first), write("\n"), Step::Silence(then)],
    );
    let c = StompClient::builder()
        .address(peer.addr)
        .unwrap()
        .heart_beat(Duration::ZERO, Duration::from_millis(200))
        .connect()
        .unwrap();
    (peer, c)
}

#[test]
fn error_mid_stream_is_an_error_then_close_is_clean_with_reason() {
    let peer = Peer::connected_then(vec![
        Step::Read,
        write(MSG),
        write("ERROR\nmessage:boom\ncontent-type:text/plain\n\nthe details\0"),
        Step::Close,
    ]);
    let mut c = subscribed(&peer);
    assert_eq!(c.recv().unwrap().unwrap().body(), b"hello");
    let err = c.recv().unwrap_err();
    let b = err.broker_error().expect("broker error");
    assert_eq!(
        (b.message.as_str(), b.body.as_str()),
        ("boom", "the details")
    );
    assert!(c.recv().unwrap().is_none());
    assert_eq!(
        c.close_reason()
            .and_then(|e| e.broker_error())
            .map(|b| b.message.as_str()),
        Some("boom")
    );
}

#[test]
fn close_in_the_middle_of_a_frame_is_a_truncation_error() {
    let peer = Peer::connected_then(vec![
        Step::Read,
        write("MESSAGE\ndestination:/queue/a\nsubscription:sub-1\n\nhal"),
        Step::Close,
    ]);
    let mut c = subscribed(&peer);
    match c.recv() {
        Err(Error::Protocol(ProtocolError::Truncated(n))) => assert!(n > 0),
        other => panic!("expected truncation, got {other:?}"),
    }
    assert!(!c.is_connected());
    assert!(
        c.recv().unwrap().is_none(),
        "a failed connection then reads as closed"
    );
}

#[test]
fn close_between_frames_ends_iteration_and_says_the_broker_closed() {
    let peer = Peer::connected_then(vec![Step::Read, write(MSG), write(MSG), Step::Close]);
    let mut c = subscribed(&peer);
    let n = (&mut c).count();
    assert_eq!(n, 2);
    // Not a clean close: the client never sent DISCONNECT.
    assert!(matches!(c.close_reason(), Some(Error::ConnectionClosed)));
}

#[test]
fn silent_broker_is_a_heart_beat_timeout_within_interval_times_scale() {
    let (_peer, mut c) = one_beat_after(Duration::from_millis(250), Duration::from_secs(5));
    let connected_at = Instant::now();
    // The beat at 250 ms keeps the connection alive past the first deadline...
    let err = c.recv_timeout(Duration::from_millis(350)).unwrap_err();
    assert!(matches!(err, Error::Timeout(Timeout::Recv(_))), "{err:?}");
    // ...and silence after it is fatal 200 ms × 1.5 = 300 ms later (at ~550 ms).
    let err = c.recv().unwrap_err();
    let took = connected_at.elapsed();
    assert_heart_beat_timeout(&err);
    assert!(
        took >= Duration::from_millis(540) && took < Duration::from_millis(700),
        "{took:?}"
    );
}

#[test]
fn the_first_beat_may_come_one_interval_late() {
    // ActiveMQ sends its first heart-beat 2 × n after CONNECTED.
    let (_peer, mut c) = one_beat_after(Duration::from_millis(400), Duration::from_secs(3));
    let start = Instant::now();
    let err = c.recv().unwrap_err();
    assert_heart_beat_timeout(&err);
    assert!(
        start.elapsed() >= Duration::from_millis(600),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn heart_beats_are_sent_when_the_client_waits() {
    let peer = Peer::heart_beat_then("0,100", vec![Step::ReadUntilClosed]);
    let mut c = StompClient::builder()
        .address(peer.addr)
        .unwrap()
        .heart_beat(Duration::from_millis(100), Duration::ZERO)
        .disconnect_timeout(Duration::from_millis(1))
        .connect()
        .unwrap();
    assert_eq!(c.heart_beat().0, Some(Duration::from_millis(100)));
    // recv_timeout drives the clock: heart-beats flow while the client waits.
    let err = c.recv_timeout(Duration::from_millis(350)).unwrap_err();
    assert!(matches!(err, Error::Timeout(Timeout::Recv(_))));
    assert!(
        c.is_connected(),
        "a receive timeout leaves the connection usable"
    );
    drop(c);
    let (frames, beats) = peer.finish();
    assert_eq!(frames.len(), 2, "CONNECT and DISCONNECT");
    assert!(
        (2..=4).contains(&beats),
        "about one heart-beat per 100 ms in 350 ms, saw {beats}"
    );
}

#[test]
fn frames_arriving_during_a_receipt_wait_are_kept_in_order() {
    let peer = Peer::connected_then(vec![
        Step::Read, // SUBSCRIBE
        Step::Read, // SEND with receipt
        write(MSG.replace("hello", "one")),
        write(MSG.replace("hello", "two")),
        write("RECEIPT\nreceipt-id:r-1\n\n\0"),
        write(MSG.replace("hello", "three")),
        Step::Silence(Duration::from_secs(2)),
    ]);
    let mut c = subscribed(&peer);
    let r = c
        .message("/queue/b")
        .body("x")
        .receipt_id("r-1")
        .send()
        .unwrap()
        .unwrap();
    c.wait_for_receipt(&r, Duration::from_secs(5)).unwrap();
    let bodies: Vec<_> = (0..3)
        .map(|_| c.recv().unwrap().unwrap().into_body())
        .collect();
    assert_eq!(
        bodies,
        [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
    );
}

#[test]
fn a_receipt_that_never_comes_is_a_receipt_timeout() {
    let peer = Peer::connected_then(vec![Step::Read, Step::Silence(Duration::from_secs(2))]);
    let mut c = client(&peer);
    let r = c.message("/queue/b").receipt().send().unwrap().unwrap();
    assert_no_receipt_within(&mut c, &r, Duration::from_millis(200));
}

#[test]
fn an_error_while_waiting_for_a_receipt_is_an_error() {
    let peer = Peer::connected_then(vec![
        Step::Read,
        write("ERROR\nmessage:no such queue\nreceipt-id:r-9\n\n\0"),
        Step::Silence(Duration::from_secs(2)),
    ]);
    let mut c = client(&peer);
    c.message("/queue/b").receipt_id("r-9").send().unwrap();
    let err = c
        .wait_for_receipt("r-9", Duration::from_secs(5))
        .unwrap_err();
    let b = err.broker_error().expect("broker error");
    assert_eq!(b.receipt_id.as_deref(), Some("r-9"));
}

#[test]
fn receipts_never_reach_a_consumer_loop() {
    let peer = Peer::connected_then(vec![
        Step::Read,
        write("RECEIPT\nreceipt-id:whatever\n\n\0"),
        write(MSG),
        Step::Close,
    ]);
    let mut c = subscribed(&peer);
    let frames: Vec<_> = (&mut c).collect();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].command(), Command::Message);
}

#[test]
fn failover_skips_a_dead_address_and_one_that_refuses_connect() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let refusing = Peer::start(vec![
        Step::Read,
        write("ERROR\nmessage:go away\n\n\0"),
        Step::Close,
    ]);
    let good = Peer::start(vec![
        Step::Read,
        connected("1.1", "0,0"),
        Step::ReadUntilClosed,
    ]);
    let mut c = StompClient::builder()
        .addresses([dead_addr, refusing.addr, good.addr])
        .unwrap()
        .disconnect_timeout(Duration::from_millis(200))
        .connect()
        .unwrap();
    assert_eq!(c.broker_address().unwrap().port, good.addr.port());
    assert_eq!(c.version(), stompy::Version::V1_1);
    // The peer never answers receipts: the bounded wait says so, and the socket is closed.
    assert!(matches!(
        c.disconnect(),
        Err(Error::Timeout(Timeout::Receipt(_)))
    ));
    assert!(!c.is_connected());
    let seen = good.frames();
    assert_eq!(seen.last().map(|f| f.command()), Some(Command::Disconnect));
}

#[test]
fn a_refused_login_everywhere_is_reported_as_the_broker_said() {
    let a = Peer::start(vec![
        Step::Read,
        write("ERROR\nmessage:bad login\n\n\0"),
        Step::Close,
    ]);
    let err = StompClient::connect(a.addr).unwrap_err();
    assert_eq!(
        err.broker_error().map(|b| b.message.as_str()),
        Some("bad login")
    );
}

#[test]
fn connect_frame_carries_versions_host_login_and_heart_beat() {
    let peer = Peer::connected_then(vec![Step::ReadUntilClosed]);
    let c = StompClient::builder()
        .address(peer.addr)
        .unwrap()
        .login("u", "p")
        .host("/vh")
        .heart_beat(Duration::from_millis(1500), Duration::from_millis(2500))
        .header("client-id", "me")
        .use_stomp_command(true)
        .connect()
        .unwrap();
    drop(c);
    let frames = peer.frames();
    let f = &frames[0];
    assert_eq!(f.command(), Command::Stomp);
    assert_eq!(f.get("accept-version"), Some("1.0,1.1,1.2"));
    assert_eq!(f.get("host"), Some("/vh"));
    assert_eq!((f.get("login"), f.get("passcode")), (Some("u"), Some("p")));
    assert_eq!(f.get("heart-beat"), Some("1500,2500"));
    assert_eq!(f.get("client-id"), Some("me"));
    assert_eq!(
        frames.last().unwrap().command(),
        Command::Disconnect,
        "drop disconnects"
    );
}

#[test]
fn the_overall_connect_deadline_bounds_every_address_and_round() {
    let a = Peer::start(vec![Step::Read, Step::Silence(Duration::from_secs(3))]);
    let b = Peer::start(vec![Step::Read, Step::Silence(Duration::from_secs(3))]);
    let start = Instant::now();
    let err = StompClient::builder()
        .addresses([a.addr, b.addr])
        .unwrap()
        .connected_timeout(Duration::from_secs(10))
        .connect_total_timeout(Duration::from_millis(300))
        .connect()
        .unwrap_err();
    let took = start.elapsed();
    assert!(
        err.is_timeout() || matches!(&err, Error::ConnectFailed { last, .. } if last.is_timeout()),
        "{err:?}"
    );
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_millis(800),
        "{took:?}"
    );
}

#[test]
fn the_overall_connect_deadline_passing_during_the_back_off_is_an_error_not_a_panic() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = dead.local_addr().unwrap();
    drop(dead);
    let policy = stompy::ReconnectPolicy::default()
        .initial(Duration::from_millis(1))
        .jitter(0.0)
        .attempts(Some(5));
    // Deadlines a little past the first back-off: with some of them, the sleep overruns the
    // deadline and the next round starts out of time, before trying any address.
    for micros in (1000..3000).step_by(5) {
        let err = StompClient::builder()
            .address(addr)
            .unwrap()
            .reconnect_policy(policy)
            .connect_total_timeout(Duration::from_micros(micros))
            .connect()
            .unwrap_err();
        assert!(
            matches!(&err, Error::Io(_) | Error::ConnectFailed { .. }),
            "{err:?}"
        );
    }
}

/// A STOMP 1.0 broker that omits `subscription` on its MESSAGEs, to a client with `subs`
/// subscriptions to their destination: the first message is auto-ACKed when the second is
/// asked for (a 1.0 ACK needs only the `message-id`).
fn check_1_0_auto_ack_without_subscription_header(subs: usize) {
    let mut steps = vec![Step::Read, connected("1.0", "0,0")];
    steps.extend((0..subs).map(|_| Step::Read)); // SUBSCRIBE
    steps.extend([
        write("MESSAGE\ndestination:/queue/a\nmessage-id:m-1\n\none\0"),
        write("MESSAGE\ndestination:/queue/a\nmessage-id:m-2\n\ntwo\0"),
        Step::Read, // the ACK of m-1
        Step::Close,
    ]);
    let peer = Peer::start(steps);
    let mut c = StompClient::builder()
        .address(peer.addr)
        .unwrap()
        .versions([stompy::Version::V1_0])
        .connect()
        .unwrap();
    for _ in 0..subs {
        c.subscribe("/queue/a", AckMode::Client).unwrap();
    }
    assert_eq!(c.recv().unwrap().unwrap().body(), b"one");
    assert_eq!(c.recv().unwrap().unwrap().body(), b"two");
    drop(c); // a missing ACK makes the DISCONNECT the last frame
    let frames = peer.frames();
    let ack = frames.last().unwrap();
    assert_eq!(ack.command(), Command::Ack, "{subs} subscriptions");
    assert_eq!(ack.get("message-id"), Some("m-1"));
}

#[test]
fn a_1_0_message_without_subscription_header_is_still_auto_acked() {
    check_1_0_auto_ack_without_subscription_header(1);
}

#[test]
fn a_1_0_message_without_subscription_header_is_auto_acked_with_two_subscriptions_there() {
    check_1_0_auto_ack_without_subscription_header(2);
}

#[test]
fn a_flood_during_a_receipt_wait_is_a_backlog_error_not_unbounded_memory() {
    let big = format!(
        "MESSAGE\ndestination:/queue/a\nmessage-id:1\nsubscription:sub-1\n\n{}\0",
        "x".repeat(1024 * 1024)
    );
    let mut steps = vec![Step::Read, Step::Read]; // SUBSCRIBE, SEND with receipt
    steps.extend((0..80).map(|_| write(&big)));
    steps.push(Step::Silence(Duration::from_secs(5)));
    let peer = Peer::connected_then(steps);
    let mut c = StompClient::builder()
        .address(peer.addr)
        .unwrap()
        .limits(Limits::default().max_body(2 * 1024 * 1024))
        .connect()
        .unwrap();
    c.subscription("/queue/a").id("sub-1").subscribe().unwrap();
    let r = c.message("/queue/b").receipt().send().unwrap().unwrap();
    match c.wait_for_receipt(&r, Duration::from_secs(10)) {
        Err(Error::Protocol(ProtocolError::Backlog { bytes, max })) => {
            assert!(
                bytes > max && bytes < max + 2 * 1024 * 1024,
                "{bytes} {max}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(c.is_connected(), "a backlog is not fatal");
    assert_eq!(
        c.recv().unwrap().unwrap().body().len(),
        1024 * 1024,
        "the frames are kept"
    );
}

#[test]
fn frames_received_before_a_failed_write_are_still_delivered() {
    let three: String = ["one", "two", "three"]
        .iter()
        .map(|b| MSG.replace("hello", b))
        .collect();
    // One write: the client reads all three at once, then the peer resets the connection.
    let peer = Peer::connected_then(vec![Step::Read, write(three), Step::Read, Step::Reset]);
    let mut c = subscribed(&peer);
    let stats = stompy::StatsListener::new();
    c.add_listener("stats", stats.clone());
    assert_eq!(c.recv().unwrap().unwrap().body(), b"one");
    c.send("/queue/b", "seen one").unwrap();
    peer.frames(); // the reset is done
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = loop {
        match c.send("/queue/b", "x") {
            Err(e) => break e,
            Ok(()) => assert!(Instant::now() < deadline, "sends never failed"),
        }
    };
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    // The two messages the client had read before the failure are not lost with it.
    assert_eq!(c.recv().unwrap().unwrap().body(), b"two");
    assert_eq!(c.recv().unwrap().unwrap().body(), b"three");
    assert!(c.recv().unwrap().is_none());
    assert!(matches!(c.close_reason(), Some(Error::Io(_))));
    let received = stats.stats().received.get(&Command::Message).copied();
    assert_eq!(received, Some(3), "listeners see the kept frames too");
}

#[test]
fn frames_received_before_a_failed_heart_beat_come_before_the_error() {
    let three: String = ["one", "two", "three"]
        .iter()
        .map(|b| MSG.replace("hello", b))
        .collect();
    let peer = Peer::heart_beat_then(
        "0,100",
        vec![Step::Read, write(three), Step::Read, Step::Reset],
    );
    let mut c = StompClient::builder()
        .address(peer.addr)
        .unwrap()
        .heart_beat(Duration::from_millis(100), Duration::ZERO)
        .connect()
        .unwrap();
    c.subscription("/queue/a").id("sub-1").subscribe().unwrap();
    assert_eq!(c.recv().unwrap().unwrap().body(), b"one");
    c.send("/queue/b", "seen one").unwrap();
    peer.frames(); // the reset is done
                   // Work for longer than the heart-beat interval: the next call writes a heart-beat first.
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(c.recv().unwrap().unwrap().body(), b"two");
    assert_eq!(c.recv().unwrap().unwrap().body(), b"three");
    assert!(matches!(c.recv(), Err(Error::Io(_))));
    assert!(matches!(c.close_reason(), Some(Error::Io(_))));
    assert!(c.recv().unwrap().is_none());
}

fn message(subscription: &str, n: u32) -> String {
    format!(
        "MESSAGE\ndestination:/queue/a\nmessage-id:{n}\nsubscription:{subscription}\n\
         ack:ack-{n}\n\nm{n}\0"
    )
}

/// Subscribes `sub-1` with client-individual acks (auto-ACK on).
fn subscribed_client_individual(peer: &Peer) -> StompClient {
    let mut c = client(peer);
    c.subscription("/queue/a")
        .id("sub-1")
        .ack(AckMode::ClientIndividual)
        .subscribe()
        .unwrap();
    c
}

#[test]
fn messages_in_flight_when_unsubscribing_are_delivered_and_not_acked() {
    // RabbitMQ and ActiveMQ both send what they had dispatched before they saw UNSUBSCRIBE.
    let peer = Peer::connected_then(vec![
        Step::Read, // SUBSCRIBE
        Step::Read, // UNSUBSCRIBE
        Step::Read, // SEND with receipt
        write(format!(
            "{}{}RECEIPT\nreceipt-id:r-1\n\n\0",
            message("sub-1", 1),
            message("sub-1", 2)
        )),
        Step::ReadUntilClosed,
    ]);
    let mut c = subscribed_client_individual(&peer);
    c.unsubscribe("sub-1").unwrap();
    c.message("/queue/b").receipt_id("r-1").send().unwrap();
    c.wait_for_receipt("r-1", Duration::from_secs(5)).unwrap();
    assert_eq!(c.recv().unwrap().unwrap().body(), b"m1");
    assert_eq!(c.recv().unwrap().unwrap().body(), b"m2");
    let err = c.recv_timeout(Duration::from_millis(50)).unwrap_err();
    assert!(matches!(err, Error::Timeout(Timeout::Recv(_))), "{err:?}");
    drop(c);
    let commands: Vec<_> = peer.frames().iter().map(|f| f.command()).collect();
    assert_eq!(
        commands,
        [
            Command::Connect,
            Command::Subscribe,
            Command::Unsubscribe,
            Command::Send,
            Command::Disconnect
        ],
        "no ACK after UNSUBSCRIBE: RabbitMQ answers one with ERROR"
    );
}

#[test]
fn a_pending_auto_ack_is_not_sent_after_unsubscribe() {
    let peer = Peer::connected_then(vec![
        Step::Read, // SUBSCRIBE
        write(message("sub-1", 1)),
        Step::Read, // UNSUBSCRIBE
        write(message("sub-1", 2)),
        Step::ReadUntilClosed,
    ]);
    let mut c = subscribed_client_individual(&peer);
    assert_eq!(c.recv().unwrap().unwrap().body(), b"m1");
    c.unsubscribe("sub-1").unwrap();
    assert_eq!(c.recv().unwrap().unwrap().body(), b"m2");
    drop(c);
    let commands: Vec<_> = peer.frames().iter().map(|f| f.command()).collect();
    assert!(!commands.contains(&Command::Ack), "{commands:?}");
}

#[test]
fn an_unexpected_frame_during_a_receipt_wait_is_not_taken_for_the_close_reason() {
    let peer = Peer::connected_then(vec![
        Step::Read, // SEND with receipt
        write("SEND\ndestination:/queue/a\n\nx\0"),
        Step::Close,
    ]);
    let mut c = client(&peer);
    c.message("/queue/b").receipt_id("r-1").send().unwrap();
    let err = c
        .wait_for_receipt("r-1", Duration::from_secs(5))
        .unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ProtocolError::Unexpected(_))),
        "{err:?}"
    );
    assert!(c.recv().unwrap().is_none());
    // Only an ERROR frame is taken for the reason of a close that follows it.
    assert!(
        matches!(c.close_reason(), Some(Error::ConnectionClosed)),
        "{:?}",
        c.close_reason()
    );
}

#[test]
fn timeouts_too_large_for_an_instant_mean_no_deadline_not_a_panic() {
    let broker = stompy::broker::Broker::bind("127.0.0.1:0").unwrap();
    let mut c = StompClient::builder()
        .address(broker.addr())
        .unwrap()
        .connect_timeout(Duration::MAX)
        .connected_timeout(Duration::MAX)
        .connect_total_timeout(Duration::MAX)
        .write_timeout(Duration::MAX)
        .disconnect_timeout(Duration::MAX)
        .connect()
        .unwrap();
    c.subscribe("/queue/max", AckMode::Auto).unwrap();
    c.send("/queue/max", "x").unwrap();
    c.flush().unwrap();
    assert_eq!(c.recv_timeout(Duration::MAX).unwrap().unwrap().body(), b"x");
    let r = c.message("/queue/other").receipt().send().unwrap().unwrap();
    c.wait_for_receipt(&r, Duration::MAX).unwrap();
    c.disconnect().unwrap();
}

#[test]
fn an_infinite_heart_beat_scale_never_times_out_and_does_not_panic() {
    let peer = Peer::heart_beat_then("100,0", vec![Step::Silence(Duration::from_secs(1))]);
    let mut c = StompClient::builder()
        .address(peer.addr)
        .unwrap()
        .heart_beat(Duration::ZERO, Duration::from_millis(100))
        .heart_beat_scale(f64::INFINITY)
        .disconnect_timeout(Duration::from_millis(50))
        .connect()
        .unwrap();
    let err = c.recv_timeout(Duration::from_millis(400)).unwrap_err();
    assert!(matches!(err, Error::Timeout(Timeout::Recv(_))), "{err:?}");
}

/// A broker speaking `version` sends `message` twice (to subscription `sub-1`, client-individual,
/// auto-ACK on): the client reads the first with `recv_ref` or `recv` (`lent`), then asks for
/// the second; the ACK it sends in between carries `want`. With `own_ack` the application ACKs
/// the first itself (with a token, or the frame: named by all its headers): then the client sends no
/// auto-ACK of its own, and that ACK is the only one.
fn check_auto_ack_names(
    version: &str,
    message: &str,
    want: &[(&str, &str)],
    lent: bool,
    own_ack: bool,
) {
    let frame = format!("MESSAGE\n{message}\n\none\0");
    let steps = vec![
        Step::Read,
        connected(version, "0,0"),
        Step::Read, // SUBSCRIBE
        write(&frame),
        Step::Read, // an ACK
        write(frame.replace("one", "two")),
        // What comes next: a second ACK of "one" (an auto-ACK the application's own did not
        // cancel), else the client's DISCONNECT or its close.
        Step::Read,
        Step::Close,
    ];
    let peer = Peer::start(steps);
    let v = match version {
        "1.1" => stompy::Version::V1_1,
        _ => stompy::Version::V1_2,
    };
    let mut c = StompClient::builder()
        .address(peer.addr)
        .unwrap()
        .versions([v])
        .connect()
        .unwrap();
    let sub = c.subscription("/queue/a").id("sub-1");
    sub.ack(AckMode::ClientIndividual).subscribe().unwrap();
    if lent {
        let f = c.recv_ref().unwrap().unwrap();
        assert_eq!(f.body(), b"one");
        let token = stompy::AckToken::of(f);
        if own_ack {
            c.ack_token(&token).unwrap();
        }
    } else {
        let f = c.recv().unwrap().unwrap();
        assert_eq!(f.body(), b"one");
        if own_ack {
            c.ack(&f).unwrap();
        }
    }
    assert_eq!(c.recv().unwrap().unwrap().body(), b"two");
    drop(c);
    let acks: Vec<_> = peer
        .frames()
        .into_iter()
        .filter(|f| f.command() == Command::Ack)
        .collect();
    assert_eq!(
        acks.len(),
        1,
        "{version} {message:?} lent {lent} own {own_ack}: {acks:?}"
    );
    let got: Vec<_> = acks[0].headers().iter().collect();
    assert_eq!(got, want, "{version} {message:?} lent {lent} own {own_ack}");
}

#[test]
fn the_auto_ack_names_the_message_as_its_version_wants_and_yields_to_the_applications_own() {
    /// A version, a MESSAGE's headers, and the headers of the ACK that names it.
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
    let cases: [Case; 4] = [
        // 1.2 ACKs by `ack`, which need not equal `message-id`.
        (
            "1.2",
            "subscription:sub-1\nmessage-id:m-1\ndestination:/queue/a\nack:a-1",
            &[("id", "a-1")],
        ),
        // A 1.2 broker that sends no `ack` is ACKed by `message-id`.
        (
            "1.2",
            "message-id:m-1\ndestination:/queue/a\nsubscription:sub-1",
            &[("id", "m-1")],
        ),
        // 1.1 ACKs by `message-id` and `subscription`, in any order on the MESSAGE.
        (
            "1.1",
            "destination:/queue/a\nmessage-id:m-1\nsubscription:sub-1",
            &[("message-id", "m-1"), ("subscription", "sub-1")],
        ),
        // Escaped values are written back escaped.
        (
            "1.2",
            "subscription:sub-1\nack:a\\c1\\\\x\nmessage-id:m",
            &[("id", "a:1\\x")],
        ),
    ];
    for (version, message, want) in cases {
        for lent in [true, false] {
            for own_ack in [false, true] {
                check_auto_ack_names(version, message, want, lent, own_ack);
            }
        }
    }
}
