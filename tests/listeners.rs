//! Connection events: listeners see the connection's life, across a reconnect too.

mod peer;

#[path = "support/shared_writer.rs"]
mod shared_writer;

use shared_writer::Shared;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use peer::{connected, Peer, Step};
use stompy::broker::Broker;
use stompy::{
    Command, Error, Frame, Listener, PrintingListener, ReconnectPolicy, StatsListener, StompClient,
    Timeout,
};

const T: Duration = Duration::from_secs(10);

#[test]
fn stats_count_frames_bytes_and_connections_across_a_reconnect() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let stats = StatsListener::new();
    let mut c = StompClient::builder()
        .address(broker.addr())
        .unwrap()
        .auto_reconnect(true)
        .reconnect_policy(ReconnectPolicy::default().initial(Duration::from_millis(10)))
        .listener("stats", stats.clone())
        .connect()
        .unwrap();
    c.subscription("/queue/ev")
        .wait_receipt(T)
        .subscribe()
        .unwrap();
    c.message("/queue/ev").body("one").send_and_wait(T).unwrap();
    assert_eq!(c.recv_timeout(T).unwrap().unwrap().body(), b"one");

    broker.kill_connections();
    // The next wait notices the loss, reconnects and re-subscribes.
    let err = c.recv_timeout(Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err, Error::Timeout(Timeout::Recv(_))), "{err:?}");
    c.message("/queue/ev").body("two").send_and_wait(T).unwrap();
    assert_eq!(c.recv_timeout(T).unwrap().unwrap().body(), b"two");
    c.disconnect().unwrap();

    let s = stats.stats();
    assert_eq!(
        (s.connections, s.reconnects, s.disconnects),
        (2, 1, 2),
        "{s}"
    );
    assert_eq!(s.sent(Command::Connect), 2, "{s}");
    assert_eq!(
        s.sent(Command::Subscribe),
        2,
        "re-subscribed after the reconnect: {s}"
    );
    assert_eq!(s.sent(Command::Send), 2, "{s}");
    assert_eq!(s.sent(Command::Disconnect), 1, "{s}");
    assert_eq!(s.received(Command::Connected), 2, "{s}");
    assert_eq!(s.received(Command::Message), 2, "{s}");
    assert_eq!(
        s.received(Command::Receipt),
        4,
        "subscribe, two sends, disconnect: {s}"
    );
    assert!(s.bytes_sent > 100 && s.bytes_received > 100, "{s}");
    assert_eq!(
        s.errors, 0,
        "the broker closed between frames: a close, not an error: {s}"
    );
}

#[test]
fn printing_listener_masks_the_passcode_and_prints_each_event() {
    let broker = Broker::builder()
        .user("guest", "s3cret")
        .bind("127.0.0.1:0")
        .unwrap();
    let out = Shared::default();
    let mut c = StompClient::builder()
        .address(broker.addr())
        .unwrap()
        .login("guest", "s3cret")
        .listener("print", PrintingListener::to_writer(out.clone()))
        .connect()
        .unwrap();
    c.message("/queue/p")
        .body("hello")
        .send_and_wait(T)
        .unwrap();
    c.disconnect().unwrap();
    let text = out.text();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("passcode:********"), "{text}");
    for needle in [
        "connecting to",
        "connected to",
        ">>> SEND",
        "<<< RECEIPT",
        "disconnected",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

struct Beats(Arc<Mutex<u32>>);

impl Listener for Beats {
    fn on_heartbeat_timeout(&mut self) {
        *self.0.lock().unwrap() += 1;
    }
}

#[test]
fn heart_beat_timeouts_are_reported_to_listeners() {
    let peer = Peer::start(vec![
        Step::Read,
        connected("1.2", "100,0"),
        Step::Silence(Duration::from_secs(2)),
    ]);
    let count = Arc::new(Mutex::new(0));
    let stats = StatsListener::new();
    let mut c = StompClient::builder()
        .address(peer.addr)
        .unwrap()
        .heart_beat(Duration::ZERO, Duration::from_millis(100))
        .listener("beats", Beats(count.clone()))
        .listener("stats", stats.clone())
        .connect()
        .unwrap();
    assert!(matches!(
        c.recv(),
        Err(Error::Timeout(Timeout::HeartBeat(_)))
    ));
    assert_eq!(*count.lock().unwrap(), 1);
    assert_eq!(stats.stats().heartbeat_timeouts, 1);
}

#[test]
fn removed_listeners_hear_nothing_more() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let mut c = StompClient::connect(broker.addr()).unwrap();
    let stats = StatsListener::new();
    c.add_listener("stats", stats.clone());
    c.send_frame(&Frame::new(Command::Send).with_header("destination", "/queue/r"))
        .unwrap();
    assert_eq!(c.listener_names().collect::<Vec<_>>(), ["stats"]);
    assert!(c.remove_listener("stats").is_some());
    c.send("/queue/r", "unseen").unwrap();
    assert_eq!(stats.stats().sent(Command::Send), 1);
    assert!(c.remove_listener("stats").is_none());
}
