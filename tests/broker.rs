//! The embedded broker over real sockets, with a bare peer built on stompy's codec.
#![cfg(feature = "broker")]

#[path = "support/client.rs"]
mod client;

use std::time::{Duration, Instant};

use client::{frame, Hdrs, Peer};
use stompy::broker::{Broker, BrokerHandle};
use stompy::Command;

fn broker() -> BrokerHandle {
    Broker::bind("127.0.0.1:0").unwrap()
}

#[test]
fn negotiates_each_version() {
    let b = broker();
    for (offer, want) in [
        ("1.0", "1.0"),
        ("1.1", "1.1"),
        ("1.2", "1.2"),
        ("1.0,1.1", "1.1"),
    ] {
        let (_, connected) = Peer::connect_with(b.addr(), offer, &[]);
        assert_eq!(connected.get("version"), Some(want));
        assert!(connected.get("session").is_some());
        assert!(connected.get("server").unwrap().starts_with("stompy/"));
    }
    let mut p = Peer::raw(b.addr());
    p.cmd(Command::Connect, &[]);
    assert_eq!(p.recv().get("version"), Some("1.0"));
    let mut p = Peer::raw(b.addr());
    p.cmd(Command::Stomp, &[("accept-version", "1.2"), ("host", "x")]);
    assert_eq!(p.recv().get("version"), Some("1.2"));
    let mut p = Peer::raw(b.addr());
    p.cmd(Command::Connect, &[("accept-version", "9.9")]);
    assert_eq!(
        p.expect_error("unsupported").get("version"),
        Some("1.0,1.1,1.2")
    );
}

#[test]
fn round_trip_in_every_version() {
    let b = broker();
    for v in ["1.0", "1.1", "1.2"] {
        let mut p = Peer::connect(b.addr(), v);
        let dest = format!("/queue/rt-{v}");
        p.subscribe("s", &dest, "auto");
        p.cmd_body(
            Command::Send,
            &[("destination", &dest), ("k", "v")],
            b"a\0b",
        );
        let m = p.recv();
        assert_eq!(
            (m.command(), m.body(), m.get("k")),
            (Command::Message, &b"a\0b"[..], Some("v"))
        );
        assert_eq!(m.get("destination"), Some(dest.as_str()));
        assert_eq!(m.get("content-length"), Some("3"));
    }
}

#[test]
fn header_escaping_follows_the_version() {
    let b = broker();
    let mut p12 = Peer::connect(b.addr(), "1.2");
    let mut p10 = Peer::connect(b.addr(), "1.0");
    p12.subscribe("s", "/queue/esc", "auto");
    let odd = "a:b\\c\nd\re";
    p12.cmd(
        Command::Send,
        &[("destination", "/queue/esc"), ("odd", odd)],
    );
    assert_eq!(p12.recv().get("odd"), Some(odd));
    p10.subscribe("s", "/queue/esc10", "auto");
    p10.cmd(
        Command::Send,
        &[("destination", "/queue/esc10"), ("t", "x:y\\z")],
    );
    assert_eq!(p10.recv().get("t"), Some("x:y\\z"));
}

#[test]
fn queues_round_robin_and_topics_fan_out() {
    let b = broker();
    let (mut a, mut c, mut p) = (
        Peer::connect(b.addr(), "1.2"),
        Peer::connect(b.addr(), "1.2"),
        Peer::connect(b.addr(), "1.2"),
    );
    a.subscribe("q", "/queue/rr", "auto");
    a.subscribe("t", "/topic/news", "auto");
    a.with_receipt(
        Command::Subscribe,
        &[("id", "x"), ("destination", "/topic/x")],
    );
    c.subscribe("q", "/queue/rr", "auto");
    c.with_receipt(
        Command::Subscribe,
        &[("id", "t"), ("destination", "/topic/news")],
    );
    for i in 0..4 {
        p.publish("/queue/rr", &i.to_string());
    }
    p.publish("/topic/news", "all");
    let body = |f: stompy::Frame| String::from_utf8(f.into_body()).unwrap();
    let got_a: Vec<String> = (0..3).map(|_| body(a.recv())).collect();
    let got_c: Vec<String> = (0..3).map(|_| body(c.recv())).collect();
    assert_eq!(got_a, ["0", "2", "all"]);
    assert_eq!(got_c, ["1", "3", "all"]);
}

