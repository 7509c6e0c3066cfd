//! STOMP over TLS: round trips with RabbitMQ (127.0.0.1:61614) and ActiveMQ
//! (127.0.0.1:61624), certificate and host-name checks, and mutual TLS against a scripted
//! rustls server. Broker tests skip when the broker is not running, unless
//! `STOMPY_REQUIRE_BROKERS=1`.
#![cfg(feature = "tls")]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use stompy::{Address, Error, StompClient, TlsConfig};

use common::pki::Pki;
use common::{broker_ca, broker_up, round_trip};

const RABBIT_TLS: u16 = 61614;
const ACTIVEMQ_TLS: u16 = 61624;

/// Connects to `url` as guest (virtual host `/`, which ActiveMQ accepts too) with `tls`.
fn guest_client(url: &str, tls: TlsConfig) -> Result<StompClient, Error> {
    StompClient::builder()
        .address(url)?
        .login("guest", "guest")
        .host("/")
        .connect_timeout(Duration::from_secs(5))
        .tls(tls)
        .connect()
}

fn rabbit(tls: TlsConfig) -> Result<StompClient, Error> {
    guest_client(&format!("stomp+ssl://127.0.0.1:{RABBIT_TLS}"), tls)
}

fn trust_brokers() -> TlsConfig {
    TlsConfig::new().ca_file(broker_ca()).expect("broker CA")
}

