//! No client can take the embedded broker down: hostile clients over real sockets against the
//! `stompy-broker` process, each case measuring the broker's memory (RSS) and the round-trip
//! time of a well-behaved client on the same broker while the offender does its worst.
#![cfg(all(feature = "broker", feature = "cli"))]

#[path = "support/client.rs"]
mod client;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use client::{frame, Peer, WAIT};
use stompy::{AckMode, Command, StompClient};

/// A `stompy-broker` process on a free port.
struct BrokerProcess {
    child: Child,
    addr: SocketAddr,
}

impl BrokerProcess {
    fn start(extra: &[&str]) -> Self {
        let mut child = Process::new(env!("CARGO_BIN_EXE_stompy-broker"))
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn stompy-broker");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .rsplit("://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        BrokerProcess { child, addr }
    }

    /// Resident memory of the broker process, in bytes.
    fn rss(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: usize = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kb * 1024
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A well-behaved client: sends to its own queue and receives it back, timing each trip.
struct Prober {
    client: StompClient,
    queue: String,
    worst: Duration,
}

impl Prober {
    fn new(addr: SocketAddr, tag: &str) -> Self {
        let mut client = StompClient::connect(addr).expect("the prober connects");
        let queue = format!("/queue/probe-{tag}");
        client
            .subscription(&queue)
            .ack(AckMode::ClientIndividual)
            .wait_receipt(WAIT)
            .subscribe()
            .unwrap();
        Prober {
            client,
            queue,
            worst: Duration::ZERO,
        }
    }

    /// One round trip; panics if it does not come back within `WAIT`.
    fn probe(&mut self) -> Duration {
        let start = Instant::now();
        self.client.send(&self.queue, "ping").unwrap();
        let f = self.client.recv_timeout(WAIT).unwrap().unwrap();
        assert_eq!(f.body(), b"ping");
        let rtt = start.elapsed();
        self.worst = self.worst.max(rtt);
        rtt
    }

    /// Probes for `d`, every 20 ms.
    fn probe_for(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.probe();
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs `offend` against a fresh broker while a prober measures; checks the broker survived,
/// kept its memory under `max_growth` bytes and answered the prober within a second.
fn case(
    name: &str,
    extra: &[&str],
    max_growth: usize,
    offend: impl FnOnce(SocketAddr, &mut Prober),
) {
    let mut broker = BrokerProcess::start(extra);
    let mut prober = Prober::new(broker.addr, name);
    prober.probe();
    let before = broker.rss();
    offend(broker.addr, &mut prober);
    prober.probe_for(Duration::from_millis(200));
    let after = broker.rss();
    assert!(broker.is_running(), "{name}: the broker died");
    let growth = after.saturating_sub(before);
    eprintln!(
        "hostile [{name}]: broker RSS {} -> {} KiB (+{} KiB), worst prober round trip {:?}",
        before / 1024,
        after / 1024,
        growth / 1024,
        prober.worst
    );
    assert!(
        growth <= max_growth,
        "{name}: memory grew by {growth} bytes"
    );
    assert!(
        prober.worst < Duration::from_secs(1),
        "{name}: {:?}",
        prober.worst
    );
}

const MIB: usize = 1024 * 1024;

#[test]
fn a_consumer_that_never_reads_while_messages_pile_up() {
    let limits = ["--max-queue-bytes", "16777216"];
    case("never reads", &limits, 48 * MIB, |addr, prober| {
        let mut lazy = Peer::connect(addr, "1.2");
        lazy.subscribe("s", "/queue/pile", "auto");
        // Lazy never reads: 100 MB offered to it. Once the queue is full the broker stops
        // reading the publisher (flow control), so its writes stall: it gives up then.
        let mut p = Peer::connect(addr, "1.2");
        p.stream
            .set_write_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let f = frame(
            Command::Send,
            &[("destination", "/queue/pile")],
            &[b'x'; 10 * 1024],
        );
        let mut bytes = Vec::new();
        stompy::codec::encode_frame(&f, stompy::Version::V1_2, &mut bytes).unwrap();
        let mut stalled = false;
        for i in 0..10_000 {
            if p.stream.write_all(&bytes).is_err() {
                stalled = true;
                break;
            }
            if i % 500 == 0 {
                prober.probe();
            }
        }
        assert!(stalled, "the publisher was paused when the queue filled");
        prober.probe_for(Duration::from_millis(300));
        drop(lazy);
    });
}

#[test]
fn a_send_flood_that_never_reads_its_receipts() {
    case("send flood", &[], 64 * MIB, |addr, prober| {
        let mut flood = Peer::connect(addr, "1.2");
        flood.stream.set_nonblocking(true).unwrap();
        let mut bytes = Vec::new();
        let f = frame(
            Command::Send,
            &[("destination", "/topic/nowhere"), ("receipt", "r")],
            &[b'y'; 1024],
        );
        stompy::codec::encode_frame(&f, stompy::Version::V1_2, &mut bytes).unwrap();
        let until = Instant::now() + Duration::from_secs(2);
        let mut sent = 0usize;
        while Instant::now() < until {
            match flood.stream.write(&bytes) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    prober.probe();
                }
                Err(_) => break, // closed by the broker: fine too
            }
        }
        eprintln!("send flood: {} MiB written", sent / MIB);
    });
}

#[test]
fn thousands_of_idle_connections() {
    raise_fd_limit(20_000);
    let n = 3_000;
    case("idle connections", &[], 256 * MIB, |addr, prober| {
        let socks: Vec<TcpStream> = (0..n)
            .map(|_| TcpStream::connect(addr).expect("connect"))
            .collect();
        prober.probe_for(Duration::from_millis(500));
        drop(socks);
    });
}

#[test]
fn a_connect_dripped_one_byte_at_a_time_is_cut_off() {
    let broker = BrokerProcess::start(&[]);
    let mut drip = TcpStream::connect(broker.addr).unwrap();
    drip.set_nodelay(true).unwrap();
    // A CONNECT whose header never ends, a byte every 50 ms: never silent, never done.
    let start = Instant::now();
    let head = b"CONNECT\naccept-version:1.2\nhost:/\nx-pad:";
    let bytes = head.iter().copied().chain(std::iter::repeat(b'a'));
    let mut cut = None;
    for b in bytes {
        if drip.write_all(&[b]).is_err() {
            cut = Some(start.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        if start.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    let cut = cut.expect("a client that never finishes its CONNECT is dropped");
    eprintln!("hostile [drip]: cut off after {cut:?}");
}

#[test]
fn oversized_frames_and_headers_get_an_error_and_close() {
    case(
        "oversized",
        &["--max-body", "1048576"],
        32 * MIB,
        |addr, prober| {
            let mut big = Peer::connect(addr, "1.2");
            big.cmd_body(
                Command::Send,
                &[("destination", "/queue/big")],
                &vec![b'z'; 2 * MIB],
            );
            big.expect_error("");
            big.expect_closed();
            let mut long = Peer::connect(addr, "1.2");
            let value = "h".repeat(200 * 1024);
            long.cmd(
                Command::Send,
                &[("destination", "/queue/big"), ("k", &value)],
            );
            long.expect_error("");
            long.expect_closed();
            prober.probe();
        },
    );
}

#[test]
fn a_million_subscriptions_are_refused_long_before_memory_runs_out() {
    case("subscriptions", &[], 128 * MIB, |addr, prober| {
        let mut greedy = Peer::connect(addr, "1.2");
        let mut batch = Vec::new();
        for i in 0..1_000_000u32 {
            let id = i.to_string();
            let f = frame(
                Command::Subscribe,
                &[("destination", "/queue/many"), ("id", &id)],
                b"",
            );
            stompy::codec::encode_frame(&f, stompy::Version::V1_2, &mut batch).unwrap();
            if batch.len() > 64 * 1024 {
                if greedy.stream.write_all(&batch).is_err() {
                    break; // closed by the broker
                }
                batch.clear();
            }
            if i % 100_000 == 0 {
                prober.probe();
            }
        }
        let err = greedy.recv_timeout(WAIT);
        assert!(
            err.as_ref().is_some_and(|f| f.command() == Command::Error),
            "the offender gets an ERROR: {err:?}"
        );
    });
}

#[test]
fn a_flood_of_unacked_messages_stays_bounded() {
    case("unacked", &[], 96 * MIB, |addr, prober| {
        let mut p = Peer::connect(addr, "1.2");
        let body = "u".repeat(1024);
        for _ in 0..50_000 {
            p.publish("/queue/unacked", &body);
        }
        // Reads everything it is sent, ACKs nothing.
        let mut hoarder = Peer::connect(addr, "1.2");
        hoarder.subscribe("h", "/queue/unacked", "client-individual");
        let mut got = 0;
        while hoarder.recv_timeout(Duration::from_millis(300)).is_some() {
            got += 1;
            if got % 5_000 == 0 {
                prober.probe();
            }
        }
        eprintln!("unacked: the hoarder was given {got} messages");
        assert!(
            got < 50_000,
            "delivery stops at a bound of un-ACKed messages"
        );
    });
}

#[test]
fn ten_thousand_concurrent_connections_and_memory_per_idle_connection() {
    raise_fd_limit(25_000);
    let mut broker = BrokerProcess::start(&[]);
    let before = broker.rss();
    let n = 10_000;
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = TcpStream::connect(broker.addr).expect("connect");
        s.write_all(b"CONNECT\naccept-version:1.2\nhost:/\n\n\0")
            .unwrap();
        conns.push(s);
        if i % 1000 == 999 {
            // keep the accept queue moving
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let mut prober = Prober::new(broker.addr, "ten-thousand");
    prober.probe_for(Duration::from_millis(500));
    let after = broker.rss();
    assert!(broker.is_running());
    let per = after.saturating_sub(before) / n;
    eprintln!(
        "scale: {n} connections, broker RSS {} -> {} KiB, {per} bytes per idle connection, worst round trip {:?}",
        before / 1024,
        after / 1024,
        prober.worst
    );
    assert!(per < 64 * 1024, "{per} bytes per connection");
    assert!(prober.worst < Duration::from_secs(1));
}

#[test]
fn a_thousand_queues_with_consumers() {
    let broker = BrokerProcess::start(&[]);
    let mut consumers: Vec<Peer> = (0..1000)
        .map(|i| {
            let mut c = Peer::connect(broker.addr, "1.2");
            c.subscribe("s", &format!("/queue/q{i}"), "auto");
            c
        })
        .collect();
    let mut p = StompClient::connect(broker.addr).unwrap();
    for i in 0..1000 {
        p.send(&format!("/queue/q{i}"), i.to_string()).unwrap();
    }
    for (i, c) in consumers.iter_mut().enumerate() {
        let f = c.recv();
        assert_eq!(f.body(), i.to_string().as_bytes());
    }
}

/// Raises this process's open-file limit to `want` (or the hard limit); a broker started
/// afterwards inherits it.
fn raise_fd_limit(want: u64) {
    let got = rlimit::increase_nofile_limit(want).expect("raise the open-file limit");
    eprintln!("open-file limit: {got}");
}