#[test]
fn prefetch_count_limits_in_flight_messages() {
    let b = broker();
    let mut c = Peer::connect(b.addr(), "1.2");
    let h = [
        ("id", "s"),
        ("destination", "/queue/pf"),
        ("ack", "client-individual"),
    ];
    c.cmd(
        Command::Subscribe,
        &[h[0], h[1], h[2], ("prefetch-count", "2")],
    );
    for i in 0..5 {
        c.publish("/queue/pf", &i.to_string());
    }
    let (m0, m1) = (c.recv(), c.recv());
    c.expect_silence(Duration::from_millis(200));
    c.cmd(Command::Ack, &[("id", m0.get("ack").unwrap())]);
    assert_eq!(c.recv().body(), b"2");
    c.cmd(Command::Ack, &[("id", m1.get("ack").unwrap())]);
    assert_eq!(c.recv().body(), b"3");
}

#[test]
fn a_1_2_ack_by_message_id_acks_that_message() {
    // RabbitMQ makes `ack` equal to `message-id`, so clients that ACK by the latter work
    // there. Here the two differ (`ack` values are never plain numbers); such an ACK still
    // finds its message, never another one whose ack number happens to be the same.
    let b = broker();
    let mut c = Peer::connect(b.addr(), "1.2");
    c.publish("/queue/elsewhere", "takes a message id");
    c.subscribe("s", "/queue/by-id", "client-individual");
    c.publish("/queue/by-id", "a");
    c.publish("/queue/by-id", "b");
    let (a, bm) = (c.recv(), c.recv());
    assert_ne!(a.get("ack"), a.message_id());
    c.with_receipt(Command::Ack, &[("id", bm.message_id().unwrap())]);
    c.cmd(Command::Disconnect, &[]);
    c.expect_closed();
    let mut d = Peer::connect(b.addr(), "1.2");
    d.subscribe("s", "/queue/by-id", "auto");
    let m = d.recv();
    assert_eq!((m.body(), m.get("redelivered")), (&b"a"[..], Some("true")));
    d.expect_silence(Duration::from_millis(200));
}

#[test]
fn client_ack_is_cumulative() {
    let b = broker();
    let mut c = Peer::connect(b.addr(), "1.1");
    c.subscribe("s", "/queue/cum", "client");
    for i in 0..3 {
        c.publish("/queue/cum", &i.to_string());
    }
    let ms: Vec<_> = (0..3).map(|_| c.recv()).collect();
    let h = [
        ("message-id", ms[1].message_id().unwrap()),
        ("subscription", "s"),
    ];
    c.with_receipt(Command::Ack, &h);
    drop(c);
    let mut d = Peer::connect(b.addr(), "1.2");
    d.subscribe("s", "/queue/cum", "auto");
    let m = d.recv();
    assert_eq!((m.body(), m.get("redelivered")), (&b"2"[..], Some("true")));
    d.expect_silence(Duration::from_millis(200));
}

#[test]
fn nack_and_disconnect_redeliver() {
    let b = broker();
    let mut c = Peer::connect(b.addr(), "1.2");
    c.subscribe("s", "/queue/nack", "client-individual");
    c.publish("/queue/nack", "a");
    c.publish("/queue/nack", "b");
    let (a, bm) = (c.recv(), c.recv());
    c.cmd(Command::Nack, &[("id", a.get("ack").unwrap())]);
    let again = c.recv();
    assert_eq!(
        (again.body(), again.get("redelivered")),
        (&b"a"[..], Some("true"))
    );
    assert_eq!(again.message_id(), a.message_id());
    assert_ne!(again.get("ack"), a.get("ack"));
    c.with_receipt(Command::Ack, &[("id", bm.get("ack").unwrap())]);
    c.cmd(Command::Disconnect, &[]);
    c.expect_closed();
    let mut d = Peer::connect(b.addr(), "1.0");
    d.cmd(Command::Subscribe, &[("destination", "/queue/nack")]);
    let m = d.recv();
    assert_eq!((m.body(), m.get("redelivered")), (&b"a"[..], Some("true")));
    d.expect_silence(Duration::from_millis(200));
}