#[track_caller]
fn tls_message(r: Result<StompClient, Error>) -> String {
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

#[test]
fn rabbitmq_round_trip_trusting_its_ca() {
    if !broker_up("RabbitMQ STOMP+TLS", RABBIT_TLS, true) {
        return;
    }
    let mut client = rabbit(trust_brokers()).expect("connect");
    round_trip(&mut client, "tls-rabbit", "over tls");
    client.disconnect().expect("disconnect");
}

#[test]
fn activemq_round_trip_trusting_its_ca() {
    if !broker_up("ActiveMQ STOMP+TLS", ACTIVEMQ_TLS, true) {
        return;
    }
    let mut client =
        guest_client(&format!("ssl://127.0.0.1:{ACTIVEMQ_TLS}"), trust_brokers()).expect("connect");
    round_trip(&mut client, "tls-activemq", "over tls");
    client.disconnect().expect("disconnect");
}

#[test]
fn rabbitmq_large_bodies_over_tls() {
    if !broker_up("RabbitMQ STOMP+TLS", RABBIT_TLS, true) {
        return;
    }
    let mut client = rabbit(trust_brokers()).expect("connect");
    common::large_bodies(&mut client, "tls-large-rabbit");
    client.disconnect().expect("disconnect");
}

#[test]
fn activemq_large_bodies_over_tls() {
    if !broker_up("ActiveMQ STOMP+TLS", ACTIVEMQ_TLS, true) {
        return;
    }
    let mut client = guest_client(
        &format!("stomp+ssl://127.0.0.1:{ACTIVEMQ_TLS}"),
        trust_brokers(),
    )
    .expect("connect");
    common::large_bodies(&mut client, "tls-large-activemq");
    client.disconnect().expect("disconnect");
}

#[test]
fn heart_beats_keep_an_idle_tls_connection_alive() {
    if !broker_up("RabbitMQ STOMP+TLS", RABBIT_TLS, true) {
        return;
    }
    let mut client = StompClient::builder()
        .address(format!("stomp+ssl://127.0.0.1:{RABBIT_TLS}"))
        .unwrap()
        .login("guest", "guest")
        .host("/")
        .heart_beat(Duration::from_secs(1), Duration::from_secs(1))
        .tls(trust_brokers())
        .connect()
        .expect("connect");
    assert_eq!(client.heart_beat().1, Some(Duration::from_secs(1)));
    match client.recv_timeout(Duration::from_secs(4)) {
        Err(Error::Timeout(stompy::Timeout::Recv(_))) => {}
        other => panic!("expected a quiet 4 s, got {other:?}"),
    }
    assert!(client.is_connected());
    round_trip(&mut client, "tls-heartbeat", "still here");
    client.disconnect().expect("disconnect");
}

#[test]
fn a_host_name_the_certificate_lists_is_accepted() {
    if !broker_up("RabbitMQ STOMP+TLS", RABBIT_TLS, true) {
        return;
    }
    let mut client = guest_client(
        &format!("stomp+ssl://localhost:{RABBIT_TLS}"),
        trust_brokers(),
    )
    .expect("connect");
    round_trip(&mut client, "tls-localhost", "by name");
    client.disconnect().expect("disconnect");
}

#[test]
fn default_roots_refuse_the_brokers_private_ca() {
    if !broker_up("RabbitMQ STOMP+TLS", RABBIT_TLS, true) {
        return;
    }
    let msg = tls_message(rabbit(TlsConfig::new()));
    assert!(msg.contains("UnknownIssuer"), "{msg}");
    assert!(
        msg.contains("ca_file"),
        "the message should say what to do: {msg}"
    );
}

#[test]
fn no_tls_settings_at_all_means_default_roots() {
    if !broker_up("RabbitMQ STOMP+TLS", RABBIT_TLS, true) {
        return;
    }
    let r = StompClient::builder()
        .address(format!("stomp+ssl://127.0.0.1:{RABBIT_TLS}"))
        .unwrap()
        .login("guest", "guest")
        .connect();
    assert!(tls_message(r).contains("UnknownIssuer"));
}

#[test]
fn wrong_server_name_is_refused() {
    if !broker_up("RabbitMQ STOMP+TLS", RABBIT_TLS, true) {
        return;
    }
    let msg = tls_message(rabbit(trust_brokers().server_name("wrong.example")));
    assert!(msg.contains("not valid for name"), "{msg}");
    assert!(msg.contains("wrong.example"), "{msg}");
}

#[test]
fn server_name_override_to_a_listed_name_is_accepted() {
    if !broker_up("RabbitMQ STOMP+TLS", RABBIT_TLS, true) {
        return;
    }
    let mut client = rabbit(trust_brokers().server_name("localhost")).expect("connect");
    round_trip(&mut client, "tls-sni", "named");
    client.disconnect().expect("disconnect");
}

#[test]
fn dangerous_mode_accepts_an_unknown_issuer() {
    if !broker_up("RabbitMQ STOMP+TLS", RABBIT_TLS, true) {
        return;
    }
    let tls = TlsConfig::new()
        .server_name("wrong.example")
        .dangerous_accept_invalid_certs(true);
    let mut client = rabbit(tls).expect("connect");
    round_trip(&mut client, "tls-dangerous", "unchecked");
    client.disconnect().expect("disconnect");
}

#[test]
fn an_unrelated_ca_is_refused() {
    if !broker_up("RabbitMQ STOMP+TLS", RABBIT_TLS, true) {
        return;
    }
    let pki = Pki::new();
    let msg = tls_message(rabbit(TlsConfig::new().ca_pem(pki.ca_pem()).unwrap()));
    assert!(msg.contains("invalid peer certificate"), "{msg}");
}

#[test]
fn address_settings_win_over_the_builders() {
    if !broker_up("RabbitMQ STOMP+TLS", RABBIT_TLS, true) {
        return;
    }
    let addr = Address::tcp("127.0.0.1", RABBIT_TLS).with_tls(trust_brokers());
    let mut client = StompClient::builder()
        .address(addr)
        .unwrap()
        .login("guest", "guest")
        .host("/")
        .tls(TlsConfig::new()) // would refuse the broker
        .connect()
        .expect("connect");
    round_trip(&mut client, "tls-address", "per address");
    client.disconnect().expect("disconnect");
}

#[test]
fn tls_settings_on_a_plain_address_are_refused() {
    let mut addr = Address::tcp("127.0.0.1", 9).with_tls(TlsConfig::new());
    addr.scheme = stompy::Scheme::Tcp; // settings for TLS, and a plain scheme
    let r = StompClient::builder().address(addr).unwrap().connect();
    assert!(matches!(r, Err(Error::Invalid(m)) if m.contains("plain scheme")));
}

#[test]
fn a_plain_server_fails_the_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0; 512];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"CONNECTED\nversion:1.2\n\n\0");
    });
    let r = StompClient::builder()
        .address(format!("stomp+ssl://127.0.0.1:{port}"))
        .unwrap()
        .connect();
    let msg = tls_message(r);
    assert!(msg.contains("handshake with 127.0.0.1 failed"), "{msg}");
    server.join().unwrap();
}

