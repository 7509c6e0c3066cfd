//! The pull API end to end against the embedded broker, RabbitMQ and ActiveMQ, for every
//! protocol version each speaks. The real brokers are skipped (with a note) when they are not
//! running, unless STOMPY_REQUIRE_BROKERS=1.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use common::{real_brokers, unique_queue, RealBroker};
use stompy::{AckMode, Command, Error, Frame, StompClient, Timeout, Version};

const T: Duration = Duration::from_secs(10);

fn connect(b: &RealBroker, v: Version) -> StompClient {
    StompClient::builder()
        .address(b.addr().as_str())
        .unwrap()
        .login(b.login, b.passcode)
        .host(b.vhost)
        .versions([v])
        .connect()
        .unwrap_or_else(|e| panic!("{} {v}: connect: {e}", b.name))
}

/// Runs `test` for the embedded broker, every reachable real broker and every version each
/// speaks.
fn each(test: impl Fn(&RealBroker, Version, &str)) {
    let embedded = stompy::broker::Broker::builder()
        .user("guest", "guest")
        .bind("127.0.0.1:0")
        .unwrap();
    let mut targets = vec![RealBroker {
        name: "stompy",
        host: "127.0.0.1",
        port: embedded.addr().port(),
        tls_port: 0,
        login: "guest",
        passcode: "guest",
        vhost: "/",
        versions: &Version::ALL,
    }];
    targets.extend(real_brokers());
    for b in targets {
        for &v in b.versions {
            let ctx = format!("{} STOMP {v}", b.name);
            test(&b, v, &ctx);
        }
    }
}

/// The strongest client ack mode the version has.
fn individual(v: Version) -> AckMode {
    if v == Version::V1_0 {
        AckMode::Client
    } else {
        AckMode::ClientIndividual
    }
}

fn subscribe(c: &mut StompClient, q: &str, ack: AckMode) -> String {
    c.subscription(q)
        .ack(ack)
        .wait_receipt(T)
        .subscribe()
        .unwrap()
}

fn send_confirmed(c: &mut StompClient, q: &str, body: &str) {
    c.message(q)
        .body(body)
        .send_and_wait(T)
        .unwrap_or_else(|e| panic!("send {body:?} to {q}: {e}"));
}

fn next(c: &mut StompClient, ctx: &str) -> Frame {
    c.recv_timeout(T)
        .unwrap_or_else(|e| panic!("{ctx}: recv: {e}"))
        .expect("open connection")
}

fn body(f: &Frame) -> String {
    f.text().unwrap().into_owned()
}

#[test]
fn connected_frame_names_version_server_and_session() {
    each(|b, v, ctx| {
        let c = connect(b, v);
        assert_eq!(c.version(), v, "{ctx}");
        let f = c.connected_frame().unwrap();
        let server = f.get("server").unwrap_or_default();
        assert!(server.contains(b.name), "{ctx}: server {server:?}");
        if v > Version::V1_0 {
            assert_eq!(f.get("version"), Some(v.as_str()), "{ctx}");
        }
        assert!(f.get("session").is_some(), "{ctx}");
    });
}

#[test]
fn headers_escaping_and_binary_bodies_round_trip() {
    each(|b, v, ctx| {
        let mut c = connect(b, v);
        let q = unique_queue("roundtrip");
        subscribe(&mut c, &q, AckMode::Auto);
        let tricky = match v {
            Version::V1_0 => "plain value",
            Version::V1_1 => "a:b\nc\\d",
            Version::V1_2 => "a:b\nc\\d\re",
        };
        let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        c.message(&q)
            .body(binary.clone())
            .header("x-tricky", tricky)
            .header("x-first", "1")
            .content_type("application/octet-stream")
            .send_and_wait(T)
            .unwrap();
        let f = next(&mut c, ctx);
        assert_eq!(f.command(), Command::Message, "{ctx}");
        assert_eq!(f.destination(), Some(q.as_str()), "{ctx}");
        assert_eq!(f.get("x-tricky"), Some(tricky), "{ctx}");
        assert_eq!(f.get("x-first"), Some("1"), "{ctx}");
        assert_eq!(f.body(), &binary[..], "{ctx}: NULs inside the body survive");
        assert!(
            f.message_id().is_some() && f.subscription().is_some(),
            "{ctx}"
        );
    });
}

