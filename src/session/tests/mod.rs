//! The session without sockets: bytes and time in, bytes and events out. A simulated clock
//! makes heart-beat tests instant.

#[cfg(feature = "broker")]
mod pair;

use std::time::{Duration, Instant};

use super::{AckMode, AckToken, Event, Phase, Session, SessionConfig, Subscription};
use crate::codec::{Decoder, Item, Limits};
use crate::error::{Error, ProtocolError, Timeout};
use crate::frame::{Command, Frame, Headers, Version};

/// A session that sent CONNECT at `t0`; returns it with the CONNECT frame it wrote.
fn started(cfg: SessionConfig, t0: Instant) -> (Session, Frame) {
    let mut s = Session::new(cfg, t0);
    s.start("/", t0).unwrap();
    let sent = written(&mut s);
    assert_eq!(sent.len(), 1);
    (s, sent.into_iter().next().unwrap())
}

/// Everything the session wrote since the last call, decoded.
fn written(s: &mut Session) -> Vec<Frame> {
    let mut d = Decoder::new(Version::V1_2, Limits::default());
    d.feed(s.output());
    let n = s.output().len();
    s.consume_output(n);
    let mut frames = Vec::new();
    while let Some(item) = d.decode().unwrap() {
        if let Item::Frame(f) = item {
            frames.push(f);
        }
    }
    frames
}

fn open(version: &str, heart_beat: &str, cfg: SessionConfig, t0: Instant) -> Session {
    let (mut s, _) = started(cfg, t0);
    s.feed(
        format!("CONNECTED\nversion:{version}\nheart-beat:{heart_beat}\n\n\0").as_bytes(),
        t0,
    );
    assert_eq!(s.poll_event(t0).unwrap(), Some(Event::Connected));
    s
}

fn sub(id: &str, ack: AckMode) -> Subscription {
    Subscription {
        id: id.into(),
        destination: "/queue/a".into(),
        ack,
        headers: Headers::new(),
        auto_ack: true,
    }
}

#[test]
fn connect_frame_offers_versions_host_and_heart_beats() {
    let cfg = SessionConfig {
        versions: vec![Version::V1_2, Version::V1_1],
        login: Some("u".into()),
        passcode: Some("p".into()),
        heart_beat: (100, 200),
        ..SessionConfig::default()
    };
    let (s, f) = started(cfg, Instant::now());
    assert_eq!(s.phase(), Phase::Connecting);
    assert_eq!(f.command(), Command::Connect);
    assert_eq!(f.get("accept-version"), Some("1.1,1.2"));
    assert_eq!(f.get("host"), Some("/"));
    assert_eq!(f.get("heart-beat"), Some("100,200"));
    assert_eq!((f.get("login"), f.get("passcode")), (Some("u"), Some("p")));
}

#[test]
fn a_1_0_only_session_sends_no_accept_version() {
    let cfg = SessionConfig {
        versions: vec![Version::V1_0],
        ..SessionConfig::default()
    };
    let (_, f) = started(cfg, Instant::now());
    assert_eq!(f.get("accept-version"), None);
    assert_eq!(f.get("heart-beat"), None);
}

#[test]
fn versions_are_negotiated_from_connected() {
    let t0 = Instant::now();
    for (answer, want) in [
        ("1.0", Version::V1_0),
        ("1.1", Version::V1_1),
        ("1.2", Version::V1_2),
    ] {
        let s = open(answer, "0,0", SessionConfig::default(), t0);
        assert_eq!(s.version(), want);
        assert_eq!(s.phase(), Phase::Connected);
    }
    let (mut s, _) = started(SessionConfig::default(), t0);
    s.feed(b"CONNECTED\n\n\0", t0);
    s.poll_event(t0).unwrap();
    assert_eq!(s.version(), Version::V1_0, "no version header means 1.0");
}

#[test]
fn heart_beats_are_negotiated_per_the_spec() {
    let t0 = Instant::now();
    let ms = |n| Some(Duration::from_millis(n));
    let cfg = |hb| SessionConfig {
        heart_beat: hb,
        ..SessionConfig::default()
    };
    // We send every max(cx, sy), expect every max(cy, sx); a zero on either side turns off.
    let cases = [
        ((100, 200), "300,50", (ms(100), ms(300))),
        ((100, 200), "0,500", (ms(500), None)),
        ((0, 200), "300,500", (None, ms(300))),
        ((100, 0), "0,0", (None, None)),
    ];
    for (ours, theirs, want) in cases {
        let s = open("1.2", theirs, cfg(ours), t0);
        assert_eq!(s.heart_beat(), want, "{ours:?} vs {theirs}");
    }
}