#[test]
fn a_silent_server_times_out_the_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        thread::sleep(Duration::from_millis(1500));
        drop(s);
    });
    let started = std::time::Instant::now();
    let r = StompClient::builder()
        .address(format!("stomp+ssl://127.0.0.1:{port}"))
        .unwrap()
        .connect_timeout(Duration::from_millis(500))
        .reconnect_policy(stompy::ReconnectPolicy::once())
        .connect();
    assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
    assert!(started.elapsed() < Duration::from_millis(1400));
    server.join().unwrap();
}

#[test]
fn mutual_tls_with_a_client_certificate() {
    let pki = Pki::new();
    let (port, server) = scripted_server(&pki);
    let mut client = scripted_client("127.0.0.1", port, client_tls(&pki, &pki))
        .expect("connect with a client certificate");
    assert_eq!(client.version(), stompy::Version::V1_2);
    client.disconnect().expect("disconnect");
    assert_eq!(server.join().unwrap(), Ok(()));
}

#[test]
fn large_bodies_both_ways_through_the_scripted_server() {
    let pki = Pki::new();
    let (port, server) = scripted_server(&pki);
    let mut client = scripted_client("127.0.0.1", port, client_tls(&pki, &pki)).expect("connect");
    client
        .subscription("/queue/echo")
        .ack(stompy::AckMode::Auto)
        .subscribe()
        .unwrap();
    let bodies: Vec<String> = (0..3)
        .map(|n| {
            (0..3_000_000 + n)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect()
        })
        .collect();
    for b in &bodies {
        client.send("/queue/echo", b).unwrap();
    }
    for b in &bodies {
        let f = client
            .recv_timeout(Duration::from_secs(20))
            .unwrap()
            .unwrap();
        assert!(f.body() == b.as_bytes(), "echoed body differs");
    }
    client.disconnect().expect("disconnect");
    assert_eq!(server.join().unwrap(), Ok(()));
}

#[test]
fn mutual_tls_with_client_certificate_files() {
    let pki = Pki::new();
    let dir = std::env::temp_dir().join(format!("stompy-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = pki.client_pem();
    std::fs::write(dir.join("ca.pem"), pki.ca_pem()).unwrap();
    std::fs::write(dir.join("client.pem"), cert).unwrap();
    std::fs::write(dir.join("client.key"), key).unwrap();
    let tls = TlsConfig::new()
        .ca_file(dir.join("ca.pem"))
        .unwrap()
        .client_cert(dir.join("client.pem"), dir.join("client.key"))
        .unwrap();
    let (port, server) = scripted_server(&pki);
    let mut client = scripted_client("localhost", port, tls).expect("connect");
    client.disconnect().expect("disconnect");
    assert_eq!(server.join().unwrap(), Ok(()));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn mutual_tls_without_a_client_certificate_fails_clearly() {
    let pki = Pki::new();
    let (port, server) = scripted_server(&pki);
    let r = scripted_client(
        "127.0.0.1",
        port,
        TlsConfig::new().ca_pem(pki.ca_pem()).unwrap(),
    );
    let msg = tls_message(r);
    assert!(msg.contains("client certificate"), "{msg}");
    let server_err = server.join().unwrap().unwrap_err();
    assert!(server_err.contains("no certificates"), "{server_err}");
}

#[test]
fn a_client_certificate_from_another_ca_is_refused() {
    let pki = Pki::new();
    let other = Pki::new();
    let (port, server) = scripted_server(&pki);
    let r = scripted_client("127.0.0.1", port, client_tls(&pki, &other));
    let msg = tls_message(r);
    assert!(msg.contains("refused the client certificate"), "{msg}");
    assert!(server.join().unwrap().is_err());
}

/// Trusts `pki`'s CA and presents a client certificate signed by `issuer`'s CA.
fn client_tls(pki: &Pki, issuer: &Pki) -> TlsConfig {
    let (cert, key) = issuer.client_pem();
    TlsConfig::new()
        .ca_pem(pki.ca_pem())
        .unwrap()
        .client_cert_pem(cert, key)
        .unwrap()
}

/// Connects to the scripted server at `host:port` over TLS with `tls` and nothing else set.
fn scripted_client(host: &str, port: u16, tls: TlsConfig) -> Result<StompClient, Error> {
    StompClient::builder()
        .address(format!("stomp+ssl://{host}:{port}"))
        .unwrap()
        .tls(tls)
        .connect()
}

/// A rustls server configuration that requires a client certificate signed by `pki`'s CA.
fn server_config(pki: &Pki) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(pki.ca_der())).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .unwrap();
    let cert = CertificateDer::from_pem_slice(pki.server_cert.as_bytes()).unwrap();
    let key = PrivateKeyDer::from_pem_slice(pki.server_key.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert], key)
        .unwrap();
    Arc::new(config)
}