#[test]
fn json_bodies_round_trip() {
    each(|b, v, ctx| {
        let mut c = connect(b, v);
        let q = unique_queue("json");
        subscribe(&mut c, &q, AckMode::Auto);
        c.send_json(&q, &serde_json::json!({"n": 7, "s": "x"}))
            .unwrap();
        let f = next(&mut c, ctx);
        let val: serde_json::Value = f.json().unwrap();
        assert_eq!(val["n"], 7, "{ctx}");
        assert_eq!(f.content_type(), Some("application/json"), "{ctx}");
    });
}

#[test]
fn auto_ack_happens_only_when_the_application_comes_back() {
    each(|b, v, ctx| {
        let q = unique_queue("autoack");
        let mut producer = connect(b, v);
        for body in ["one", "two"] {
            send_confirmed(&mut producer, &q, body);
        }
        // A consumer sees "one" and dies before asking for more: "one" is not ACKed.
        let mut a = connect(b, v);
        subscribe(&mut a, &q, individual(v));
        assert_eq!(body(&next(&mut a, ctx)), "one", "{ctx}");
        drop(a);
        // The next one gets "one" again (redelivered), then "two" (which ACKs "one"), and is
        // dropped without coming back (no graceful `disconnect()`): "two" stays un-ACKed.
        let mut bc = connect(b, v);
        subscribe(&mut bc, &q, individual(v));
        let again = next(&mut bc, ctx);
        assert_eq!(body(&again), "one", "{ctx}");
        assert!(again.is_redelivered(), "{ctx}: {again:?}");
        assert_eq!(body(&next(&mut bc, ctx)), "two", "{ctx}");
        drop(bc);
        // Only "two" is left.
        let mut c = connect(b, v);
        subscribe(&mut c, &q, individual(v));
        send_confirmed(&mut producer, &q, "marker");
        assert_eq!(body(&next(&mut c, ctx)), "two", "{ctx}");
        assert_eq!(body(&next(&mut c, ctx)), "marker", "{ctx}");
    });
}

#[test]
fn a_graceful_disconnect_acks_the_message_just_handled() {
    each(|b, v, ctx| {
        let q = unique_queue("graceful");
        let mut producer = connect(b, v);
        send_confirmed(&mut producer, &q, "one");
        let mut a = connect(b, v);
        subscribe(&mut a, &q, individual(v));
        assert_eq!(body(&next(&mut a, ctx)), "one", "{ctx}");
        a.disconnect().unwrap(); // the application stopped after handling "one"
        let mut c = connect(b, v);
        subscribe(&mut c, &q, individual(v));
        send_confirmed(&mut producer, &q, "marker");
        assert_eq!(body(&next(&mut c, ctx)), "marker", "{ctx}: no redelivery");
    });
}

#[test]
fn client_mode_ack_is_cumulative() {
    each(|b, v, ctx| {
        let q = unique_queue("cumulative");
        let mut c = connect(b, v);
        for body in ["1", "2", "3"] {
            send_confirmed(&mut c, &q, body);
        }
        c.subscription(&q)
            .ack(AckMode::Client)
            .auto_ack(false)
            .wait_receipt(T)
            .subscribe()
            .unwrap();
        let _one = next(&mut c, ctx);
        let two = next(&mut c, ctx);
        let _three = next(&mut c, ctx);
        c.ack(&two).unwrap(); // acknowledges "1" and "2"
        c.disconnect().unwrap();
        let mut d = connect(b, v);
        subscribe(&mut d, &q, AckMode::Auto);
        send_confirmed(&mut d, &q, "marker");
        assert_eq!(body(&next(&mut d, ctx)), "3", "{ctx}");
        assert_eq!(body(&next(&mut d, ctx)), "marker", "{ctx}");
    });
}

#[test]
fn nack_is_refused_on_1_0_and_rejects_the_message_on_later_versions() {
    each(|b, v, ctx| {
        let q = unique_queue("nack");
        let mut c = connect(b, v);
        c.subscription(&q)
            .ack(individual(v))
            .auto_ack(false)
            .wait_receipt(T)
            .subscribe()
            .unwrap();
        send_confirmed(&mut c, &q, "bad");
        let f = next(&mut c, ctx);
        if v == Version::V1_0 {
            assert!(matches!(c.nack(&f), Err(Error::Invalid(_))), "{ctx}");
            return;
        }
        c.nack(&f).unwrap();
        send_confirmed(&mut c, &q, "marker");
        let g = next(&mut c, ctx);
        if b.name != "ActiveMQ" {
            // RabbitMQ and the embedded broker requeue a NACKed message at once.
            assert_eq!(
                (body(&g).as_str(), g.is_redelivered()),
                ("bad", true),
                "{ctx}"
            );
            c.ack(&g).unwrap();
            assert_eq!(body(&next(&mut c, ctx)), "marker", "{ctx}");
        } else {
            // ActiveMQ treats it as poison and never redelivers it.
            assert_eq!(body(&g), "marker", "{ctx}");
        }
        c.ack(&f).ok();
    });
}

