//! STOMP over WebSocket with RabbitMQ's Web-STOMP plugin: ws://127.0.0.1:15674/ws and
//! wss://127.0.0.1:15673/ws, each protocol version, heart-beats inside WebSocket messages.
//! Skips when the broker is not running, unless `STOMPY_REQUIRE_BROKERS=1`.
#![cfg(feature = "websocket")]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use stompy::{ClientBuilder, Error, StompClient, Version};

use common::{broker_up, round_trip, smalls_then_large, unique_queue};

const WS_PORT: u16 = 15674;
#[cfg(feature = "tls")]
const WSS_PORT: u16 = 15673;

fn ws(version: Version) -> ClientBuilder {
    StompClient::builder()
        .address(format!("ws://127.0.0.1:{WS_PORT}/ws"))
        .unwrap()
        .login("guest", "guest")
        .host("/")
        .versions([version])
}

#[cfg(feature = "tls")]
fn wss(version: Version) -> ClientBuilder {
    let tls = stompy::TlsConfig::new()
        .ca_file(common::broker_ca())
        .expect("broker CA");
    StompClient::builder()
        .address(format!("wss://127.0.0.1:{WSS_PORT}/ws"))
        .unwrap()
        .login("guest", "guest")
        .host("/")
        .versions([version])
        .tls(tls)
}

#[track_caller]
fn check_round_trip(builder: ClientBuilder, version: Version, tag: &str) {
    let mut client = builder.connect().expect("connect");
    assert_eq!(client.version(), version);
    round_trip(&mut client, tag, "über websocket");
    client.disconnect().expect("disconnect");
}

#[test]
fn ws_round_trip_with_each_version() {
    if !broker_up("RabbitMQ Web-STOMP", WS_PORT, false) {
        return;
    }
    for v in [Version::V1_0, Version::V1_1, Version::V1_2] {
        check_round_trip(ws(v), v, &format!("ws-{v:?}"));
    }
}

#[cfg(feature = "tls")]
#[test]
fn wss_round_trip_with_each_version() {
    if !broker_up("RabbitMQ Web-STOMP over TLS", WSS_PORT, true) {
        return;
    }
    for v in [Version::V1_0, Version::V1_1, Version::V1_2] {
        check_round_trip(wss(v), v, &format!("wss-{v:?}"));
    }
}

#[cfg(feature = "tls")]
#[test]
fn wss_refuses_an_untrusted_certificate() {
    if !broker_up("RabbitMQ Web-STOMP over TLS", WSS_PORT, true) {
        return;
    }
    let r = StompClient::builder()
        .address(format!("wss://127.0.0.1:{WSS_PORT}/ws"))
        .unwrap()
        .login("guest", "guest")
        .connect();
    assert!(
        matches!(&r, Err(e @ Error::Tls(_)) if e.report().to_string().contains("UnknownIssuer")),
        "{:?}",
        r.err()
    );
}

#[test]
fn many_frames_and_a_large_body_cross_message_boundaries() {
    if !broker_up("RabbitMQ Web-STOMP", WS_PORT, false) {
        return;
    }
    let mut client = ws(Version::V1_2).connect().expect("connect");
    // RabbitMQ sends STOMP frames as text messages (unless `web_stomp.ws_frame = binary`),
    // so a body must be UTF-8 to cross it; NUL is.
    let big: String = (0..100_000u32)
        .map(|i| ['a', 'é', '\0', '€', '\n'][i as usize % 5])
        .collect();
    let (tag, wait) = ("ws-bulk", Duration::from_secs(5));
    smalls_then_large(&mut client, tag, 200, big.as_bytes(), wait);
    client.disconnect().unwrap();
}

/// Heart-beats of 1 s both ways (RabbitMQ's floor) keep a connection that carries nothing
/// else alive for 4 s.
#[track_caller]
fn check_heart_beats(builder: ClientBuilder, tag: &str) {
    let mut client = builder
        .heart_beat(Duration::from_secs(1), Duration::from_secs(1))
        .connect()
        .expect("connect");
    let (send, want) = client.heart_beat();
    assert_eq!(send, Some(Duration::from_secs(1)));
    assert_eq!(want, Some(Duration::from_secs(1)));
    let started = Instant::now();
    match client.recv_timeout(Duration::from_secs(4)) {
        Err(Error::Timeout(stompy::Timeout::Recv(_))) => {}
        other => panic!("expected a quiet 4 s, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_secs(4));
    assert!(client.is_connected());
    round_trip(&mut client, tag, "still here");
    client.disconnect().unwrap();
}

#[test]
fn heart_beats_keep_an_idle_ws_connection_alive() {
    if broker_up("RabbitMQ Web-STOMP", WS_PORT, false) {
        check_heart_beats(ws(Version::V1_2), "ws-heartbeat");
    }
}

#[cfg(feature = "tls")]
#[test]
fn heart_beats_keep_an_idle_wss_connection_alive() {
    if broker_up("RabbitMQ Web-STOMP over TLS", WSS_PORT, true) {
        check_heart_beats(wss(Version::V1_1), "wss-heartbeat");
    }
}

#[test]
fn a_refused_upgrade_is_a_websocket_error() {
    if !broker_up("RabbitMQ Web-STOMP", WS_PORT, false) {
        return;
    }
    let r = StompClient::builder()
        .address(format!("ws://127.0.0.1:{WS_PORT}/no-such-path"))
        .unwrap()
        .connect();
    assert!(
        matches!(&r, Err(e @ Error::WebSocket(_)) if e.report().to_string().contains("404")),
        "{:?}",
        r.err()
    );
}

#[test]
fn a_silent_server_times_out_the_upgrade() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0; 1024];
        let _ = s.read(&mut buf);
        thread::sleep(Duration::from_millis(1500));
        let _ = s.write_all(b"HTTP/1.1 500 Too Late\r\n\r\n");
    });
    let started = Instant::now();
    let r = StompClient::builder()
        .address(format!("ws://127.0.0.1:{port}/ws"))
        .unwrap()
        .connect_timeout(Duration::from_millis(500))
        .reconnect_policy(stompy::ReconnectPolicy::once())
        .connect();
    assert!(matches!(r, Err(Error::Timeout(_))), "{:?}", r.err());
    assert!(started.elapsed() < Duration::from_millis(1400));
    server.join().unwrap();
}