#[test]
fn transactions_commit_abort_and_disconnect() {
    let b = broker();
    let mut c = Peer::connect(b.addr(), "1.2");
    c.subscribe("s", "/queue/tx", "auto");
    c.cmd(Command::Begin, &[("transaction", "t1")]);
    c.cmd(
        Command::Send,
        &[("destination", "/queue/tx"), ("transaction", "t1")],
    );
    c.expect_silence(Duration::from_millis(100));
    c.cmd(Command::Commit, &[("transaction", "t1")]);
    assert!(c.recv().get("transaction").is_none());
    c.cmd(Command::Begin, &[("transaction", "t2")]);
    c.cmd(
        Command::Send,
        &[("destination", "/queue/tx"), ("transaction", "t2")],
    );
    c.with_receipt(Command::Abort, &[("transaction", "t2")]);
    c.cmd(Command::Begin, &[("transaction", "t3")]);
    c.cmd(
        Command::Send,
        &[("destination", "/queue/tx"), ("transaction", "t3")],
    );
    c.with_receipt(Command::Send, &[("destination", "/queue/tx2")]);
    drop(c);
    let mut d = Peer::connect(b.addr(), "1.2");
    d.subscribe("s", "/queue/tx", "auto");
    d.expect_silence(Duration::from_millis(200));
    d.cmd(Command::Commit, &[("transaction", "t3")]);
    d.expect_error("unknown transaction");
}

#[test]
fn stomp_1_0_subscriptions_without_id() {
    let b = broker();
    let mut c = Peer::connect(b.addr(), "1.0");
    c.cmd(Command::Subscribe, &[("destination", "/queue/ten")]);
    c.publish("/queue/ten", "x");
    assert_eq!(c.recv().subscription(), Some("/queue/ten"));
    c.with_receipt(Command::Unsubscribe, &[("destination", "/queue/ten")]);
    c.publish("/queue/ten", "y");
    c.expect_silence(Duration::from_millis(100));
}

/// A 1.0 client that pads its headers the way the 1.0 specification's examples do.
#[test]
fn stomp_1_0_padded_headers_as_in_the_spec_examples() {
    let b = Broker::builder()
        .user("guest", "guest")
        .bind("127.0.0.1:0")
        .unwrap();
    let mut c = Peer::raw(b.addr());
    c.cmd(
        Command::Connect,
        &[("login", " guest"), ("passcode", "guest ")],
    );
    assert_eq!(c.recv().command(), Command::Connected);
    c.cmd(
        Command::Subscribe,
        &[("destination", " /queue/foo"), ("ack", " client")],
    );
    let send = [("destination", " /queue/foo"), ("receipt", " sent")];
    c.cmd_body(Command::Send, &send, b"hello");
    let mut got = [c.recv(), c.recv()];
    got.sort_by_key(|f| f.command() != Command::Receipt);
    assert_eq!(got[0].get("receipt-id"), Some("sent"), "{:?}", got[0]);
    let m = &got[1];
    assert_eq!(m.destination(), Some("/queue/foo"), "{m:?}");
    assert_eq!(m.body(), b"hello");
    // `ack: client` was understood: the message waits for an ACK, which clears it.
    let id = format!(" {}", m.message_id().unwrap());
    c.with_receipt(Command::Ack, &[("message-id", &id)]);
    c.cmd(Command::Disconnect, &[]);
    let login = [("login", "guest"), ("passcode", "guest")];
    let (mut again, _) = Peer::connect_with(b.addr(), "1.0", &login);
    again.cmd(Command::Subscribe, &[("destination", "/queue/foo")]);
    again.expect_silence(Duration::from_millis(100));
}

#[test]
fn receipts_for_every_frame_that_asks() {
    let b = broker();
    let mut c = Peer::connect(b.addr(), "1.2");
    let cases: [(Command, Hdrs); 5] = [
        (
            Command::Subscribe,
            &[("id", "s"), ("destination", "/queue/r")],
        ),
        (Command::Send, &[("destination", "/queue/nobody")]),
        (Command::Begin, &[("transaction", "t")]),
        (Command::Commit, &[("transaction", "t")]),
        (Command::Unsubscribe, &[("id", "s")]),
    ];
    for (command, headers) in cases {
        c.with_receipt(command, headers);
    }
    c.cmd(Command::Disconnect, &[("receipt", "bye")]);
    assert_eq!(c.recv().get("receipt-id"), Some("bye"));
    c.expect_closed();
}

