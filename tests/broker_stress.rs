//! The embedded broker under load and failure: kills, restarts, many connections, big bodies.
#![cfg(feature = "broker")]

#[path = "support/client.rs"]
mod client;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use client::Peer;
use stompy::broker::Broker;
use stompy::Command;

#[test]
fn kill_connections_redelivers_unacked() {
    let b = Broker::bind("127.0.0.1:0").unwrap();
    let mut c = Peer::connect(b.addr(), "1.2");
    c.subscribe("s", "/queue/kill", "client-individual");
    c.publish("/queue/kill", "x");
    assert_eq!(c.recv().body(), b"x");
    b.kill_connections();
    c.expect_closed();
    let mut d = Peer::connect(b.addr(), "1.2");
    d.subscribe("s", "/queue/kill", "client-individual");
    let m = d.recv();
    assert_eq!((m.body(), m.get("redelivered")), (&b"x"[..], Some("true")));
}

#[test]
fn state_survives_shutdown_and_rebind() {
    let b = Broker::bind("127.0.0.1:0").unwrap();
    let addr = b.addr();
    let mut p = Peer::connect(addr, "1.2");
    for i in 0..3 {
        p.publish("/queue/keep", &i.to_string());
    }
    p.with_receipt(Command::Send, &[("destination", "/queue/other")]);
    let state = b.shutdown_keep_state();
    assert_eq!(state.message_count(), 4);
    assert_eq!(state.queue_lengths()["/queue/keep"], 3);
    let b = Broker::builder().state(state).bind(addr).unwrap();
    let mut c = Peer::connect(b.addr(), "1.2");
    c.subscribe("s", "/queue/keep", "auto");
    let got: Vec<_> = (0..3).map(|_| c.recv().into_body()).collect();
    assert_eq!(got, [b"0", b"1", b"2"]);
}

const N: usize = 10_000;
const BATCH: usize = 100;

/// Tries to connect until the broker answers (it may be restarting).
fn connect_retry(addr: SocketAddr) -> Peer {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(p) = std::panic::catch_unwind(|| Peer::connect(addr, "1.2")) {
            return p;
        }
        assert!(Instant::now() < deadline, "broker did not come back");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends batches with a receipt on the last message; resends a batch whose receipt was lost.
fn produce(addr: SocketAddr) {
    let mut p = connect_retry(addr);
    let mut next = 0;
    while next < N {
        let end = (next + BATCH).min(N);
        let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for i in next..end {
                let body = i.to_string();
                let mut h = vec![("destination", "/queue/stream")];
                if i + 1 == end {
                    h.push(("receipt", "batch"));
                }
                p.cmd_body(Command::Send, &h, body.as_bytes());
            }
            p.recv_timeout(Duration::from_secs(5))
                .is_some_and(|f| f.command() == Command::Receipt)
        }));
        if sent.unwrap_or(false) {
            next = end;
        } else {
            p = connect_retry(addr);
        }
    }
}

/// Receives (client-individual, ACK each) until every number was seen.
fn consume(addr: SocketAddr, progress: Arc<AtomicUsize>) -> HashSet<usize> {
    let mut seen = HashSet::new();
    while seen.len() < N {
        let mut c = connect_retry(addr);
        c.subscribe("s", "/queue/stream", "client-individual");
        while let Some(m) = c.recv_timeout(Duration::from_secs(5)) {
            if m.command() != Command::Message {
                break;
            }
            seen.insert(
                std::str::from_utf8(m.body())
                    .unwrap()
                    .parse::<usize>()
                    .unwrap(),
            );
            progress.store(seen.len(), Ordering::SeqCst);
            let ack = m.get("ack").unwrap().to_string();
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                c.cmd(Command::Ack, &[("id", &ack)])
            }))
            .is_err()
            {
                break;
            }
            if seen.len() == N {
                break;
            }
        }
    }
    seen
}

#[test]
fn restart_while_streaming_loses_nothing() {
    let b = Broker::bind("127.0.0.1:0").unwrap();
    let addr = b.addr();
    let progress = Arc::new(AtomicUsize::new(0));
    let producer = std::thread::spawn(move || produce(addr));
    let seen_so_far = progress.clone();
    let consumer = std::thread::spawn(move || consume(addr, seen_so_far));
    let mut b = Some(b);
    for quarter in 1..4 {
        let deadline = Instant::now() + Duration::from_secs(30);
        while progress.load(Ordering::SeqCst) < quarter * N / 4 {
            assert!(Instant::now() < deadline, "stream stalled");
            std::thread::sleep(Duration::from_millis(1));
        }
        let state = b.take().unwrap().shutdown_keep_state();
        b = Some(Broker::builder().state(state).bind(addr).unwrap());
    }
    producer.join().unwrap();
    let seen = consumer.join().unwrap();
    assert_eq!(seen.len(), N);
}