#[test]
fn loop_with_stops_on_some_and_a_panic_leaves_the_message_unacked() {
    each(|b, v, ctx| {
        let q = unique_queue("loop");
        let mut c = connect(b, v);
        subscribe(&mut c, &q, individual(v));
        for body in ["a", "b", "stop", "after"] {
            send_confirmed(&mut c, &q, body);
        }
        let mut seen = Vec::new();
        let got = c
            .loop_with(|_, f| {
                seen.push(body(&f));
                (body(&f) == "stop").then_some(42)
            })
            .unwrap();
        assert_eq!(
            (got, seen),
            (Some(42), vec!["a".into(), "b".into(), "stop".into()]),
            "{ctx}"
        );
        let crashed = catch_unwind(AssertUnwindSafe(|| {
            c.loop_with(|_, f| -> Option<()> { panic!("cannot handle {:?}", body(&f)) })
        }));
        assert!(crashed.is_err(), "{ctx}");
        // Even when the client is used again after the panic, "after" is not ACKed.
        send_confirmed(&mut c, &q, "marker");
        drop(c);
        let mut d = connect(b, v);
        subscribe(&mut d, &q, AckMode::Auto);
        let f = next(&mut d, ctx);
        assert_eq!(
            (body(&f).as_str(), f.is_redelivered()),
            ("after", true),
            "{ctx}"
        );
    });
}

#[test]
fn transactions_commit_all_or_abort_on_drop() {
    each(|b, v, ctx| {
        let q = unique_queue("tx");
        let mut c = connect(b, v);
        subscribe(&mut c, &q, AckMode::Auto);
        {
            let mut tx = c.transaction().unwrap();
            tx.send(&q, "dropped-1").unwrap();
            tx.send(&q, "dropped-2").unwrap();
            // dropped without commit: ABORT
        }
        let mut tx = c.transaction().unwrap();
        tx.send(&q, "kept-1").unwrap();
        tx.message(&q).unwrap().body("kept-2").send().unwrap();
        tx.commit_and_wait(T).unwrap();
        assert_eq!(body(&next(&mut c, ctx)), "kept-1", "{ctx}");
        assert_eq!(body(&next(&mut c, ctx)), "kept-2", "{ctx}");
        let mut tx = c.transaction().unwrap();
        tx.send(&q, "aborted").unwrap();
        tx.abort().unwrap();
        send_confirmed(&mut c, &q, "marker");
        assert_eq!(body(&next(&mut c, ctx)), "marker", "{ctx}");
    });
}

#[test]
fn receipt_waits_keep_messages_for_recv_in_order() {
    each(|b, v, ctx| {
        let q = unique_queue("receipt");
        let mut c = connect(b, v);
        subscribe(&mut c, &q, AckMode::Auto);
        c.send(&q, "first").unwrap();
        c.send(&q, "second").unwrap();
        send_confirmed(&mut c, &q, "third");
        // Let the messages arrive while waiting for another receipt.
        let r = c
            .message("/queue/stompy-unused")
            .receipt()
            .send()
            .unwrap()
            .unwrap();
        c.wait_for_receipt(&r, T).unwrap();
        let got: Vec<_> = (0..3).map(|_| body(&next(&mut c, ctx))).collect();
        assert_eq!(got, ["first", "second", "third"], "{ctx}");
    });
}

