//! The `durable` group: persistent messages end to end (one publisher with confirmed sends, one
//! consumer ACKing each message) on the embedded broker with a data directory and on
//! RabbitMQ, and the embedded broker's memory per idle connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use stompy::{AckMode, StompClient};

use crate::util::{body, io_bytes, process_cpu, report_kv, thread_cpu};

/// One publisher thread (`confirmed_sends(true)`, `wait_for_confirms` at the end, with
/// `persistent:true` on every SEND when `persistent`) and one consumer (this thread:
/// client-individual ACK with auto-ACK on, `recv` of every message) on one queue. The rate is
/// `n` ÷ the time from the publisher's start until the consumer has all `n` messages and the
/// broker has confirmed all of them. Besides the clients' CPU per message (each thread's own),
/// it reports this process's bytes written to storage per message and, with `in_process` (the
/// embedded broker runs in this process), the broker's CPU per message: the whole process's
/// minus the two clients'.
pub fn one_to_one(
    addr: &str,
    dest: &str,
    n: u64,
    persistent: bool,
    in_process: bool,
    workload: &str,
) {
    let mut consumer = StompClient::builder()
        .address(addr)
        .unwrap()
        .login("guest", "guest")
        .host("/")
        .connect()
        .unwrap();
    consumer
        .subscription(dest)
        .ack(AckMode::ClientIndividual)
        .wait_receipt(Duration::from_secs(10))
        .subscribe()
        .unwrap();
    let timeout = Duration::from_secs(300);
    let (proc0, io0, con0) = (process_cpu(), io_bytes(), thread_cpu());
    let t0 = Instant::now();
    let publisher = {
        let (addr, dest) = (addr.to_owned(), dest.to_owned());
        std::thread::spawn(move || {
            let mut p = StompClient::builder()
                .address(addr.as_str())
                .unwrap()
                .login("guest", "guest")
                .host("/")
                .write_batching(true)
                .auto_content_length(false)
                .confirmed_sends(true)
                .connect()
                .unwrap();
            let b = body();
            let c0 = thread_cpu();
            for _ in 0..n {
                if persistent {
                    p.message(&dest)
                        .header("persistent", "true")
                        .body(b.as_slice())
                        .send()
                        .unwrap();
                } else {
                    p.send(&dest, &b).unwrap();
                }
            }
            p.wait_for_confirms(timeout).unwrap();
            let confirmed = t0.elapsed();
            let cpu = thread_cpu() - c0;
            p.disconnect().unwrap();
            (confirmed, cpu)
        })
    };
    for _ in 0..n {
        let f = consumer
            .recv()
            .unwrap()
            .expect("the broker closed the consumer");
        assert_eq!(f.body().len(), crate::util::BODY_LEN);
    }
    let received = t0.elapsed();
    let con_cpu = thread_cpu() - con0;
    let (confirmed, pub_cpu) = publisher.join().unwrap();
    let secs = received.max(confirmed).as_secs_f64();
    let proc_cpu = process_cpu() - proc0;
    let written = io_bytes().saturating_sub(io0);
    // ACKs the last message (its auto-ACK is still due), so the queue ends empty.
    consumer.disconnect().unwrap();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    let mut kv = vec![
        ("msgs", n as f64),
        ("secs", secs),
        ("msgs_per_s", n as f64 / secs),
        ("confirmed_s", confirmed.as_secs_f64()),
        ("received_s", received.as_secs_f64()),
        ("pub_cpu_us_per_msg", per(pub_cpu)),
        ("con_cpu_us_per_msg", per(con_cpu)),
        ("cpu_us_per_msg", per(pub_cpu + con_cpu)),
        ("disk_bytes_per_msg", written as f64 / n as f64),
    ];
    if in_process {
        let clients = pub_cpu + con_cpu;
        kv.push((
            "broker_cpu_us_per_msg",
            per(proc_cpu.saturating_sub(clients)),
        ));
    }
    report_kv(workload, "stompy", &kv);
}

/// Runs the embedded broker with the defaults in this process (`stompy-compare idle-broker`)
/// until killed; prints `port N` once it listens.
pub fn idle_broker() {
    let b = stompy::broker::Broker::bind("127.0.0.1:0").unwrap();
    println!("port {}", b.addr().port());
    std::io::stdout().flush().unwrap();
    loop {
        std::thread::park();
    }
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Opens `n` connections to the broker process `pid` at `addr`, `batch` at a time (connect
/// and write CONNECT on each, then read each one's CONNECTED), and keeps them idle: the
/// broker's RSS growth per connection and the set-up time.
pub fn idle_connections(addr: &str, pid: u32, n: usize, batch: usize, workload: &str) {
    // Settled: the listener thread is up and has nothing to do.
    std::thread::sleep(Duration::from_millis(200));
    let before = rss_kib(pid);
    let connect = b"CONNECT\naccept-version:1.2\nhost:/\n\n\0";
    let mut conns: Vec<TcpStream> = Vec::with_capacity(n);
    let mut buf = [0u8; 512];
    let t0 = Instant::now();
    while conns.len() < n {
        let start = conns.len();
        for _ in 0..batch.min(n - start) {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.write_all(connect).unwrap();
            conns.push(s);
        }
        for s in &mut conns[start..] {
            // One CONNECTED frame, up to its NUL (nothing else comes on an idle connection).
            let mut got = Vec::new();
            while !got.contains(&0) {
                let k = s.read(&mut buf).unwrap();
                assert!(k > 0, "the broker closed a connection before CONNECTED");
                got.extend_from_slice(&buf[..k]);
            }
            assert!(
                got.starts_with(b"CONNECTED"),
                "{:?}",
                String::from_utf8_lossy(&got)
            );
        }
    }
    let setup = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(pid);
    report_kv(
        workload,
        "stompy",
        &[
            ("conns", n as f64),
            ("batch", batch as f64),
            ("rss_before_kib", before as f64),
            ("rss_after_kib", after as f64),
            (
                "bytes_per_conn",
                after.saturating_sub(before) as f64 * 1024.0 / n as f64,
            ),
            ("setup_s", setup),
            ("conns_per_s", n as f64 / setup),
        ],
    );
}