#[test]
fn violations_get_error_then_close() {
    let b = broker();
    let cases: [(Command, Hdrs, &str); 6] = [
        (Command::Send, &[], "destination"),
        (
            Command::Subscribe,
            &[("id", "s"), ("destination", "/queue/a"), ("ack", "bogus")],
            "invalid ack mode \"bogus\"",
        ),
        (
            Command::Unsubscribe,
            &[("id", "nope")],
            "no such subscription",
        ),
        (Command::Ack, &[("id", "12345")], "not pending"),
        (
            Command::Commit,
            &[("transaction", "nope")],
            "unknown transaction",
        ),
        (Command::Connect, &[], "already connected"),
    ];
    for (command, headers, needle) in cases {
        let mut c = Peer::connect(b.addr(), "1.2");
        let mut h = headers.to_vec();
        h.push(("receipt", "77"));
        c.cmd(command, &h);
        assert_eq!(c.expect_error(needle).get("receipt-id"), Some("77"));
    }
    let mut c = Peer::connect(b.addr(), "1.2");
    c.subscribe("dup", "/queue/a", "auto");
    c.subscribe("dup", "/queue/b", "auto");
    c.expect_error("already in use");
    let mut c = Peer::raw(b.addr());
    c.cmd(
        Command::Subscribe,
        &[("id", "s"), ("destination", "/queue/a")],
    );
    c.expect_error("expected CONNECT");
    let mut c = Peer::connect(b.addr(), "1.2");
    std::io::Write::write_all(
        &mut c.stream,
        b"SEND\ndestination:/q\ncontent-length:2\n\nabc\0",
    )
    .unwrap();
    c.expect_error("NUL");
    let mut c = Peer::connect(b.addr(), "1.2");
    std::io::Write::write_all(&mut c.stream, b"HELLO\n\n\0").unwrap();
    c.expect_error("unknown command");
}

#[test]
fn heart_beats_both_ways() {
    let b = Broker::builder()
        .heart_beat(50, 50)
        .bind("127.0.0.1:0")
        .unwrap();
    let (mut c, connected) = Peer::connect_with(b.addr(), "1.2", &[("heart-beat", "50,50")]);
    assert_eq!(connected.get("heart-beat"), Some("50,50"));
    let deadline = Instant::now() + Duration::from_secs(2);
    while c.heart_beats < 3 && Instant::now() < deadline {
        std::io::Write::write_all(&mut c.stream, b"\n").unwrap();
        c.expect_silence(Duration::from_millis(30));
    }
    assert!(
        c.heart_beats >= 3,
        "broker sent {} heart-beats",
        c.heart_beats
    );
    let start = Instant::now();
    c.expect_closed();
    assert!(start.elapsed() < Duration::from_secs(2));
    let (mut quiet, _) = Peer::connect_with(b.addr(), "1.2", &[("heart-beat", "0,0")]);
    quiet.expect_silence(Duration::from_millis(300));
    assert_eq!(quiet.heart_beats, 0);
}

#[test]
fn logins_are_checked() {
    let b = Broker::builder()
        .user("guest", "guest")
        .bind("127.0.0.1:0")
        .unwrap();
    Peer::connect_with(
        b.addr(),
        "1.2",
        &[("login", "guest"), ("passcode", "guest")],
    );
    for bad in [&[("login", "guest"), ("passcode", "nope")][..], &[]] {
        let mut p = Peer::raw(b.addr());
        let mut h = vec![("accept-version", "1.2")];
        h.extend_from_slice(bad);
        p.send(frame(Command::Connect, &h, b""));
        p.expect_error("login failed");
    }
}