#[test]
fn heart_beats_go_out_on_time_and_silence_times_out_with_a_simulated_clock() {
    let t0 = Instant::now();
    let cfg = SessionConfig {
        heart_beat: (100, 100),
        ..SessionConfig::default()
    };
    let mut s = open("1.2", "100,100", cfg, t0);
    let at = |ms| t0 + Duration::from_millis(ms);
    s.handle_timeout(at(50)).unwrap();
    assert!(!s.wants_write(), "nothing due yet");
    s.handle_timeout(at(100)).unwrap();
    assert_eq!(s.output(), b"\n", "one EOL when the send interval passed");
    s.consume_output(1);
    // The broker's first beat may come one interval late: 100 + 150 ms.
    s.handle_timeout(at(240)).unwrap();
    s.feed(b"\n", at(240));
    assert_eq!(s.poll_event(at(240)).unwrap(), Some(Event::HeartBeat));
    s.handle_timeout(at(389)).unwrap();
    let err = s.handle_timeout(at(390)).unwrap_err();
    assert!(
        matches!(err, Error::Timeout(Timeout::HeartBeat(_))),
        "{err:?}"
    );
    assert_eq!(s.poll_timeout(), Some(at(390)).min(s.poll_timeout()));
}

#[test]
fn ack_and_nack_carry_the_headers_each_version_wants() {
    let msg = Frame::new(Command::Message)
        .with_header("message-id", "m-1")
        .with_header("subscription", "s-1")
        .with_header("ack", "a-1");
    let token = AckToken::of(&msg);
    let f = token.frame(Command::Ack, Version::V1_0, None).unwrap();
    assert_eq!(
        (f.get("message-id"), f.get("subscription")),
        (Some("m-1"), None)
    );
    let f = token
        .frame(Command::Nack, Version::V1_1, Some("tx"))
        .unwrap();
    assert_eq!(
        (f.get("message-id"), f.get("subscription")),
        (Some("m-1"), Some("s-1"))
    );
    assert_eq!(f.get("transaction"), Some("tx"));
    let f = token.frame(Command::Ack, Version::V1_2, None).unwrap();
    assert_eq!((f.get("id"), f.get("message-id")), (Some("a-1"), None));
    let err = token.frame(Command::Nack, Version::V1_0, None).unwrap_err();
    assert!(matches!(err, Error::Invalid(_)));
}

#[test]
fn subscriptions_are_remembered_and_made_again() {
    let t0 = Instant::now();
    let mut s = open("1.0", "0,0", SessionConfig::default(), t0);
    let err = s
        .subscribe(sub("x", AckMode::ClientIndividual), None, t0)
        .unwrap_err();
    assert!(
        matches!(err, Error::Invalid(_)),
        "client-individual does not exist in 1.0"
    );
    s.subscribe(sub("s-1", AckMode::Client), Some("r-1"), t0)
        .unwrap();
    assert!(s.is_receipt_pending("r-1"));
    let f = &written(&mut s)[0];
    assert_eq!(
        (f.get("id"), f.get("ack"), f.get("receipt")),
        (Some("s-1"), Some("client"), Some("r-1"))
    );
    assert!(matches!(
        s.subscribe(sub("s-1", AckMode::Auto), None, t0),
        Err(Error::Invalid(_))
    ));
    s.resubscribe_all(t0).unwrap();
    assert_eq!(written(&mut s)[0].get("id"), Some("s-1"));
    s.unsubscribe("s-1", None, t0).unwrap();
    let f = &written(&mut s)[0];
    assert_eq!(
        f.get("destination"),
        Some("/queue/a"),
        "1.0 unsubscribes by destination too"
    );
    assert!(s.subscriptions().is_empty());
}

