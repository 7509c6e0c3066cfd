//! Shared support for the integration tests: every test file does `mod common;`.
//!
//! * [`rabbitmq`], [`activemq`], [`real_brokers`]: the real brokers started by
//!   `scripts/brokers.sh start`, or `None` (with one message on stderr) when they are not
//!   running, so `cargo test` works on a machine without them.
//! * [`unique`], [`unique_queue`], [`unique_topic`]: destination names no other test (or
//!   earlier run) uses.
//! * [`ca_file`]: the CA that signed the brokers' TLS certificates.
//! * [`python`]: a Python with stomp.py, for interop tests with an independent client.
//! * [`faults`]: crash and restart those brokers and the nodes of the 3-node RabbitMQ cluster
//!   (`scripts/rabbit_cluster.sh`), for the chaos tests.
//!
//! With `STOMPY_REQUIRE_BROKERS=1` (as `scripts/test.sh` sets it) a missing broker or Python
//! is a test failure instead of a skip.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset; `pub` is the interface

pub mod faults;
#[cfg(feature = "tls")]
pub mod pki;

use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use stompy::Version;

/// Environment variable that turns a missing broker or Python into a panic.
pub const REQUIRE_ENV: &str = "STOMPY_REQUIRE_BROKERS";

/// Default directory of `scripts/brokers.sh` (certificates, Python venv).
pub const DEFAULT_BROKERS_DIR: &str = "/var/lib/stompy-test-brokers";

/// How long a reachability probe waits for the TCP connection.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// A real STOMP broker on loopback, as configured by `scripts/brokers.sh`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealBroker {
    /// Human-readable name, used in messages: `"RabbitMQ"` or `"ActiveMQ"`.
    pub name: &'static str,
    /// Host to connect to (always loopback).
    pub host: &'static str,
    /// Plain STOMP port.
    pub port: u16,
    /// STOMP over TLS port (certificate signed by [`ca_file`], valid for `localhost` and
    /// `127.0.0.1`).
    pub tls_port: u16,
    /// Login accepted by the broker.
    pub login: &'static str,
    /// Passcode for [`RealBroker::login`].
    pub passcode: &'static str,
    /// Value for the CONNECT `host` header: `"/"` for RabbitMQ, `"localhost"` for ActiveMQ.
    pub vhost: &'static str,
    /// STOMP versions the broker speaks.
    pub versions: &'static [Version],
}

impl RealBroker {
    /// `host:port` of the plain STOMP listener.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// `host:port` of the STOMP over TLS listener.
    pub fn tls_addr(&self) -> String {
        format!("{}:{}", self.host, self.tls_port)
    }
}

/// RabbitMQ 3.10 with the STOMP plugin (WebSocket on `ws://127.0.0.1:15674/ws`).
pub const RABBITMQ: RealBroker = RealBroker {
    name: "RabbitMQ",
    host: "127.0.0.1",
    port: 61613,
    tls_port: 61614,
    login: "guest",
    passcode: "guest",
    vhost: "/",
    versions: &[Version::V1_0, Version::V1_1, Version::V1_2],
};

/// ActiveMQ 5.17 (no WebSocket in Debian's build; anonymous logins refused).
pub const ACTIVEMQ: RealBroker = RealBroker {
    name: "ActiveMQ",
    host: "127.0.0.1",
    port: 61623,
    tls_port: 61624,
    login: "guest",
    passcode: "guest",
    vhost: "localhost",
    versions: &[Version::V1_0, Version::V1_1, Version::V1_2],
};

/// Whether `STOMPY_REQUIRE_BROKERS` is set to something other than empty or `0`.
pub fn brokers_required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `$BROKERS_DIR`, or [`DEFAULT_BROKERS_DIR`].
pub fn brokers_dir() -> PathBuf {
    match std::env::var_os("BROKERS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(DEFAULT_BROKERS_DIR),
    }
}