#[test]
fn unsubscribe_stops_delivery() {
    each(|b, v, ctx| {
        let q = unique_queue("unsub");
        let mut c = connect(b, v);
        let id = subscribe(&mut c, &q, AckMode::Auto);
        send_confirmed(&mut c, &q, "before");
        assert_eq!(body(&next(&mut c, ctx)), "before", "{ctx}");
        c.unsubscribe(&id).unwrap();
        assert!(c.subscriptions().is_empty());
        send_confirmed(&mut c, &q, "after");
        let err = c.recv_timeout(Duration::from_millis(300)).unwrap_err();
        assert!(
            matches!(err, Error::Timeout(Timeout::Recv(_))),
            "{ctx}: {err:?}"
        );
        let mut d = connect(b, v);
        subscribe(&mut d, &q, AckMode::Auto);
        assert_eq!(body(&next(&mut d, ctx)), "after", "{ctx}");
    });
}

#[test]
fn broker_errors_come_inline_and_the_connection_goes_on() {
    each(|b, v, ctx| {
        let q = unique_queue("errors");
        let mut c = connect(b, v);
        subscribe(&mut c, &q, AckMode::Auto);
        // A SEND with no destination: RabbitMQ and ActiveMQ answer ERROR and keep the
        // connection; the embedded broker closes it after the ERROR, as the spec says.
        c.send_frame(&Frame::new(Command::Send).with_body("x"))
            .unwrap();
        let mut frames = c.frames();
        let first = frames.next().unwrap();
        let err = first.unwrap_err();
        assert!(err.broker_error().is_some(), "{ctx}: {err:?}");
        if b.name == "stompy" {
            assert!(
                frames.next().is_none(),
                "{ctx}: iteration ends at the close"
            );
            let reason = c.close_reason().and_then(|e| e.broker_error());
            assert!(
                reason.is_some(),
                "{ctx}: the close is explained by the ERROR"
            );
            return;
        }
        send_confirmed(&mut c, &q, "still here");
        assert_eq!(body(&next(&mut c, ctx)), "still here", "{ctx}");
    });
}

#[test]
fn a_wrong_password_is_a_broker_error() {
    each(|b, v, ctx| {
        let err = StompClient::builder()
            .address(b.addr().as_str())
            .unwrap()
            .login(b.login, "wrong-password")
            .host(b.vhost)
            .versions([v])
            .connect()
            .unwrap_err();
        let be = err
            .broker_error()
            .unwrap_or_else(|| panic!("{ctx}: {err:?}"));
        assert!(!be.message.is_empty(), "{ctx}");
    });
}

#[test]
fn disconnect_closes_and_recv_then_reads_none() {
    each(|b, v, ctx| {
        let mut c = connect(b, v);
        c.disconnect().unwrap();
        assert!(!c.is_connected(), "{ctx}");
        assert!(c.recv().unwrap().is_none(), "{ctx}");
        assert!(c.close_reason().is_none(), "{ctx}");
        assert!(
            matches!(c.send("/queue/x", "y"), Err(Error::NotConnected(_))),
            "{ctx}"
        );
    });
}

#[test]
fn topics_fan_out_to_every_subscriber() {
    each(|b, v, ctx| {
        let t = common::unique_topic("fanout");
        let mut a = connect(b, v);
        let mut c = connect(b, v);
        subscribe(&mut a, &t, AckMode::Auto);
        subscribe(&mut c, &t, AckMode::Auto);
        send_confirmed(&mut a, &t, "news");
        assert_eq!(body(&next(&mut a, ctx)), "news", "{ctx}");
        assert_eq!(body(&next(&mut c, ctx)), "news", "{ctx}");
    });
}

#[test]
fn the_simplest_connect_works_on_rabbitmq() {
    // No login (RabbitMQ's STOMP plugin uses its default user) and no host header setting.
    if let Some(b) = common::rabbitmq() {
        let mut c = StompClient::connect(b.addr().as_str()).unwrap();
        assert_eq!(c.version(), Version::V1_2);
        common::round_trip(&mut c, "simplest", "hi");
    }
}