#[test]
fn receipts_complete_and_errors_carry_message_body_and_receipt_id() {
    let t0 = Instant::now();
    let mut s = open("1.2", "0,0", SessionConfig::default(), t0);
    let send = Frame::new(Command::Send)
        .with_header("destination", "/q")
        .with_header("receipt", "r-1");
    s.send_frame(&send, t0).unwrap();
    s.feed(
        b"RECEIPT\nreceipt-id:r-1\n\n\0ERROR\nmessage:bad\nreceipt-id:r-2\n\ndetails\0",
        t0,
    );
    assert_eq!(
        s.poll_event(t0).unwrap(),
        Some(Event::Receipt("r-1".into()))
    );
    assert!(!s.is_receipt_pending("r-1"));
    let err = s.poll_event(t0).unwrap_err();
    let b = err.broker_error().unwrap();
    assert_eq!(
        (b.message.as_str(), b.body.as_str(), b.receipt_id.as_deref()),
        ("bad", "details", Some("r-2"))
    );
}

#[test]
fn transactions_are_tracked_and_disconnect_closes_the_session_for_sending() {
    let t0 = Instant::now();
    let mut s = open("1.2", "0,0", SessionConfig::default(), t0);
    s.send_frame(
        &Frame::new(Command::Begin).with_header("transaction", "t"),
        t0,
    )
    .unwrap();
    assert!(s.in_transaction("t"));
    s.send_frame(
        &Frame::new(Command::Commit).with_header("transaction", "t"),
        t0,
    )
    .unwrap();
    assert!(!s.in_transaction("t"));
    s.send_frame(&Frame::new(Command::Disconnect), t0).unwrap();
    assert_eq!(s.phase(), Phase::Disconnecting);
    let err = s.send_frame(&Frame::new(Command::Send), t0).unwrap_err();
    assert!(matches!(err, Error::NotConnected(_)));
}

#[test]
fn nothing_is_sent_before_connected_and_a_fatal_error_is_final() {
    let t0 = Instant::now();
    let (mut s, _) = started(SessionConfig::default(), t0);
    assert!(matches!(
        s.send_frame(&Frame::new(Command::Send), t0),
        Err(Error::NotConnected(_))
    ));
    s.feed(b"CONNECTED\nversion:1.2\n\n\0BOGUS\n\n\0MESSAGE\n\n\0", t0);
    assert_eq!(s.poll_event(t0).unwrap(), Some(Event::Connected));
    let first = s.poll_event(t0).unwrap_err();
    assert!(matches!(
        first,
        Error::Protocol(ProtocolError::UnknownCommand(_))
    ));
    let again = s.poll_event(t0).unwrap_err();
    assert!(
        matches!(again, Error::Protocol(ProtocolError::UnknownCommand(_))),
        "{again:?}"
    );
}

#[test]
fn a_message_finds_its_subscription_by_header_or_by_its_only_destination() {
    let t0 = Instant::now();
    let mut s = open("1.2", "0,0", SessionConfig::default(), t0);
    s.subscribe(sub("s-1", AckMode::Client), None, t0).unwrap();
    let with = Frame::new(Command::Message).with_header("subscription", "s-1");
    let without = Frame::new(Command::Message).with_header("destination", "/queue/a");
    let elsewhere = Frame::new(Command::Message).with_header("destination", "/queue/b");
    assert_eq!(s.subscription_of(&with).map(|x| x.id.as_str()), Some("s-1"));
    assert_eq!(
        s.subscription_of(&without).map(|x| x.id.as_str()),
        Some("s-1")
    );
    assert!(s.subscription_of(&elsewhere).is_none());
}

#[test]
fn output_written_a_few_bytes_at_a_time_comes_out_whole_and_in_order() {
    let t0 = Instant::now();
    let mut s = open("1.2", "0,0", SessionConfig::default(), t0);
    let mut expected = Vec::new();
    for i in 0..50 {
        let body = format!("message {i}");
        let headers = [("destination", "/queue/a"), ("transaction", "t")];
        s.send_parts(Command::Send, headers.into_iter(), body.as_bytes(), t0)
            .unwrap();
        let frame = Frame::new(Command::Send)
            .with_header("destination", "/queue/a")
            .with_header("transaction", "t")
            .with_body(body);
        crate::codec::encode_frame(&frame, Version::V1_2, &mut expected).unwrap();
    }
    // A socket that takes 7 bytes per write, with a frame queued now and then in between.
    let mut wire = Vec::new();
    while s.wants_write() {
        let n = s.output().len().min(7);
        wire.extend_from_slice(&s.output()[..n]);
        s.consume_output(n);
        if wire.len() % 70 == 0 && expected.len() < 8000 {
            let body = format!("late {}", wire.len());
            s.send_parts(
                Command::Send,
                [("destination", "/q")].into_iter(),
                body.as_bytes(),
                t0,
            )
            .unwrap();
            let late = Frame::new(Command::Send)
                .with_header("destination", "/q")
                .with_body(body);
            crate::codec::encode_frame(&late, Version::V1_2, &mut expected).unwrap();
        }
    }
    assert_eq!(wire, expected);
    assert!(s.output().is_empty());
}