#[cfg(feature = "cli")]
#[test]
fn the_binary_serves_clients() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stompy-broker"))
        .args(["--listen", "127.0.0.1:0", "--user", "u:p"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    // "stompy-broker listening on tcp://127.0.0.1:PORT"
    let url = line.trim().rsplit(' ').next().unwrap();
    let addr = url.rsplit("://").next().unwrap().parse().unwrap();
    let (mut p, connected) = Peer::connect_with(addr, "1.2", &[("login", "u"), ("passcode", "p")]);
    assert_eq!(
        connected.get("heart-beat"),
        Some("0,0"),
        "none asked for, none given"
    );
    p.with_receipt(Command::Send, &[("destination", "/queue/bin")]);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A client that shuts down its sending side after its last frame (as a script piping frames
/// into a socket does) still gets every reply those frames asked for, then the broker closes.
#[test]
fn a_half_closed_client_still_gets_its_replies() {
    let b = broker();
    let mut p = Peer::raw(b.addr());
    let mut bytes = Vec::new();
    for f in [
        frame(Command::Connect, &[("accept-version", "1.2")], b""),
        frame(
            Command::Subscribe,
            &[("id", "s"), ("destination", "/queue/half")],
            b"",
        ),
        frame(
            Command::Send,
            &[("destination", "/queue/half"), ("receipt", "sent")],
            b"last",
        ),
    ] {
        stompy::codec::encode_frame(&f, stompy::Version::V1_2, &mut bytes).unwrap();
    }
    std::io::Write::write_all(&mut p.stream, &bytes).unwrap();
    p.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(p.recv().command(), Command::Connected);
    p.dec.set_version(stompy::Version::V1_2);
    let mut got = [p.recv(), p.recv()];
    got.sort_by_key(|f| f.command() != Command::Message);
    assert_eq!(got[0].body(), b"last");
    assert_eq!(got[1].get("receipt-id"), Some("sent"));
    p.expect_closed();
}

/// An empty `destination` names nothing: SEND and SUBSCRIBE get an ERROR, as with none.
#[test]
fn an_empty_destination_is_an_error() {
    let b = broker();
    for command in [Command::Send, Command::Subscribe] {
        let mut c = Peer::connect(b.addr(), "1.2");
        let h = [("id", "s"), ("destination", ""), ("receipt", "r")];
        c.cmd(command, &h);
        assert_eq!(c.expect_error("destination").get("receipt-id"), Some("r"));
    }
}

/// A RECEIPT comes before the messages its frame set moving (as with RabbitMQ and ActiveMQ):
/// a client that waits for the receipt of its SUBSCRIBE, ACK or NACK, then reads messages,
/// sees every one of them after the receipt.
#[test]
fn receipts_come_before_the_messages_their_frame_released() {
    let b = broker();
    let mut p = Peer::connect(b.addr(), "1.2");
    for i in 0..3 {
        p.publish("/queue/order", &i.to_string());
    }
    p.with_receipt(Command::Send, &[("destination", "/queue/order")]);
    let mut c = Peer::connect(b.addr(), "1.2");
    let sub = [
        ("id", "s"),
        ("destination", "/queue/order"),
        ("ack", "client-individual"),
        ("prefetch-count", "2"),
    ];
    c.with_receipt(Command::Subscribe, &sub);
    let (m0, m1) = (c.recv(), c.recv());
    assert_eq!((m0.body(), m1.body()), (&b"0"[..], &b"1"[..]));
    c.with_receipt(Command::Ack, &[("id", m0.get("ack").unwrap())]);
    assert_eq!(c.recv().body(), b"2");
    c.with_receipt(Command::Nack, &[("id", m1.get("ack").unwrap())]);
    let again = c.recv();
    assert_eq!(
        (again.body(), again.get("redelivered")),
        (&b"1"[..], Some("true"))
    );
}

/// A subscriber that falls behind (the broker stops reading its socket until it catches up)
/// but keeps its heart-beat promise is not dropped as silent.
#[test]
fn a_slow_reader_that_keeps_beating_is_not_dropped() {
    let b = Broker::builder()
        .heart_beat(100, 100)
        .bind("127.0.0.1:0")
        .unwrap();
    let (mut slow, _) = Peer::connect_with(b.addr(), "1.2", &[("heart-beat", "100,0")]);
    socket2::SockRef::from(&slow.stream)
        .set_recv_buffer_size(64 * 1024)
        .unwrap();
    slow.with_receipt(
        Command::Subscribe,
        &[("id", "s"), ("destination", "/topic/firehose")],
    );
    let mut publisher = Peer::connect(b.addr(), "1.2");
    let big = vec![b'x'; 1 << 20];
    for _ in 0..12 {
        publisher.cmd_body(Command::Send, &[("destination", "/topic/firehose")], &big);
    }
    publisher.with_receipt(Command::Send, &[("destination", "/queue/elsewhere")]);
    // Far longer than twice the interval, beating on time, reading nothing.
    for _ in 0..20 {
        std::io::Write::write_all(&mut slow.stream, b"\n").unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    slow.cmd(
        Command::Send,
        &[("destination", "/queue/elsewhere"), ("receipt", "alive")],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let f = slow
            .recv_timeout(left)
            .expect("the slow reader was dropped");
        if f.command() == Command::Receipt {
            assert_eq!(f.get("receipt-id"), Some("alive"));
            break;
        }
    }
}