#[test]
fn full_queue_pauses_the_producer_until_drained() {
    let b = Broker::builder()
        .max_queue_len(100)
        .bind("127.0.0.1:0")
        .unwrap();
    let mut p = Peer::connect(b.addr(), "1.2");
    for i in 0..1000 {
        p.publish("/queue/flow", &i.to_string());
    }
    p.cmd(
        Command::Send,
        &[("destination", "/queue/other"), ("receipt", "last")],
    );
    p.expect_silence(Duration::from_millis(300));
    let mut c = Peer::connect(b.addr(), "1.2");
    c.subscribe("s", "/queue/flow", "auto");
    for i in 0..1000 {
        assert_eq!(c.recv().body(), i.to_string().as_bytes());
    }
    assert_eq!(p.recv().get("receipt-id"), Some("last"));
}

#[test]
fn slow_consumer_gets_everything_in_order() {
    let b = Broker::bind("127.0.0.1:0").unwrap();
    let mut c = Peer::connect(b.addr(), "1.2");
    c.with_receipt(
        Command::Subscribe,
        &[("id", "s"), ("destination", "/queue/slow")],
    );
    let addr = b.addr();
    let producer = std::thread::spawn(move || {
        let mut p = Peer::connect(addr, "1.2");
        let body = vec![b'z'; 1000];
        for i in 0..20_000u32 {
            let n = i.to_string();
            p.cmd_body(
                Command::Send,
                &[("destination", "/queue/slow"), ("n", &n)],
                &body,
            );
        }
        p.with_receipt(Command::Send, &[("destination", "/queue/none")]);
    });
    producer.join().unwrap(); // 20 MB sent while the consumer reads nothing
    for i in 0..20_000u32 {
        let m = c.recv();
        assert_eq!(m.get("n"), Some(i.to_string().as_str()));
    }
    c.expect_silence(Duration::from_millis(100));
}

#[test]
fn fifty_concurrent_connections() {
    let b = Broker::bind("127.0.0.1:0").unwrap();
    let addr = b.addr();
    let threads: Vec<_> = (0..50)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Peer::connect(addr, "1.2");
                let q = format!("/queue/many-{t}");
                c.subscribe("s", &q, "auto");
                c.subscribe("all", "/queue/shared", "auto");
                for i in 0..100 {
                    c.publish(&q, &i.to_string());
                }
                let mut n = 0;
                while n < 100 {
                    let m = c.recv();
                    if m.subscription() == Some("s") {
                        assert_eq!(m.body(), n.to_string().as_bytes());
                        n += 1;
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn ten_mib_body() {
    let b = Broker::bind("127.0.0.1:0").unwrap();
    let mut c = Peer::connect(b.addr(), "1.2");
    let mut p = Peer::connect(b.addr(), "1.2");
    c.subscribe("s", "/queue/big", "auto");
    let body: Vec<u8> = (0..10 << 20).map(|i| (i % 251) as u8).collect();
    let writer = std::thread::spawn(move || {
        p.cmd_body(Command::Send, &[("destination", "/queue/big")], &body);
        p.with_receipt(Command::Send, &[("destination", "/queue/none")]);
        body
    });
    let m = c.recv();
    let body = writer.join().unwrap();
    assert_eq!(m.body().len(), body.len());
    assert!(m.body() == &body[..]);
}

/// Throughput of one producer to one consumer on a queue (run with `--ignored --release`).
#[test]
#[ignore = "benchmark"]
fn throughput_one_producer_one_consumer() {
    const MSGS: usize = 200_000;
    let b = Broker::bind("127.0.0.1:0").unwrap();
    let addr = b.addr();
    let mut c = Peer::connect(addr, "1.2");
    c.with_receipt(
        Command::Subscribe,
        &[("id", "s"), ("destination", "/queue/bench")],
    );
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        let mut p = Peer::connect(addr, "1.2");
        let body = [b'x'; 100];
        let mut out = Vec::new();
        for _ in 0..MSGS / 1000 {
            out.clear();
            for _ in 0..1000 {
                let f = client::frame(Command::Send, &[("destination", "/queue/bench")], &body);
                stompy::codec::encode_frame(&f, p.version, &mut out).unwrap();
            }
            std::io::Write::write_all(&mut p.stream, &out).unwrap();
        }
        start.elapsed()
    });
    for _ in 0..MSGS {
        c.recv();
    }
    let took = start.elapsed();
    let sent = producer.join().unwrap();
    let rate = MSGS as f64 / took.as_secs_f64();
    eprintln!("{MSGS} messages: sent in {sent:?}, received in {took:?}: {rate:.0} msg/s");
}