#[test]
fn send_parts_tracks_receipts_and_transactions_like_send_frame() {
    let t0 = Instant::now();
    let mut s = open("1.2", "0,0", SessionConfig::default(), t0);
    let begin = [("transaction", "t"), ("receipt", "r-1")];
    s.send_parts(Command::Begin, begin.into_iter(), b"", t0)
        .unwrap();
    assert!(s.in_transaction("t"));
    assert!(s.is_receipt_pending("r-1"));
    s.send_parts(Command::Abort, [("transaction", "t")].into_iter(), b"", t0)
        .unwrap();
    assert!(!s.in_transaction("t"));
    let sent = written(&mut s);
    assert_eq!(sent[0].get("receipt"), Some("r-1"));
    assert_eq!(sent[1].command(), Command::Abort);
}

#[test]
fn send_to_writes_what_send_parts_writes_whether_its_head_is_kept_or_not() {
    let t0 = Instant::now();
    let long = [7; 1234];
    let bodies: [&[u8]; 6] = [b"", b"x", b"a\0b", &long, b"no nul", b"\0"];
    for auto_content_length in [true, false] {
        for version in ["1.0", "1.1", "1.2"] {
            let cfg = || SessionConfig {
                auto_content_length,
                ..SessionConfig::default()
            };
            let mut s = open(version, "0,0", cfg(), t0);
            let mut reference = open(version, "0,0", cfg(), t0);
            let tag = format!("{version} auto_content_length={auto_content_length}");
            // Repeats use the kept head; a new destination (escaped or not) replaces it, and
            // a NUL in a body without automatic lengths gives that one a length.
            for dest in [
                "/queue/a",
                "/queue/a",
                "/q/x:y",
                "/q/x:y",
                "/queue/a",
                "/q/back\\slash",
                "/q/cr\r",
                "",
            ] {
                // Each body twice: the second time the kept end of the head is used as well.
                for body in bodies.iter().flat_map(|b| [*b, *b]) {
                    let refused = s.send_to(dest, body, t0).is_err();
                    let headers = [("destination", dest)];
                    let reference_refused = reference
                        .send_parts(Command::Send, headers.into_iter(), body, t0)
                        .is_err();
                    assert_eq!(refused, reference_refused, "{tag} {dest:?}");
                    assert_eq!(s.output(), reference.output(), "{tag} {dest:?}");
                }
            }
            // A destination this version cannot write is refused either way, and keeps
            // nothing: the head kept before is used again.
            for bad in ["/queue/new\nline", "/q/ends in cr\r"] {
                let refused = s.send_to(bad, b"x", t0).is_err();
                let cannot = version == "1.0" || (version == "1.1" && bad.ends_with('\r'));
                assert_eq!(refused, cannot, "{tag} {bad:?}");
                let headers = [("destination", bad)];
                let reference_refused = reference
                    .send_parts(Command::Send, headers.into_iter(), b"x", t0)
                    .is_err();
                assert_eq!(reference_refused, cannot, "{tag} {bad:?}");
                s.send_to("", b"y", t0).unwrap();
                let headers = [("destination", "")];
                reference
                    .send_parts(Command::Send, headers.into_iter(), b"y", t0)
                    .unwrap();
                assert_eq!(s.output(), reference.output(), "{tag} {bad:?}");
            }
        }
    }
    // After a new CONNECT the kept head is not used before the session is connected again.
    let mut s = open("1.2", "0,0", SessionConfig::default(), t0);
    s.send_to("/queue/a", b"x", t0).unwrap();
    s.start("/", t0).unwrap();
    assert!(matches!(
        s.send_to("/queue/a", b"x", t0),
        Err(Error::NotConnected(_))
    ));
}

