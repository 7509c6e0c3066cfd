//! Confirmed sends, receipts that belong to their connection, deadlines that hold while
//! reconnecting, an unrequested close that shows, and raw frames that keep the books: against
//! scripted peers (for what a broker will not do on demand) and the embedded broker.

mod peer;

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use peer::{connected, write, Peer, Step};
use stompy::broker::Broker;
use stompy::{
    AckMode, Command, Error, Frame, Listener, ReconnectPolicy, StatsListener, StompClient, Timeout,
};

const T: Duration = Duration::from_secs(10);

fn patient() -> ReconnectPolicy {
    ReconnectPolicy::default().initial(Duration::from_millis(20))
}

fn receipt(id: &str) -> Step {
    write(format!("RECEIPT\nreceipt-id:{id}\n\n\0"))
}

fn bodies(frames: &[Frame], command: Command) -> Vec<String> {
    let of = frames.iter().filter(|f| f.command() == command);
    of.map(|f| f.text().unwrap().into_owned()).collect()
}

/// A listening socket that is never accepted from: a connect succeeds (the kernel answers)
/// and CONNECTED never comes, like a node that hangs.
fn hanging_node() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

#[test]
fn unconfirmed_sends_go_again_after_the_subscriptions_in_order_before_anything_new() {
    let first = Peer::start(vec![
        Step::Read,
        connected("1.2", "0,0"),
        Step::Read, // SUBSCRIBE
        Step::Read, // SEND a
        Step::Read, // SEND b
        Step::Read, // SEND c
        receipt("r-a"),
        Step::Close,
    ]);
    let second = Peer::start(vec![
        Step::Read,
        connected("1.2", "0,0"),
        Step::Read, // SUBSCRIBE again
        Step::Read, // SEND b again
        Step::Read, // SEND c again
        receipt("r-b"),
        receipt("r-c"),
        Step::Read, // SEND d
        receipt("r-d"),
        Step::ReadUntilClosed,
    ]);
    let mut c = StompClient::builder()
        .addresses([first.addr, second.addr])
        .unwrap()
        .auto_reconnect(true)
        .reconnect_policy(patient())
        .disconnect_timeout(Duration::from_millis(100))
        .connect()
        .unwrap();
    c.subscribe("/queue/in", AckMode::Auto).unwrap();
    for b in ["a", "b", "c"] {
        let id = format!("r-{b}");
        c.message("/queue/out")
            .body(b)
            .receipt_id(&id)
            .confirmed()
            .send()
            .unwrap();
    }
    assert_eq!(c.unconfirmed(), 3);
    c.wait_for_confirms(T)
        .expect("confirmed over the second connection");
    assert_eq!(c.reconnect_count(), 1);
    c.message("/queue/out")
        .body("d")
        .receipt_id("r-d")
        .confirmed()
        .send_and_wait(T)
        .unwrap();
    let _ = c.disconnect();
    assert_eq!(bodies(&first.frames(), Command::Send), ["a", "b", "c"]);
    let frames = second.frames();
    let commands: Vec<Command> = frames.iter().map(Frame::command).collect();
    use Command::*;
    assert_eq!(commands, [Connect, Subscribe, Send, Send, Send, Disconnect]);
    assert_eq!(bodies(&frames, Send), ["b", "c", "d"]);
}

#[test]
fn a_receipt_asked_for_on_a_lost_connection_ends_its_wait_at_once() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    for auto_reconnect in [false, true] {
        let peer = Peer::start(vec![
            Step::Read,
            connected("1.2", "0,0"),
            Step::Read, // the SEND asking for r-1
            Step::Close,
        ]);
        let mut c = StompClient::builder()
            .addresses([peer.addr, broker.addr()])
            .unwrap()
            .auto_reconnect(auto_reconnect)
            .reconnect_policy(patient())
            .connect()
            .unwrap();
        c.message("/queue/a")
            .body("x")
            .receipt_id("r-1")
            .send()
            .unwrap();
        let start = Instant::now();
        let err = c.wait_for_receipt("r-1", T).unwrap_err();
        assert!(
            matches!(&err, Error::ReceiptLost(id) if id == "r-1"),
            "{err:?}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(c.is_connected(), auto_reconnect);
        // Asked again on the new connection, it comes.
        if auto_reconnect {
            c.message("/queue/a").body("x").send_and_wait(T).unwrap();
        }
    }
}

