//! Heart-beats against real peers: an idle client stays connected well past the broker's
//! silence timeout, because every wait inside the client keeps the beats going; a busy
//! application stays connected by calling `keep_alive`.

mod common;

use std::time::{Duration, Instant};

use stompy::broker::Broker;
use stompy::{AckMode, Error, StompClient, Timeout};

const T: Duration = Duration::from_secs(10);

fn check_idle_client_survives(addr: &str, login: (&str, &str), vhost: &str, idle: Duration) {
    let mut c = StompClient::builder()
        .address(addr)
        .unwrap()
        .login(login.0, login.1)
        .host(vhost)
        .heart_beat(Duration::from_millis(500), Duration::from_millis(500))
        .connect()
        .unwrap();
    let (send, recv) = c.heart_beat();
    assert!(
        send.is_some() && recv.is_some(),
        "heart-beats negotiated: {send:?} {recv:?}"
    );
    let q = common::unique_queue("idle");
    c.subscription(&q)
        .ack(AckMode::Auto)
        .wait_receipt(T)
        .subscribe()
        .unwrap();
    // Idle for several of the broker's timeouts (both drop a silent client after ~3 s).
    let start = Instant::now();
    let err = c.recv_timeout(idle).unwrap_err();
    assert!(
        matches!(err, Error::Timeout(Timeout::Recv(_))),
        "{addr}: {err:?}"
    );
    assert!(start.elapsed() >= idle);
    assert!(c.is_connected(), "{addr}");
    c.message(&q).body("still alive").send_and_wait(T).unwrap();
    assert_eq!(c.recv_timeout(T).unwrap().unwrap().body(), b"still alive");
}

/// Runs [`check_idle_client_survives`] for 5 s against `broker`, when it is running.
fn check_real_broker_keeps_an_idle_client(broker: Option<common::RealBroker>) {
    if let Some(b) = broker {
        check_idle_client_survives(
            &b.addr(),
            (b.login, b.passcode),
            b.vhost,
            Duration::from_secs(5),
        );
    }
}

#[test]
fn idle_client_stays_connected_to_rabbitmq() {
    // RabbitMQ clamps the 500 ms asked for to 1 s.
    check_real_broker_keeps_an_idle_client(common::rabbitmq());
}

#[test]
fn idle_client_stays_connected_to_activemq() {
    check_real_broker_keeps_an_idle_client(common::activemq());
}

#[test]
fn idle_client_stays_connected_to_the_embedded_broker() {
    let broker = Broker::builder()
        .heart_beat(200, 200)
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = broker.addr().to_string();
    check_idle_client_survives(&addr, ("guest", "guest"), "/", Duration::from_secs(2));
}

#[test]
fn a_busy_application_stays_connected_by_calling_keep_alive() {
    let broker = Broker::builder()
        .heart_beat(100, 100)
        .bind("127.0.0.1:0")
        .unwrap();
    let mut c = StompClient::builder()
        .address(broker.addr())
        .unwrap()
        .heart_beat(Duration::from_millis(100), Duration::from_millis(100))
        .connect()
        .unwrap();
    // Work for 1.5 s in 50 ms slices, far longer than the broker tolerates silence.
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(50)); // the application's own work
        c.keep_alive().unwrap();
    }
    c.subscription("/queue/busy")
        .wait_receipt(T)
        .subscribe()
        .unwrap();
    c.message("/queue/busy")
        .body("ok")
        .send_and_wait(T)
        .unwrap();
    assert_eq!(c.recv_timeout(T).unwrap().unwrap().body(), b"ok");
}

/// The `heart-beat` header of the embedded broker's CONNECTED for a CONNECT with `offer`
/// (`None`: no header) and `version`.
fn connected_heart_beat(version: &str, offer: Option<&str>) -> Option<String> {
    use std::io::{Read, Write};
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let mut s = std::net::TcpStream::connect(broker.addr()).unwrap();
    let hb = offer.map_or(String::new(), |o| format!("heart-beat:{o}\n"));
    write!(s, "CONNECT\naccept-version:{version}\nhost:/\n{hb}\n\0").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.contains(&0) {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before CONNECTED");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8(got).unwrap();
    let line = text.lines().find_map(|l| l.strip_prefix("heart-beat:"));
    line.map(str::to_owned)
}

#[test]
fn the_embedded_broker_gives_clients_the_heart_beats_they_ask_for() {
    assert_eq!(
        connected_heart_beat("1.2", Some("500,500")).as_deref(),
        Some("500,500")
    );
    assert_eq!(
        connected_heart_beat("1.2", Some("5000,250")).as_deref(),
        Some("250,5000")
    );
    assert_eq!(
        connected_heart_beat("1.2", Some("0,0")).as_deref(),
        Some("0,0")
    );
    assert_eq!(connected_heart_beat("1.1", None).as_deref(), Some("0,0"));
    assert_eq!(
        connected_heart_beat("1.2", Some("1,1")).as_deref(),
        Some("100,100"),
        "floor"
    );
    assert_eq!(
        connected_heart_beat("1.0", Some("500,500")),
        None,
        "STOMP 1.0: none"
    );
}

#[test]
fn a_client_asking_for_fast_beats_gets_them_and_notices_a_dead_broker_soon() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let mut c = StompClient::builder()
        .address(broker.addr())
        .unwrap()
        .heart_beat(Duration::from_millis(300), Duration::from_millis(300))
        .connect()
        .unwrap();
    assert_eq!(
        c.heart_beat(),
        (
            Some(Duration::from_millis(300)),
            Some(Duration::from_millis(300))
        )
    );
    // Beats every 300 ms keep the client happy through 1.5 s of silence from the application.
    let err = c.recv_timeout(Duration::from_millis(1500)).unwrap_err();
    assert!(err.is_timeout() && !err.is_fatal(), "{err:?}");
}
