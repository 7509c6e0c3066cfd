//! STOMP over WebSocket with the embedded broker: the stompy client on `ws://` (and `wss://`)
//! with every version, heart-beats, a 1 MiB body; subprotocol negotiation and text messages
//! with a bare tungstenite client; stomp.py's WebSocket transport when a Python with stomp.py
//! is around.
#![cfg(all(feature = "broker", feature = "websocket"))]

mod common;

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stompy::broker::{Broker, BrokerHandle, ListenerKind};
use stompy::{ClientBuilder, Error, StompClient, Version};
use tungstenite::client::ClientRequestBuilder;
use tungstenite::{Message, WebSocket};

use common::{plain_connect_is_refused, round_trip, smalls_then_large, unique_queue};

/// A broker with only a WebSocket listener, offering heart-beats every `hb_ms` both ways.
fn ws_broker(hb_ms: u64) -> BrokerHandle {
    Broker::builder()
        .heart_beat(hb_ms, hb_ms)
        .listen_ws("127.0.0.1:0")
        .start()
        .expect("broker")
}

fn ws_client(addr: SocketAddr, version: Version) -> ClientBuilder {
    StompClient::builder()
        .address(format!("ws://127.0.0.1:{}/ws", addr.port()))
        .unwrap()
        .versions([version])
        .auto_reconnect(false)
}

#[test]
fn round_trip_with_each_version() {
    let broker = ws_broker(10_000);
    let addr = broker.addr_of(ListenerKind::WebSocket).unwrap();
    assert_eq!(broker.addr(), addr);
    for v in [Version::V1_0, Version::V1_1, Version::V1_2] {
        let mut client = ws_client(addr, v).connect().expect("connect");
        assert_eq!(client.version(), v);
        round_trip(&mut client, &format!("broker-ws-{v:?}"), "über websocket");
        client.disconnect().expect("disconnect");
    }
}

#[test]
fn heart_beats_travel_in_websocket_messages() {
    let broker = ws_broker(200);
    let addr = broker.addr();
    let mut client = ws_client(addr, Version::V1_2)
        .heart_beat(Duration::from_millis(200), Duration::from_millis(200))
        .connect()
        .expect("connect");
    let (send, want) = client.heart_beat();
    assert_eq!(send, Some(Duration::from_millis(200)));
    assert_eq!(want, Some(Duration::from_millis(200)));
    let started = Instant::now();
    match client.recv_timeout(Duration::from_millis(1500)) {
        Err(Error::Timeout(stompy::Timeout::Recv(_))) => {}
        other => panic!("expected a quiet 1.5 s, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert!(client.is_connected());
    round_trip(&mut client, "broker-ws-heartbeat", "still here");
    client.disconnect().unwrap();
}

#[test]
fn a_one_mebibyte_binary_body_crosses_both_ways() {
    let broker = ws_broker(10_000);
    let mut client = ws_client(broker.addr(), Version::V1_2)
        .connect()
        .expect("connect");
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 256) as u8).collect();
    smalls_then_large(
        &mut client,
        "broker-ws-large",
        50,
        &big,
        Duration::from_secs(10),
    );
    client.disconnect().unwrap();
}

/// A bare WebSocket client offering `protocols`; returns it and the subprotocol chosen.
fn raw_ws(addr: SocketAddr, protocols: &[&str]) -> (WebSocket<TcpStream>, Option<String>) {
    let uri = format!("ws://127.0.0.1:{}/stomp", addr.port())
        .parse()
        .unwrap();
    let request = protocols
        .iter()
        .fold(ClientRequestBuilder::new(uri), |r, p| {
            r.with_sub_protocol(*p)
        });
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (ws, response) = tungstenite::client(request, tcp).expect("upgrade");
    let chosen = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(|v| v.to_str().unwrap().to_owned());
    (ws, chosen)
}

/// The next data message's payload, as text.
fn next_text(ws: &mut WebSocket<TcpStream>) -> String {
    loop {
        match ws.read().expect("a message") {
            Message::Text(t) => return t.to_string(),
            Message::Binary(b) => return String::from_utf8(b.to_vec()).unwrap(),
            _ => {}
        }
    }
}

/// The status of the Close the broker sends after `last` (frames written as text messages).
fn close_code_after(frames: &[&str]) -> Option<u16> {
    let broker = ws_broker(10_000);
    let (mut ws, _) = raw_ws(broker.addr(), &["v12.stomp"]);
    for f in frames {
        ws.send(Message::text(*f)).unwrap();
    }
    loop {
        match ws.read() {
            Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
            Ok(_) => {}
            Err(e) => panic!("no Close from the broker: {e}"),
        }
    }
}