#[test]
fn a_confirmed_send_whose_connection_was_lost_is_waited_for_on_the_next_one() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let peer = Peer::start(vec![
        Step::Read,
        connected("1.2", "0,0"),
        Step::Read, // the SEND; no receipt
        Step::Close,
    ]);
    let mut c = StompClient::builder()
        .addresses([peer.addr, broker.addr()])
        .unwrap()
        .auto_reconnect(true)
        .reconnect_policy(patient())
        .confirmed_sends(true)
        .connect()
        .unwrap();
    let r = c
        .message("/queue/kept")
        .body("x")
        .receipt()
        .send()
        .unwrap()
        .unwrap();
    c.wait_for_receipt(&r, T).expect("resent and receipted");
    assert_eq!(c.unconfirmed(), 0);
    c.subscribe("/queue/kept", AckMode::Auto).unwrap();
    assert_eq!(c.recv_timeout(T).unwrap().unwrap().body(), b"x");
}

#[test]
fn every_wait_returns_by_its_deadline_while_a_node_hangs_and_reconnecting_goes_on() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let mut p = StompClient::connect(broker.addr()).unwrap();
    p.message("/queue/late")
        .body("hi")
        .send_and_wait(T)
        .unwrap();
    let (_hang, hanging) = hanging_node();
    let peer = Peer::start(vec![
        Step::Read,
        connected("1.2", "0,0"),
        Step::Read, // SUBSCRIBE
        Step::Read, // the confirmed SEND
        Step::Close,
    ]);
    let mut c = StompClient::builder()
        .addresses([peer.addr, hanging, hanging, broker.addr()])
        .unwrap()
        .auto_reconnect(true)
        .reconnect_policy(patient())
        .connected_timeout(T)
        .connect()
        .unwrap();
    c.subscribe("/queue/late", AckMode::ClientIndividual)
        .unwrap();
    c.send_confirmed("/queue/other", "x").unwrap();
    let within = |d: Duration, took: Duration| took < d + Duration::from_millis(400);

    let start = Instant::now();
    let err = c.recv_timeout(Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err, Error::Timeout(Timeout::Recv(_))), "{err:?}");
    assert!(
        within(Duration::from_millis(300), start.elapsed()),
        "{:?}",
        start.elapsed()
    );
    assert!(c.is_reconnecting());

    let start = Instant::now();
    let err = c.wait_for_confirms(Duration::from_millis(300)).unwrap_err();
    assert!(
        matches!(err, Error::Timeout(Timeout::Confirm(_))),
        "{err:?}"
    );
    assert!(
        within(Duration::from_millis(300), start.elapsed()),
        "{:?}",
        start.elapsed()
    );

    // The next call goes on to the broker that answers.
    let f = c.recv_timeout(T).unwrap().unwrap();
    assert_eq!(f.body(), b"hi");
    c.wait_for_confirms(T).unwrap();
    assert_eq!(c.reconnect_count(), 1);
}

/// Records what `on_disconnected` was told.
#[derive(Clone, Default)]
struct Closes(Arc<Mutex<Vec<Option<String>>>>);

impl Listener for Closes {
    fn on_disconnected(&mut self, reason: Option<&Error>) {
        self.0.lock().unwrap().push(reason.map(|e| e.to_string()));
    }
}

#[test]
fn a_close_the_client_did_not_ask_for_is_not_a_clean_close() {
    let closes = Closes::default();
    let peer = Peer::connected_then(vec![Step::Close]);
    let mut c = StompClient::builder()
        .address(peer.addr)
        .unwrap()
        .listener("closes", closes.clone())
        .connect()
        .unwrap();
    assert!(c.recv().unwrap().is_none(), "the loop still ends");
    assert!(
        matches!(c.close_reason(), Some(Error::ConnectionClosed)),
        "{:?}",
        c.close_reason()
    );
    let told = closes.0.lock().unwrap().clone();
    assert_eq!(told.len(), 1);
    assert!(
        told[0].as_deref().unwrap().contains("without DISCONNECT"),
        "{told:?}"
    );

    // A clean disconnect stays clean.
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let closes = Closes::default();
    let mut c = StompClient::builder()
        .address(broker.addr())
        .unwrap()
        .listener("closes", closes.clone())
        .connect()
        .unwrap();
    c.disconnect().unwrap();
    assert!(c.close_reason().is_none());
    assert_eq!(*closes.0.lock().unwrap(), [None]);
}