#[test]
fn without_auto_content_length_activemq_delivers_text_messages() {
    // ActiveMQ makes a SEND with content-length a BytesMessage and delivers it with one; a
    // SEND without it becomes a TextMessage, delivered without one.
    let Some(b) = common::activemq() else { return };
    let q = unique_queue("text-message");
    let mut c = StompClient::builder()
        .address(b.addr().as_str())
        .unwrap()
        .login(b.login, b.passcode)
        .auto_content_length(false)
        .connect()
        .unwrap();
    subscribe(&mut c, &q, AckMode::Auto);
    send_confirmed(&mut c, &q, "as text");
    let text = next(&mut c, "ActiveMQ");
    assert_eq!(body(&text), "as text");
    assert_eq!(text.get("content-length"), None, "a TextMessage: {text:?}");
    // A body with a NUL still needs the length, and gets it.
    c.send(&q, b"a\0b").unwrap();
    let bytes = next(&mut c, "ActiveMQ");
    assert_eq!(bytes.body(), b"a\0b");
    assert_eq!(
        bytes.get("content-length"),
        Some("3"),
        "a BytesMessage: {bytes:?}"
    );
    // The default: every SEND carries it.
    let mut d = connect(&b, Version::V1_2);
    d.send(&q, "as bytes").unwrap();
    let default = next(&mut c, "ActiveMQ");
    assert_eq!(body(&default), "as bytes");
    assert_eq!(default.get("content-length"), Some("8"), "{default:?}");
}

#[test]
fn percent_encoded_credentials_in_a_url_log_in_to_rabbitmq() {
    // scripts/brokers.sh adds this user: name `url+user`, password `p@ss/w:rd%`.
    let Some(rabbit) = common::rabbitmq() else {
        return;
    };
    let url = format!("stomp://url%2Buser:p%40ss%2Fw%3Ard%25@{}", rabbit.addr());
    let mut c = StompClient::connect(url.as_str()).expect("decoded credentials log in");
    common::round_trip(&mut c, "url-user", "decoded");
    c.disconnect().unwrap();
    // Undecoded, the same characters are another password: refused.
    let raw = format!("stomp://url%2Buser:p%40ss@{}", rabbit.addr());
    assert!(StompClient::connect(raw.as_str()).is_err());
}

/// `recv_ref` lends the frames `recv` makes: the same headers (escaped ones too) and bodies
/// (small, large, binary), and the same auto-ACKs: a message lent and not come back for is
/// redelivered, one come back for is not.
#[test]
fn lent_frames_are_the_frames_recv_makes_and_are_auto_acked_alike() {
    each(|b, v, ctx| {
        let q = unique_queue("lent");
        let mut producer = connect(b, v);
        // An escaped value (1.1+) is read line by line, a plain one indexed: both are lent.
        let escaped = match v {
            Version::V1_0 => "plain value", // nothing is escaped (RabbitMQ escapes anyway)
            _ => "a:b\nc\\d",
        };
        let messages: Vec<(&str, Vec<u8>)> = vec![
            ("plain", b"one".to_vec()),
            (escaped, vec![b'x'; 20_000]),
            ("plain", (0..=255u8).collect()),
            (escaped, b"last".to_vec()),
        ];
        for (value, body) in &messages {
            producer
                .message(&q)
                .header("x-lent", value)
                .body(body.clone())
                .send_and_wait(T)
                .unwrap_or_else(|e| panic!("{ctx}: send: {e}"));
        }
        let check = |f: stompy::FrameRef<'_>, i: usize| {
            let (value, body) = &messages[i];
            assert_eq!(f.command(), Command::Message, "{ctx}");
            assert_eq!(f.get("x-lent"), Some(*value), "{ctx}: message {i}");
            assert_eq!(f.body(), &body[..], "{ctx}: message {i}");
            assert_eq!(f.destination(), Some(q.as_str()), "{ctx}");
            assert_eq!(f.to_frame().as_ref().body(), &body[..], "{ctx}");
        };
        // Lent the first and gone without coming back: it comes again.
        let mut a = connect(b, v);
        subscribe(&mut a, &q, individual(v));
        let f = a.recv_ref_timeout(T).unwrap().expect("open");
        check(f, 0);
        drop(a);
        // Every message lent in order (each ACKed on the next call), the first redelivered;
        // the last is not come back for.
        let mut c = connect(b, v);
        subscribe(&mut c, &q, individual(v));
        for i in 0..messages.len() {
            let f = c.recv_ref_timeout(T).unwrap().expect("open");
            check(f, i);
            // The first was delivered before (later ones may have been too, prefetched).
            assert!(i > 0 || f.is_redelivered(), "{ctx}: message {i}");
        }
        drop(c);
        // Only the last is left, made this time.
        let mut d = connect(b, v);
        subscribe(&mut d, &q, individual(v));
        send_confirmed(&mut producer, &q, "marker");
        let last = next(&mut d, ctx);
        check(last.as_ref(), messages.len() - 1);
        assert_eq!(body(&next(&mut d, ctx)), "marker", "{ctx}");
    });
}