#[test]
fn the_broker_closes_a_websocket_with_1000_after_disconnect_and_1008_after_an_error() {
    let connect = "CONNECT\naccept-version:1.2\nhost:/\n\n\0";
    let disconnect = "DISCONNECT\nreceipt:bye\n\n\0";
    assert_eq!(close_code_after(&[connect, disconnect]), Some(1000));
    assert_eq!(close_code_after(&[connect, "BOGUS\n\n\0"]), Some(1008));
}

#[test]
fn the_highest_stomp_subprotocol_offered_is_chosen() {
    let broker = ws_broker(10_000);
    let cases: [(&[&str], Option<&str>); 5] = [
        (&["v10.stomp", "v11.stomp", "v12.stomp"], Some("v12.stomp")),
        (&["v10.stomp", "v11.stomp"], Some("v11.stomp")),
        (&["v10.stomp"], Some("v10.stomp")),
        (&["mqtt", "v11.stomp"], Some("v11.stomp")),
        (&[], None),
    ];
    for (offer, expected) in cases {
        let (mut ws, chosen) = raw_ws(broker.addr(), offer);
        assert_eq!(chosen.as_deref(), expected, "{offer:?}");
        ws.close(None).unwrap();
    }
}

#[test]
fn frames_in_text_messages_split_and_joined_anyhow() {
    let broker = ws_broker(10_000);
    let (mut ws, _) = raw_ws(broker.addr(), &["v12.stomp"]);
    let queue = unique_queue("broker-ws-text");
    // CONNECT split over two text messages.
    ws.send(Message::text("CONNECT\naccept-version:1.2\nhost:/\n"))
        .unwrap();
    ws.send(Message::text("\n\0")).unwrap();
    let connected = next_text(&mut ws);
    assert!(connected.starts_with("CONNECTED\n"), "{connected:?}");
    assert!(connected.contains("version:1.2\n"), "{connected:?}");
    // SUBSCRIBE and SEND in one text message.
    let both = format!(
        "SUBSCRIBE\nid:0\ndestination:{queue}\n\n\0SEND\ndestination:{queue}\n\nhello text\0"
    );
    ws.send(Message::text(both)).unwrap();
    let mut got = String::new();
    while !got.contains('\0') {
        got.push_str(&next_text(&mut ws));
    }
    assert!(got.starts_with("MESSAGE\n"), "{got:?}");
    assert!(got.ends_with("\n\nhello text\0"), "{got:?}");
    ws.send(Message::text("DISCONNECT\nreceipt:bye\n\n\0"))
        .unwrap();
    assert!(next_text(&mut ws).starts_with("RECEIPT\nreceipt-id:bye\n"));
}

/// The next data message: its payload, and whether it came as text.
fn next_message(ws: &mut WebSocket<TcpStream>) -> (Vec<u8>, bool) {
    loop {
        match ws.read().expect("a message") {
            Message::Text(t) => return (t.as_bytes().to_vec(), true),
            Message::Binary(b) => return (b.to_vec(), false),
            _ => {}
        }
    }
}

#[test]
fn each_frame_comes_in_a_message_of_its_own_text_when_it_is_utf8() {
    let broker = ws_broker(10_000);
    let (mut ws, _) = raw_ws(broker.addr(), &["v12.stomp"]);
    let queue = unique_queue("broker-ws-one-frame");
    ws.send(Message::text("CONNECT\naccept-version:1.2\nhost:/\n\n\0"))
        .unwrap();
    let (connected, text) = next_message(&mut ws);
    assert!(connected.starts_with(b"CONNECTED\n") && connected.ends_with(b"\0"));
    assert!(text);
    // Two messages wait in the queue; the SUBSCRIBE's receipt and both MESSAGEs then leave
    // the broker at once, in one write, yet arrive as three messages.
    let mut sends = format!("SEND\ndestination:{queue}\n\nfirst\0").into_bytes();
    sends.extend_from_slice(format!("SEND\ndestination:{queue}\ncontent-length:3\n\n").as_bytes());
    sends.extend_from_slice(&[0xff, 0, 0xfe, 0]);
    sends.extend_from_slice(b"SUBSCRIBE\nid:0\ndestination:");
    sends.extend_from_slice(format!("{queue}\nreceipt:sub\n\n\0").as_bytes());
    ws.send(Message::binary(sends)).unwrap();
    let (receipt, text) = next_message(&mut ws);
    assert_eq!(receipt, b"RECEIPT\nreceipt-id:sub\n\n\0");
    assert!(text);
    let (first, text) = next_message(&mut ws);
    assert!(first.starts_with(b"MESSAGE\n"), "{first:?}");
    assert!(first.ends_with(b"\n\nfirst\0"), "{first:?}");
    assert!(text);
    let (second, text) = next_message(&mut ws);
    assert!(second.starts_with(b"MESSAGE\n"), "{second:?}");
    assert!(
        second.ends_with(&[b'\n', b'\n', 0xff, 0, 0xfe, 0]),
        "{second:?}"
    );
    assert!(!text, "a body that is not UTF-8 comes in a binary message");
}

