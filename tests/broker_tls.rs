//! STOMP over TLS with the embedded broker: certificates made here with rcgen, the stompy
//! client on `stomp+ssl://`, mutual TLS, refused certificates, and a failed handshake that
//! closes only its own connection.
#![cfg(all(feature = "broker", feature = "tls"))]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use stompy::broker::{Broker, BrokerHandle, BrokerTls, ListenerKind};
use stompy::{Error, StompClient, TlsConfig};

use common::pki::Pki;
use common::{plain_connect_is_refused, round_trip, unique_queue};

/// The embedded broker's TLS settings with the test server certificate.
fn broker_tls(pki: &Pki) -> BrokerTls {
    BrokerTls::from_pem(&pki.server_cert, &pki.server_key).expect("broker certificate")
}

fn connect(port: u16, tls: TlsConfig) -> Result<StompClient, Error> {
    StompClient::builder()
        .address(format!("stomp+ssl://127.0.0.1:{port}"))?
        .tls(tls)
        .connect_timeout(Duration::from_secs(5))
        .auto_reconnect(false)
        .connect()
}

#[track_caller]
fn tls_error(r: Result<StompClient, Error>) -> String {
    match r {
        Err(e @ Error::Tls(_)) => {
            let m = e.report().to_string();
            eprintln!("refused as expected: {m}");
            m
        }
        Err(other) => panic!("expected a TLS error, got {other:?}"),
        Ok(_) => panic!("expected a TLS error, but the connection was accepted"),
    }
}

/// A TLS broker on a free port; `mutual` also requires client certificates from the CA.
fn tls_broker(pki: &Pki, mutual: bool) -> BrokerHandle {
    let mut tls = broker_tls(pki);
    if mutual {
        tls = tls.require_client_cert(pki.ca_pem()).unwrap();
    }
    Broker::builder()
        .tls(tls)
        .bind("127.0.0.1:0")
        .expect("broker")
}

#[test]
fn round_trip_over_tls() {
    let pki = Pki::new();
    let broker = tls_broker(&pki, false);
    assert_eq!(broker.listeners(), &[(ListenerKind::Tls, broker.addr())]);
    let mut client = connect(broker.addr().port(), pki.trusting()).expect("connect");
    round_trip(&mut client, "broker-tls", "über tls");
    client.disconnect().expect("disconnect");
}

#[test]
fn the_certificate_is_checked_against_localhost_too() {
    let pki = Pki::new();
    let broker = tls_broker(&pki, false);
    let mut client = StompClient::builder()
        .address(format!("stomp+ssl://localhost:{}", broker.addr().port()))
        .unwrap()
        .tls(pki.trusting())
        .connect()
        .expect("connect");
    round_trip(&mut client, "broker-tls-localhost", "by name");
}

#[test]
fn bodies_larger_than_the_tls_buffers_cross_both_ways() {
    let pki = Pki::new();
    let broker = tls_broker(&pki, false);
    let mut client = connect(broker.addr().port(), pki.trusting()).expect("connect");
    common::large_bodies(&mut client, "broker-tls-large");
    client.disconnect().unwrap();
}

#[test]
fn mutual_tls_with_a_client_certificate() {
    let pki = Pki::new();
    let broker = tls_broker(&pki, true);
    let mut client = connect(broker.addr().port(), pki.with_client_cert()).expect("connect");
    round_trip(&mut client, "broker-mtls", "mutual");
    client.disconnect().expect("disconnect");
}

#[test]
fn mutual_tls_without_a_client_certificate_fails_clearly() {
    let pki = Pki::new();
    let broker = tls_broker(&pki, true);
    let msg = tls_error(connect(broker.addr().port(), pki.trusting()));
    assert!(msg.contains("client certificate"), "{msg}");
}

#[test]
fn a_client_certificate_from_another_ca_is_refused() {
    let pki = Pki::new();
    let other = Pki::new();
    let broker = tls_broker(&pki, true);
    let tls = pki
        .trusting()
        .client_cert_pem(&other.client_cert, &other.client_key)
        .unwrap();
    let msg = tls_error(connect(broker.addr().port(), tls));
    assert!(msg.contains("refused the client certificate"), "{msg}");
}

#[test]
fn the_client_refuses_a_broker_from_an_untrusted_ca() {
    let pki = Pki::new();
    let other = Pki::new();
    let broker = tls_broker(&pki, false);
    let msg = tls_error(connect(broker.addr().port(), other.trusting()));
    assert!(msg.contains("UnknownIssuer"), "{msg}");
    let msg = tls_error(connect(broker.addr().port(), TlsConfig::new()));
    assert!(msg.contains("UnknownIssuer"), "{msg}");
}

#[test]
fn a_failed_handshake_closes_only_its_connection() {
    let pki = Pki::new();
    let broker = tls_broker(&pki, true);
    let port = broker.addr().port();
    let mut good = connect(port, pki.with_client_cert()).expect("connect");
    // Plain STOMP on the TLS port: the broker answers with an alert and closes.
    plain_connect_is_refused(broker.addr());
    // Refused certificates too.
    tls_error(connect(port, pki.trusting()));
    tls_error(connect(port, Pki::new().with_client_cert()));
    // The others carry on, and new ones are accepted.
    round_trip(&mut good, "broker-tls-survivor", "still here");
    let mut again = connect(port, pki.with_client_cert()).expect("connect again");
    round_trip(&mut again, "broker-tls-again", "new one");
}

