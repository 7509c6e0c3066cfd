//! Helpers shared by the tests that talk to real brokers (see `shared/brokers.md` for how
//! they are set up): skip when a broker is not running, unless `STOMPY_REQUIRE_BROKERS=1`.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use stompy::{AckMode, StompClient};

/// The CA that signed both test brokers' server certificate.
pub(crate) fn broker_ca() -> PathBuf {
    let dir =
        std::env::var_os("BROKERS_DIR").unwrap_or_else(|| "/var/lib/stompy-test-brokers".into());
    PathBuf::from(dir).join("certs/ca.pem")
}

/// True when something listens on `127.0.0.1:port` (and the CA file exists when `tls`).
/// Otherwise prints why the test is skipped, or panics when `STOMPY_REQUIRE_BROKERS=1`.
#[track_caller]
pub(crate) fn broker_up(name: &str, port: u16, tls: bool) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let why = match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Err(e) => format!("{name} is not reachable on {addr}: {e}"),
        Ok(_) if tls && !broker_ca().exists() => {
            format!("{} is missing", broker_ca().display())
        }
        Ok(_) => return true,
    };
    if std::env::var("STOMPY_REQUIRE_BROKERS").as_deref() == Ok("1") {
        panic!("{why} (STOMPY_REQUIRE_BROKERS=1)");
    }
    eprintln!("skipped: {why}");
    false
}

/// A queue name no other test run uses.
pub(crate) fn unique_queue(tag: &str) -> String {
    format!("/queue/stompy-{tag}-{}", uuid::Uuid::new_v4())
}

/// Subscribes to a fresh queue, sends `body` to it and checks that it comes back.
#[track_caller]
pub(crate) fn round_trip(client: &mut StompClient, tag: &str, body: &str) {
    let queue = unique_queue(tag);
    client
        .subscription(&queue)
        .ack(AckMode::Auto)
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