#[test]
fn a_request_that_is_not_an_upgrade_closes_only_its_connection() {
    let broker = ws_broker(10_000);
    let mut good = ws_client(broker.addr(), Version::V1_2)
        .connect()
        .expect("connect");
    plain_connect_is_refused(broker.addr());
    round_trip(&mut good, "broker-ws-survivor", "still here");
    let mut again = ws_client(broker.addr(), Version::V1_1)
        .connect()
        .expect("connect again");
    round_trip(&mut again, "broker-ws-again", "new one");
}

#[cfg(feature = "tls")]
mod wss {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};
    use stompy::broker::BrokerTls;
    use stompy::TlsConfig;

    /// A self-signed certificate for 127.0.0.1 and localhost, and its key, as PEM.
    fn self_signed() -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let names = vec!["localhost".into(), "127.0.0.1".into()];
        let cert = CertificateParams::new(names)
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn wss_round_trip_with_each_version() {
        let (cert, key) = self_signed();
        let broker = Broker::builder()
            .tls(BrokerTls::from_pem(&cert, key).unwrap())
            .listen_wss("127.0.0.1:0")
            .start()
            .expect("broker");
        let port = broker.addr_of(ListenerKind::WebSocketTls).unwrap().port();
        for v in [Version::V1_0, Version::V1_1, Version::V1_2] {
            let mut client = StompClient::builder()
                .address(format!("wss://127.0.0.1:{port}/ws"))
                .unwrap()
                .tls(TlsConfig::new().ca_pem(&cert).unwrap())
                .versions([v])
                .connect()
                .expect("connect");
            assert_eq!(client.version(), v);
            round_trip(&mut client, &format!("broker-wss-{v:?}"), "über wss");
            client.disconnect().unwrap();
        }
        let refused = StompClient::builder()
            .address(format!("wss://127.0.0.1:{port}/ws"))
            .unwrap()
            .auto_reconnect(false)
            .connect();
        assert!(
            matches!(&refused, Err(e @ Error::Tls(_)) if e.report().to_string().contains("UnknownIssuer"))
        );
    }

    #[test]
    fn wss_with_mutual_tls() {
        let (cert, key) = self_signed();
        let (client_cert, client_key) = self_signed();
        let tls = BrokerTls::from_pem(&cert, key)
            .unwrap()
            .require_client_cert(&client_cert)
            .unwrap();
        let broker = Broker::builder()
            .tls(tls)
            .listen_wss("127.0.0.1:0")
            .start()
            .unwrap();
        let url = format!("wss://127.0.0.1:{}/ws", broker.addr().port());
        let trusting = TlsConfig::new().ca_pem(&cert).unwrap();
        let refused = StompClient::builder()
            .address(&url)
            .unwrap()
            .tls(trusting.clone())
            .auto_reconnect(false)
            .connect();
        assert!(
            matches!(&refused, Err(e @ Error::Tls(_)) if e.report().to_string().contains("client certificate")),
            "{:?}",
            refused.err()
        );
        let mut client = StompClient::builder()
            .address(&url)
            .unwrap()
            .tls(trusting.client_cert_pem(&client_cert, &client_key).unwrap())
            .connect()
            .expect("connect with a client certificate");
        round_trip(&mut client, "broker-wss-mutual", "mutual wss");
    }

    #[test]
    fn one_broker_on_tcp_tls_ws_and_wss_at_once() {
        let (cert, key) = self_signed();
        let broker = Broker::builder()
            .tls(BrokerTls::from_pem(&cert, key).unwrap())
            .listen("127.0.0.1:0")
            .listen_tls("127.0.0.1:0")
            .listen_ws("127.0.0.1:0")
            .listen_wss("127.0.0.1:0")
            .start()
            .expect("broker");
        let kinds: Vec<ListenerKind> = broker.listeners().iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            [
                ListenerKind::Tcp,
                ListenerKind::Tls,
                ListenerKind::WebSocket,
                ListenerKind::WebSocketTls
            ]
        );
        let queue = unique_queue("broker-all-listeners");
        let mut consumer = StompClient::connect([broker.addr().to_string()]).unwrap();
        consumer
            .subscription(&queue)
            .wait_receipt(Duration::from_secs(5))
            .subscribe()
            .unwrap();
        for (kind, addr) in &broker.listeners()[1..] {
            let path = if kind.scheme().starts_with("ws") {
                "/ws"
            } else {
                ""
            };
            let url = format!("{}://127.0.0.1:{}{path}", kind.scheme(), addr.port());
            let mut producer = StompClient::builder()
                .address(&url)
                .unwrap()
                .tls(TlsConfig::new().ca_pem(&cert).unwrap())
                .connect()
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            producer.send(&queue, format!("via {kind}")).unwrap();
            producer.disconnect().unwrap();
        }
        for kind in ["stomp+ssl", "ws", "wss"] {
            let f = consumer
                .recv_timeout(Duration::from_secs(5))
                .unwrap()
                .expect("a message");
            assert_eq!(f.text().unwrap(), format!("via {kind}"));
        }
    }
}