#[test]
fn heart_beats_keep_an_idle_mutual_tls_connection_alive() {
    let pki = Pki::new();
    let tls = broker_tls(&pki).require_client_cert(pki.ca_pem()).unwrap();
    let broker = Broker::builder()
        .tls(tls)
        .heart_beat(200, 200)
        .bind("127.0.0.1:0")
        .unwrap();
    let mut client = StompClient::builder()
        .address(format!("stomp+ssl://127.0.0.1:{}", broker.addr().port()))
        .unwrap()
        .tls(pki.with_client_cert())
        .heart_beat(Duration::from_millis(200), Duration::from_millis(200))
        .connect()
        .expect("connect");
    assert_eq!(client.heart_beat().1, Some(Duration::from_millis(200)));
    match client.recv_timeout(Duration::from_millis(1500)) {
        Err(Error::Timeout(stompy::Timeout::Recv(_))) => {}
        other => panic!("expected a quiet 1.5 s, got {other:?}"),
    }
    assert!(client.is_connected());
    round_trip(&mut client, "broker-tls-heartbeat", "still here");
    client.disconnect().unwrap();
}

#[test]
fn stalled_handshakes_do_not_hold_up_the_broker() {
    let pki = Pki::new();
    let broker = tls_broker(&pki, false);
    // Half a ClientHello record header, and a connection that says nothing at all.
    let mut half = TcpStream::connect(broker.addr()).unwrap();
    half.write_all(&[0x16, 0x03, 0x01]).unwrap();
    let _silent = TcpStream::connect(broker.addr()).unwrap();
    let mut client = connect(broker.addr().port(), pki.trusting()).expect("connect");
    round_trip(&mut client, "broker-tls-stalled", "not blocked");
    client.disconnect().unwrap();
}

#[test]
fn a_tls_client_on_a_plain_port_fails_the_handshake() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let msg = tls_error(connect(broker.addr().port(), Pki::new().trusting()));
    eprintln!("{msg}");
}

#[test]
fn one_broker_listens_on_tcp_and_tls_at_once() {
    let pki = Pki::new();
    let broker = Broker::builder()
        .tls(broker_tls(&pki))
        .listen("127.0.0.1:0")
        .listen_tls("127.0.0.1:0")
        .start()
        .expect("broker");
    let tcp = broker.addr_of(ListenerKind::Tcp).unwrap();
    let tls = broker.addr_of(ListenerKind::Tls).unwrap();
    assert_eq!(broker.addr(), tcp);
    assert_ne!(tcp, tls);
    let queue = unique_queue("broker-tls-mixed");
    let mut consumer = StompClient::connect([tcp.to_string()]).expect("plain client");
    consumer
        .subscription(&queue)
        .wait_receipt(Duration::from_secs(5))
        .subscribe()
        .unwrap();
    let mut producer = connect(tls.port(), pki.trusting()).expect("tls client");
    producer.send(&queue, "from tls to tcp").unwrap();
    let f = consumer
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .expect("a message");
    assert_eq!(f.text().unwrap(), "from tls to tcp");
}

#[test]
fn certificate_files_work_as_pem_text_does() {
    let pki = Pki::new();
    let dir = std::env::temp_dir().join(common::unique("broker-tls-files"));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let cert = write("server.pem", &pki.server_cert);
    let key = write("server.key", &pki.server_key);
    let ca = write("ca.pem", &pki.ca_pem());
    let tls = BrokerTls::from_pem_files(&cert, &key)
        .unwrap()
        .require_client_cert_file(&ca)
        .unwrap();
    assert!(tls.requires_client_cert());
    let broker = Broker::builder().tls(tls).bind("127.0.0.1:0").unwrap();
    let mut client = connect(broker.addr().port(), pki.with_client_cert()).expect("connect");
    round_trip(&mut client, "broker-tls-files", "from files");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tls_listener_without_tls_settings_is_refused() {
    let err = Broker::builder()
        .listen_tls("127.0.0.1:0")
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("BrokerBuilder::tls"), "{err}");
    let err = Broker::builder().start().unwrap_err();
    assert!(err.to_string().contains("no listener"), "{err}");
}

#[cfg(all(feature = "cli", feature = "websocket"))]
#[test]
fn the_binary_listens_on_tcp_tls_and_websocket() {
    use std::io::BufRead;
    let pki = Pki::new();
    let dir = std::env::temp_dir().join(common::unique("broker-bin-tls"));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (cert, key) = (
        write("c.pem", &pki.server_cert),
        write("k.pem", &pki.server_key),
    );
    let ca = write("ca.pem", &pki.ca_pem());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stompy-broker"))
        .args(["--bind", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"])
        .args([
            "--ws-listen",
            "127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ])
        .args(["--tls-client-ca", &ca])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // "stompy-broker listening on SCHEME://ADDR", one line per listener.
    let urls: Vec<String> = (0..3)
        .map(|_| {
            let line = lines.next().unwrap().unwrap();
            line.rsplit(' ').next().unwrap().to_owned()
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(urls[0].starts_with("tcp://"), "{urls:?}");
    let ws = urls
        .iter()
        .find(|u| u.starts_with("ws://"))
        .expect("ws listener");
    let tls = urls
        .iter()
        .find(|u| u.starts_with("stomp+ssl://"))
        .expect("tls listener");
    let mut plain = StompClient::connect([urls[0].as_str()]).expect("tcp");
    round_trip(&mut plain, "bin-tcp", "plain");
    let mut over_ws = StompClient::connect([format!("{ws}/ws")]).expect("ws");
    round_trip(&mut over_ws, "bin-ws", "websocket");
    let port: u16 = tls.rsplit(':').next().unwrap().parse().unwrap();
    tls_error(connect(port, pki.trusting()));
    let mut over_tls = connect(port, pki.with_client_cert()).expect("mutual tls");
    round_trip(&mut over_tls, "bin-tls", "mutual tls");
    child.kill().unwrap();
    child.wait().unwrap();
}