/// Whether a TCP connection to `addr` succeeds within `timeout`.
pub fn reachable(addr: &str, timeout: Duration) -> bool {
    match addr.to_socket_addrs() {
        Ok(addrs) => addrs
            .into_iter()
            .any(|a| TcpStream::connect_timeout(&a, timeout).is_ok()),
        Err(_) => false,
    }
}

/// Probes `broker`'s STOMP port (not cached). Returns the broker when it answers; otherwise
/// panics if `required`, or prints the skip message to stderr and returns `None`.
pub fn check_broker(broker: RealBroker, required: bool) -> Option<RealBroker> {
    let addr = broker.addr();
    if reachable(&addr, PROBE_TIMEOUT) {
        return Some(broker);
    }
    if required {
        panic!(
            "{} at {addr} not reachable but {REQUIRE_ENV} is set (run scripts/brokers.sh start)",
            broker.name
        );
    }
    eprintln!(
        "skipping {} tests: {addr} not reachable (run scripts/brokers.sh start)",
        broker.name
    );
    None
}

fn cached(cell: &OnceLock<Option<RealBroker>>, broker: RealBroker) -> Option<RealBroker> {
    cell.get_or_init(|| check_broker(broker, brokers_required()))
        .clone()
}

/// RabbitMQ, or `None` when it is not reachable (probed once per test binary).
///
/// Panics when it is not reachable and `STOMPY_REQUIRE_BROKERS=1`.
pub fn rabbitmq() -> Option<RealBroker> {
    static CELL: OnceLock<Option<RealBroker>> = OnceLock::new();
    cached(&CELL, RABBITMQ)
}

/// ActiveMQ, or `None` when it is not reachable (probed once per test binary).
///
/// Panics when it is not reachable and `STOMPY_REQUIRE_BROKERS=1`.
pub fn activemq() -> Option<RealBroker> {
    static CELL: OnceLock<Option<RealBroker>> = OnceLock::new();
    cached(&CELL, ACTIVEMQ)
}

/// The real brokers that are reachable (RabbitMQ first).
pub fn real_brokers() -> Vec<RealBroker> {
    [rabbitmq(), activemq()].into_iter().flatten().collect()
}