#[test]
fn raw_frames_keep_the_books_as_the_typed_calls_do() {
    let broker = Broker::bind("127.0.0.1:0").unwrap();
    let stats = StatsListener::new();
    let mut c = StompClient::builder()
        .address(broker.addr())
        .unwrap()
        .auto_reconnect(true)
        .reconnect_policy(patient())
        .listener("stats", stats.clone())
        .connect()
        .unwrap();
    let q = "/queue/raw";
    let subscribe = Frame::new(Command::Subscribe)
        .with_header("destination", q)
        .with_header("id", "raw-1")
        .with_header("ack", "client-individual")
        .with_header("receipt", "sub-r");
    c.send_frame(&subscribe).unwrap();
    c.wait_for_receipt("sub-r", T).unwrap();
    assert_eq!(c.subscriptions().len(), 1);
    assert_eq!(c.subscriptions()[0].ack, AckMode::ClientIndividual);
    for i in 0..3 {
        c.send(q, i.to_string()).unwrap();
    }
    for i in 0..3 {
        let f = c.recv_timeout(T).unwrap().unwrap();
        assert_eq!(f.text().unwrap(), i.to_string(), "delivered, not refused");
    }
    // Coming back ACKs the third; a raw ACK of the next message cancels its auto-ACK.
    c.send(q, "3").unwrap();
    let f = c.recv_timeout(T).unwrap().unwrap();
    let ack = Frame::new(Command::Ack).with_header("id", f.get("ack").unwrap());
    c.send_frame(&ack).unwrap();
    let err = c.recv_timeout(Duration::from_millis(200)).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(
        stats.stats().sent(Command::Ack),
        4,
        "three auto-ACKs and one raw"
    );

    // The raw subscription is re-subscribed after a reconnect, and nothing comes twice (a
    // plain send into the dead connection could be lost: a confirmed one is sent again).
    broker.kill_connections();
    c.send_confirmed(q, "4").unwrap();
    let f = c.recv_timeout(T).unwrap().unwrap();
    assert_eq!(f.text().unwrap(), "4");
    assert_eq!(c.reconnect_count(), 1);

    let unsubscribe = Frame::new(Command::Unsubscribe).with_header("id", "raw-1");
    c.send_frame(&unsubscribe).unwrap();
    assert!(c.subscriptions().is_empty());
}

#[test]
fn a_full_window_waits_for_receipts_and_the_frames_come_back_to_the_application() {
    let peer = Peer::connected_then(vec![Step::ReadUntilClosed]);
    let mut c = StompClient::builder()
        .address(peer.addr)
        .unwrap()
        .confirmed_sends(true)
        .confirm_window(3, 1 << 20)
        .write_timeout(Duration::from_millis(300))
        .disconnect_timeout(Duration::from_millis(200))
        .connect()
        .unwrap();
    for i in 0..3 {
        c.send("/queue/a", i.to_string()).unwrap();
    }
    let start = Instant::now();
    let err = c.send("/queue/a", "3").unwrap_err();
    assert!(
        matches!(err, Error::Timeout(Timeout::Confirm(_))),
        "{err:?}"
    );
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(c.unconfirmed(), 3);
    let err = c.disconnect().unwrap_err();
    assert!(matches!(err, Error::Unconfirmed { count: 3 }), "{err:?}");
    let back: Vec<String> = c
        .take_unconfirmed()
        .iter()
        .map(|f| f.text().unwrap().into_owned())
        .collect();
    assert_eq!(back, ["0", "1", "2"]);
    assert_eq!(c.unconfirmed(), 0);
    let sent = peer.frames();
    assert_eq!(bodies(&sent, Command::Send), ["0", "1", "2"]);
    assert!(
        sent.iter()
            .filter(|f| f.command() == Command::Send)
            .all(|f| f.get("receipt").is_some()),
        "every confirmed send asks for a receipt"
    );
}

#[test]
fn a_confirmed_send_the_broker_refuses_is_reported_and_kept_not_dropped() {
    let peer = Peer::connected_then(vec![
        Step::Read,
        write("ERROR\nmessage:no such queue\nreceipt-id:r-x\n\n\0"),
        Step::ReadUntilClosed,
    ]);
    let mut c = StompClient::builder()
        .address(peer.addr)
        .unwrap()
        .disconnect_timeout(Duration::from_millis(100))
        .connect()
        .unwrap();
    c.message("/queue/nope")
        .body("x")
        .receipt_id("r-x")
        .confirmed()
        .send()
        .unwrap();
    let err = c.wait_for_confirms(T).unwrap_err();
    assert_eq!(err.broker_error().unwrap().message, "no such queue");
    assert_eq!(c.unconfirmed(), 1, "kept for the application to see");
    let back = c.take_unconfirmed();
    assert_eq!(back[0].body(), b"x");
}