#[test]
fn send_to_heads_follow_the_version_of_each_connection() {
    let t0 = Instant::now();
    let dest = "/q/a:b";
    let mut s = open("1.2", "0,0", SessionConfig::default(), t0);
    s.send_to(dest, b"x", t0).unwrap();
    assert!(String::from_utf8_lossy(s.output()).contains("destination:/q/a\\cb\n"));
    for (version, line) in [
        ("1.0", "destination:/q/a:b\n"),
        ("1.1", "destination:/q/a\\cb\n"),
    ] {
        s.start("/", t0).unwrap();
        written(&mut s);
        let connected = format!("CONNECTED\nversion:{version}\n\n\0");
        s.feed(connected.as_bytes(), t0);
        assert_eq!(s.poll_event(t0).unwrap(), Some(Event::Connected));
        s.send_to(dest, b"x", t0).unwrap();
        let wire = String::from_utf8_lossy(s.output()).into_owned();
        assert!(wire.contains(line), "{version}: {wire:?}");
        written(&mut s);
    }
}

#[test]
fn frame_ends_are_kept_only_for_a_transport_that_sends_one_frame_per_write() {
    /// Records every write as it came.
    struct Writes(Vec<Vec<u8>>);
    impl std::io::Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let t0 = Instant::now();
    for framed in [false, true] {
        let mut s = open("1.2", "0,0", SessionConfig::default(), t0);
        s.set_frame_per_write(framed);
        s.start("/", t0).unwrap();
        s.feed(b"CONNECTED\nversion:1.2\n\n\0", t0);
        assert_eq!(s.poll_event(t0).unwrap(), Some(Event::Connected));
        s.send_to("/queue/a", b"one", t0).unwrap();
        s.send_to("/queue/a", b"two", t0).unwrap();
        let headers = [("destination", "/queue/b"), ("k", "v")];
        s.send_parts(Command::Send, headers.into_iter(), b"three", t0)
            .unwrap();
        let mut w = Writes(Vec::new());
        s.write_output(&mut w).unwrap();
        let frames = w.0.iter().map(|b| b.iter().filter(|&&b| b == 0).count());
        let frames: Vec<usize> = frames.collect();
        if framed {
            assert_eq!(frames, [1, 1, 1, 1], "CONNECT, then each SEND on its own");
        } else {
            assert_eq!(frames, [4], "all at once");
        }
    }
}

#[test]
fn without_auto_content_length_a_send_carries_one_only_when_it_needs_it() {
    let t0 = Instant::now();
    let cfg = SessionConfig {
        auto_content_length: false,
        ..SessionConfig::default()
    };
    let mut s = open("1.2", "0,0", cfg, t0);
    s.send_to("/queue/a", b"text", t0).unwrap();
    s.send_to("/queue/a", b"text again", t0).unwrap();
    s.send_to("/queue/a", b"nul\0inside", t0).unwrap();
    let given = [("destination", "/queue/a"), ("content-length", "99")];
    s.send_parts(Command::Send, given.into_iter(), b"given", t0)
        .unwrap();
    let wire = String::from_utf8(s.output().to_vec()).unwrap();
    assert_eq!(
        wire,
        "SEND\ndestination:/queue/a\n\ntext\0\
         SEND\ndestination:/queue/a\n\ntext again\0\
         SEND\ndestination:/queue/a\ncontent-length:10\n\nnul\0inside\0\
         SEND\ndestination:/queue/a\ncontent-length:5\n\ngiven\0"
    );
    // Other frames are as always; and the default writes it on every SEND.
    let mut d = open("1.2", "0,0", SessionConfig::default(), t0);
    d.send_to("/queue/a", b"text", t0).unwrap();
    assert!(String::from_utf8_lossy(d.output()).contains("content-length:4\n"));
}

#[test]
fn same_bytes_is_equality() {
    let words = [
        "",
        "a",
        "/queue/a",
        "/queue/b",
        "/queue/sink",
        "/queue/sinK",
        "/q/x",
    ];
    let long: Vec<String> = (0..40).map(|n| "d".repeat(n)).collect();
    for a in words.iter().copied().chain(long.iter().map(String::as_str)) {
        for b in words.iter().copied().chain(long.iter().map(String::as_str)) {
            assert_eq!(
                super::same_bytes(a.as_bytes(), b.as_bytes()),
                a == b,
                "{a:?} {b:?}"
            );
        }
        // One byte different, anywhere.
        for at in 0..a.len() {
            let mut c = a.as_bytes().to_vec();
            c[at] ^= 1;
            assert!(!super::same_bytes(a.as_bytes(), &c), "{a:?} {at}");
        }
    }
}