/// A name fragment no other test uses: `stompy-test-<prefix>-<uuid>`.
pub fn unique(prefix: &str) -> String {
    format!("stompy-test-{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A fresh queue destination: `/queue/stompy-test-<prefix>-<uuid>`.
pub fn unique_queue(prefix: &str) -> String {
    format!("/queue/{}", unique(prefix))
}

/// A fresh topic destination: `/topic/stompy-test-<prefix>-<uuid>`.
pub fn unique_topic(prefix: &str) -> String {
    format!("/topic/{}", unique(prefix))
}

/// The CA certificate (PEM) that signed both brokers' server certificates:
/// `$BROKERS_DIR/certs/ca.pem`.
pub fn ca_file() -> PathBuf {
    brokers_dir().join("certs").join("ca.pem")
}

/// Whether `python` runs and can `import stomp`.
pub fn python_has_stomp(python: &std::path::Path) -> bool {
    Command::new(python)
        .args(["-c", "import stomp"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A Python interpreter with stomp.py: `$STOMPY_PYTHON`, else `$BROKERS_DIR/venv/bin/python`
/// (made by `scripts/brokers.sh venv`), if it can `import stomp`. Checked once per test binary.
///
/// Returns `None` (with one message on stderr) when there is none; panics instead when
/// `STOMPY_REQUIRE_BROKERS=1`.
pub fn python() -> Option<PathBuf> {
    static CELL: OnceLock<Option<PathBuf>> = OnceLock::new();
    CELL.get_or_init(|| {
        let candidate = match std::env::var_os("STOMPY_PYTHON") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => brokers_dir().join("venv").join("bin").join("python"),
        };
        if python_has_stomp(&candidate) {
            return Some(candidate);
        }
        let why = format!(
            "{} cannot `import stomp` (run scripts/brokers.sh venv or set STOMPY_PYTHON)",
            candidate.display()
        );
        if brokers_required() {
            panic!("{why} but {REQUIRE_ENV} is set");
        }
        eprintln!("skipping stomp.py interop tests: {why}");
        None
    })
    .clone()
}

/// The CA that signed both test brokers' server certificate (same as [`ca_file`]).
pub fn broker_ca() -> PathBuf {
    ca_file()
}

/// True when something listens on `127.0.0.1:port` (and the CA file exists when `tls`).
/// Otherwise prints why the test is skipped, or panics when `STOMPY_REQUIRE_BROKERS=1`.
#[track_caller]
pub fn broker_up(name: &str, port: u16, tls: bool) -> bool {
    let addr = format!("127.0.0.1:{port}");
    let why = if !reachable(&addr, PROBE_TIMEOUT) {
        format!("{name} is not reachable on {addr}")
    } else if tls && !ca_file().exists() {
        format!("{} is missing", ca_file().display())
    } else {
        return true;
    };
    if brokers_required() {
        panic!("{why} ({REQUIRE_ENV}=1)");
    }
    eprintln!("skipped: {why} (run scripts/brokers.sh start)");
    false
}

/// Subscribes to a fresh queue, sends `body` to it and checks that it comes back.
#[track_caller]
pub fn round_trip(client: &mut stompy::StompClient, tag: &str, body: &str) {
    let queue = unique_queue(tag);
    client
        .subscription(&queue)
        .ack(stompy::AckMode::Auto)
        .wait_receipt(Duration::from_secs(5))
        .subscribe()
        .expect("subscribe");
    client.send(&queue, body).expect("send");
    let frame = client
        .recv_timeout(Duration::from_secs(5))
        .expect("recv")
        .expect("a message within 5 s");
    assert_eq!(frame.text().expect("utf-8 body"), body);
}

/// Sends a plain STOMP CONNECT to `addr` (a TLS or WebSocket port) and checks that no
/// CONNECTED comes back before the broker closes.
#[track_caller]
pub fn plain_connect_is_refused(addr: std::net::SocketAddr) {
    use std::io::{Read, Write};
    let mut plain = std::net::TcpStream::connect(addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain
        .write_all(b"CONNECT\naccept-version:1.2\n\n\0")
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"CONNECTED"), "{answer:?}");
}

/// A fresh queue that `client` subscribed to (auto ACK), its SUBSCRIBE receipted.
fn fresh_subscribed_queue(client: &mut stompy::StompClient, tag: &str) -> String {
    let queue = unique_queue(tag);
    client
        .subscription(&queue)
        .wait_receipt(Duration::from_secs(5))
        .subscribe()
        .unwrap();
    queue
}

/// Sends `small` short text messages and then `big` to a fresh queue, and checks that all come
/// back in order and whole (the large one within `big_wait`).
#[track_caller]
pub fn smalls_then_large(
    client: &mut stompy::StompClient,
    tag: &str,
    small: usize,
    big: &[u8],
    big_wait: Duration,
) {
    let queue = fresh_subscribed_queue(client, tag);
    for i in 0..small {
        client.send(&queue, format!("small {i}")).unwrap();
    }
    client.send(&queue, big).unwrap();
    for i in 0..small {
        let f = client
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert_eq!(f.text().unwrap(), format!("small {i}"));
    }
    let f = client
        .recv_timeout(big_wait)
        .unwrap()
        .expect("the large message");
    assert_eq!(f.body().len(), big.len());
    assert!(f.body() == big, "body differs");
}

/// Sends three bodies of about 2 MB (larger than the socket and TLS buffers, NULs inside) to a
/// fresh queue and checks that each comes back whole and in order.
#[track_caller]
pub fn large_bodies(client: &mut stompy::StompClient, tag: &str) {
    let queue = fresh_subscribed_queue(client, tag);
    let bodies: Vec<Vec<u8>> = (0..3u32)
        .map(|n| (0..2_000_000 + n).map(|i| (i % 253) as u8).collect())
        .collect();
    for b in &bodies {
        client.send(&queue, b).unwrap();
    }
    for b in &bodies {
        let f = client
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .expect("a message");
        assert_eq!(f.body().len(), b.len());
        assert!(f.body() == &b[..], "body differs");
    }
}