/// Serves one connection over mutual TLS: answers CONNECT with CONNECTED and any frame with
/// a `receipt` header with its RECEIPT, until DISCONNECT. The thread returns the handshake
/// or I/O error it met, as text.
fn scripted_server(pki: &Pki) -> (u16, thread::JoinHandle<Result<(), String>>) {
    let config = server_config(pki);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (tcp, _) = listener.accept().map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        if let Err(e) = serve(&mut tls) {
            // Let the client read the alert before the socket goes away.
            tls.sock
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut sink = [0; 4096];
            while matches!(tls.sock.read(&mut sink), Ok(n) if n > 0) {}
            return Err(e);
        }
        Ok(())
    });
    (port, handle)
}

fn serve(tls: &mut rustls::StreamOwned<rustls::ServerConnection, TcpStream>) -> Result<(), String> {
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| e.to_string())?;
    }
    let mut input = Vec::new();
    let mut scanned = 0;
    let mut buf = vec![0; 64 * 1024];
    let mut subscription = String::new();
    loop {
        let n = tls.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        input.extend_from_slice(&buf[..n]);
        while let Some(at) = input[scanned..].iter().position(|&b| b == 0) {
            let end = scanned + at;
            let frame = String::from_utf8_lossy(&input[..end]).into_owned();
            input.drain(..=end);
            scanned = 0;
            let frame = frame.trim_start_matches(['\r', '\n']);
            let (head, body) = frame.split_once("\n\n").unwrap_or((frame, ""));
            let mut lines = head.lines();
            let command = lines.next().unwrap_or("");
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                    .map(str::to_owned)
            };
            let mut reply = Vec::new();
            match command {
                "CONNECT" | "STOMP" => {
                    reply.extend_from_slice(b"CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0")
                }
                "SUBSCRIBE" => subscription = header("id").unwrap_or_default(),
                "SEND" => {
                    // Echo the body back to the subscription.
                    let head = format!(
                        "MESSAGE\nsubscription:{subscription}\nmessage-id:m\ndestination:/queue/echo\ncontent-length:{}\n\n",
                        body.len()
                    );
                    reply.extend_from_slice(head.as_bytes());
                    reply.extend_from_slice(body.as_bytes());
                    reply.push(0);
                }
                _ => {}
            }
            if let Some(id) = header("receipt") {
                reply.extend_from_slice(format!("RECEIPT\nreceipt-id:{id}\n\n\0").as_bytes());
            }
            tls.write_all(&reply).map_err(|e| e.to_string())?;
            if command == "DISCONNECT" {
                tls.conn.send_close_notify();
                tls.flush().map_err(|e| e.to_string())?;
                return Ok(());
            }
        }
        scanned = input.len();
    }
}