/// Producers over TLS and WebSocket, consumers over WebSocket over TLS and plain TCP, all on
/// one queue at once: every message arrives exactly once, through every layer's backpressure.
#[cfg(feature = "tls")]
#[test]
fn many_clients_over_every_layer_share_a_queue() {
    use std::collections::HashSet;
    use std::thread;
    let key = rcgen::KeyPair::generate().unwrap();
    let names = vec!["127.0.0.1".to_string()];
    let cert = rcgen::CertificateParams::new(names)
        .unwrap()
        .self_signed(&key)
        .unwrap()
        .pem();
    let broker = Broker::builder()
        .tls(stompy::broker::BrokerTls::from_pem(&cert, key.serialize_pem()).unwrap())
        .listen("127.0.0.1:0")
        .listen_tls("127.0.0.1:0")
        .listen_ws("127.0.0.1:0")
        .listen_wss("127.0.0.1:0")
        .start()
        .unwrap();
    let url = |kind: ListenerKind| {
        let port = broker.addr_of(kind).unwrap().port();
        let path = if kind.scheme().starts_with("ws") {
            "/ws"
        } else {
            ""
        };
        format!("{}://127.0.0.1:{port}{path}", kind.scheme())
    };
    let client = |url: String| {
        let tls = stompy::TlsConfig::new().ca_pem(&cert).unwrap();
        let builder = StompClient::builder().address(&url).unwrap();
        builder.tls(tls).connect().expect("connect")
    };
    const PER_PRODUCER: usize = 400;
    let queue = unique_queue("broker-every-layer");
    let producers: Vec<_> = [
        ListenerKind::Tls,
        ListenerKind::WebSocket,
        ListenerKind::Tls,
    ]
    .into_iter()
    .enumerate()
    .map(|(p, kind)| {
        let (url, queue) = (url(kind), queue.clone());
        let mut c = client(url);
        thread::spawn(move || {
            for i in 0..PER_PRODUCER {
                let body = format!("{p}-{i}-{}", "x".repeat(i * 37 % 20_000));
                c.send(&queue, body).unwrap();
            }
            c.disconnect().unwrap();
        })
    })
    .collect();
    let consumers: Vec<_> = [ListenerKind::WebSocketTls, ListenerKind::Tcp]
        .into_iter()
        .map(|kind| {
            let (url, queue) = (url(kind), queue.clone());
            let mut c = client(url);
            thread::spawn(move || {
                c.subscription(&queue).subscribe().unwrap();
                let mut seen = Vec::new();
                while let Ok(Some(f)) = c.recv_timeout(Duration::from_secs(2)) {
                    let text = f.text().unwrap();
                    seen.push(text.split('-').take(2).collect::<Vec<_>>().join("-"));
                }
                seen
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let mut all = HashSet::new();
    let mut total = 0;
    for c in consumers {
        let seen = c.join().unwrap();
        total += seen.len();
        all.extend(seen);
    }
    assert_eq!(total, 3 * PER_PRODUCER, "duplicates or losses");
    assert_eq!(all.len(), 3 * PER_PRODUCER);
}

/// stomp.py's WebSocket transport (websocket-client) against the broker: text frames out,
/// binary frames back, subscribe, send, receive, disconnect with a receipt.
#[test]
fn stomp_py_over_websocket() {
    let Some(python) = common::python() else {
        return;
    };
    let broker = ws_broker(10_000);
    let script = r#"
import sys, threading
import stomp
port = int(sys.argv[1])
got = threading.Event()
bodies = []
class L(stomp.ConnectionListener):
    def on_message(self, frame):
        bodies.append(frame.body)
        got.set()
for binary in (False, True):
    got.clear(); bodies.clear()
    conn = stomp.WSStompConnection([("127.0.0.1", port)], ws_path="/ws", binary_mode=binary)
    conn.set_listener("l", L())
    conn.connect("guest", "guest", wait=True)
    conn.subscribe("/queue/stomppy-ws-%s" % binary, id="1", ack="auto")
    conn.send("/queue/stomppy-ws-%s" % binary, "hello from stomp.py")
    assert got.wait(5), "no message"
    assert bodies == ["hello from stomp.py"], bodies
    conn.disconnect()
print("OK")
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(broker.addr().port().to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("OK"),
        "stomp.py failed:\n{stdout}\n{stderr}"
    );
}
