//! Write batching and ACK coalescing never leave a frame unsent when the client waits.
#![cfg(feature = "broker")]

use std::time::Duration;

use stompy::broker::Broker;
use stompy::{AckMode, StompClient};

fn batching(addr: std::net::SocketAddr) -> StompClient {
    StompClient::builder()
        .address(addr)
        .unwrap()
        .write_batching(true)
        .connect()
        .unwrap()
}

#[test]
fn batched_sends_go_out_on_flush() {
    let b = Broker::bind("127.0.0.1:0").unwrap();
    let mut consumer = StompClient::connect(b.addr()).unwrap();
    consumer
        .subscription("/queue/b")
        .wait_receipt(Duration::from_secs(5))
        .subscribe()
        .unwrap();
    let mut producer = batching(b.addr());
    for i in 0..10 {
        producer.send("/queue/b", format!("m{i}")).unwrap();
    }
    // Small frames stay in the batch until a flush...
    assert!(matches!(
        consumer.recv_timeout(Duration::from_millis(200)),
        Err(stompy::Error::Timeout(_))
    ));
    producer.flush().unwrap();
    for i in 0..10 {
        let f = consumer
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert_eq!(f.text().unwrap(), format!("m{i}"));
    }
}

#[test]
fn batched_sends_go_out_before_a_wait() {
    let b = Broker::bind("127.0.0.1:0").unwrap();
    let mut c = batching(b.addr());
    c.subscription("/queue/self")
        .wait_receipt(Duration::from_secs(5))
        .subscribe()
        .unwrap();
    for i in 0..100 {
        c.send("/queue/self", format!("m{i}")).unwrap();
    }
    // recv writes the batch before it waits, so its own messages come back.
    for i in 0..100 {
        let f = c.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
        assert_eq!(f.text().unwrap(), format!("m{i}"));
    }
    // A receipt wait flushes too.
    let r = c
        .message("/queue/other")
        .body("x")
        .receipt()
        .send()
        .unwrap()
        .unwrap();
    c.wait_for_receipt(&r, Duration::from_secs(5)).unwrap();
}

#[test]
fn batched_sends_are_written_on_drop_and_when_large() {
    let b = Broker::bind("127.0.0.1:0").unwrap();
    {
        let mut p = batching(b.addr());
        p.send("/queue/drop", "last words").unwrap();
    }
    let mut p = batching(b.addr());
    let body = vec![b'x'; 300 * 1024];
    p.send("/queue/big", &body).unwrap(); // above the batch size (256 KiB): written at once
    let mut c = StompClient::connect(b.addr()).unwrap();
    c.subscribe("/queue/drop", AckMode::Auto).unwrap();
    let f = c.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!(f.text().unwrap(), "last words");
    c.subscribe("/queue/big", AckMode::Auto).unwrap();
    let f = c.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!(f.body().len(), body.len());
}

#[test]
fn coalesced_auto_acks_all_reach_the_broker() {
    let b = Broker::bind("127.0.0.1:0").unwrap();
    let mut p = batching(b.addr());
    for i in 0..500 {
        p.send("/queue/acks", format!("m{i}")).unwrap();
    }
    p.flush().unwrap();
    let mut c = StompClient::connect(b.addr()).unwrap();
    c.subscribe("/queue/acks", AckMode::ClientIndividual)
        .unwrap();
    for _ in 0..500 {
        c.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
    }
    // The last message's ACK is due on the next recv; it times out with every ACK written.
    assert!(c.recv_timeout(Duration::from_millis(300)).is_err());
    c.disconnect().unwrap();
    // Nothing is redelivered to a new consumer: every ACK arrived.
    let mut c2 = StompClient::connect(b.addr()).unwrap();
    c2.subscribe("/queue/acks", AckMode::Auto).unwrap();
    assert!(matches!(
        c2.recv_timeout(Duration::from_millis(300)),
        Err(stompy::Error::Timeout(_))
    ));
}