/// What the scripted WebSocket server saw.
#[derive(Debug, Default)]
struct Seen {
    offered: String,
    frames: Vec<String>,
    pong: Option<Vec<u8>>,
}

/// A WebSocket STOMP server for one connection that sends what brokers may send: a CONNECTED
/// split over two text messages, a MESSAGE with a non-UTF-8 body in a binary message, a ping,
/// then a Close.
#[allow(clippy::result_large_err)] // the handshake callback's type is tungstenite's
fn scripted_ws_server() -> (u16, thread::JoinHandle<Seen>) {
    use tungstenite::handshake::server::{Request, Response};
    use tungstenite::Message;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut seen = Seen::default();
        let mut ws = tungstenite::accept_hdr(tcp, |req: &Request, mut resp: Response| {
            let offered = req.headers().get("Sec-WebSocket-Protocol").unwrap();
            seen.offered = offered.to_str().unwrap().to_owned();
            let chosen = "v12.stomp".parse().unwrap();
            resp.headers_mut().insert("Sec-WebSocket-Protocol", chosen);
            Ok(resp)
        })
        .unwrap();
        // The next STOMP frame, or "" for a pong.
        let next_frame =
            |ws: &mut tungstenite::WebSocket<_>, seen: &mut Seen| match ws.read().unwrap() {
                // Frames of UTF-8 come in text messages, one frame per message.
                Message::Text(t) => {
                    let text = t.to_string();
                    assert!(text.ends_with('\0'), "one whole frame: {text:?}");
                    assert_eq!(text.matches('\0').count(), 1, "one frame: {text:?}");
                    seen.frames.push(text.clone());
                    text
                }
                Message::Pong(p) => {
                    seen.pong = Some(p.to_vec());
                    String::new()
                }
                other => panic!("unexpected {other:?}"),
            };
        assert!(next_frame(&mut ws, &mut seen).starts_with("CONNECT\n"));
        ws.send(Message::text("CONNECTED\nversion:1.2\n")).unwrap();
        ws.send(Message::text("\n\0")).unwrap();
        let subscribe = next_frame(&mut ws, &mut seen);
        let id = subscribe
            .lines()
            .find_map(|l| l.strip_prefix("id:"))
            .unwrap()
            .to_owned();
        let mut message = format!(
            "MESSAGE\nsubscription:{id}\nmessage-id:1\ndestination:/queue/x\ncontent-length:4\n\n"
        )
        .into_bytes();
        message.extend_from_slice(&[0xff, 0, 0xfe, b'\n', 0, b'\n']);
        ws.send(Message::binary(message)).unwrap();
        ws.send(Message::Ping(b"are you there".to_vec().into()))
            .unwrap();
        while seen.pong.is_none() {
            next_frame(&mut ws, &mut seen);
        }
        ws.close(None).unwrap();
        while ws.read().is_ok() {}
        seen
    });
    (port, handle)
}

#[test]
fn scripted_server_split_messages_binary_ping_and_close() {
    let (port, server) = scripted_ws_server();
    let mut client = StompClient::builder()
        .address(format!("ws://127.0.0.1:{port}/stomp"))
        .unwrap()
        .connect()
        .expect("connect");
    assert_eq!(client.version(), Version::V1_2);
    client.subscribe("/queue/x", stompy::AckMode::Auto).unwrap();
    let frame = client
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(frame.body(), &[0xff, 0, 0xfe, b'\n']);
    let end = client.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(end.is_none(), "a WebSocket Close ends the stream: {end:?}");
    // The server closed without the client's DISCONNECT: not a clean close.
    assert!(
        matches!(client.close_reason(), Some(stompy::Error::ConnectionClosed)),
        "{:?}",
        client.close_reason()
    );
    let seen = server.join().unwrap();
    assert_eq!(seen.offered, "v10.stomp, v11.stomp, v12.stomp");
    assert_eq!(seen.pong.as_deref(), Some(&b"are you there"[..]));
    assert!(
        seen.frames[1].starts_with("SUBSCRIBE\n"),
        "{:?}",
        seen.frames
    );
}

#[test]
fn a_non_utf8_body_in_rabbitmqs_text_frames_is_a_clear_error() {
    if !broker_up("RabbitMQ Web-STOMP", WS_PORT, false) {
        return;
    }
    let mut client = ws(Version::V1_2).connect().expect("connect");
    let queue = unique_queue("ws-binary");
    client
        .subscription(&queue)
        .wait_receipt(Duration::from_secs(5))
        .subscribe()
        .unwrap();
    // Sent in a binary message, which RabbitMQ accepts; it delivers in a text message.
    client.send(&queue, [0xff, 0xfe, 0x00, 0x01]).unwrap();
    match client.recv_timeout(Duration::from_secs(5)) {
        // A broker configured with `web_stomp.ws_frame = binary` delivers it intact.
        Ok(Some(f)) => assert_eq!(f.body(), &[0xff, 0xfe, 0x00, 0x01]),
        Err(e @ Error::WebSocket(_)) => assert!(e.to_string().contains("ws_frame = binary"), "{e}"),
        other => panic!("unexpected {other:?}"),
    }
}
