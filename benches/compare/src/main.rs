//! Bench driver: `stompy-compare peer KIND` runs a peer; `stompy-compare suite` runs every
//! workload for every client and prints one JSON line per measurement.

mod async_runs;
mod codec_mem;
mod durable;
mod instr;
mod peers;
mod raw;
mod stompy_runs;
mod util;

use std::io::BufRead;
use std::net::TcpStream;

use std::process::{Child, Command, Stdio};
use std::time::Duration;
use stompy_runs::Take;

struct Peer {
    child: Child,
    addr: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a peer in its own process, so its CPU is never counted as the client's.
fn peer(kind: &str) -> Peer {
    child(&["peer", kind])
}

/// Runs this binary with `args` in a child process that prints `port N` once it listens.
fn child(args: &[&str]) -> Peer {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().strip_prefix("port ").unwrap().to_owned();
    Peer {
        child,
        addr: format!("127.0.0.1:{port}"),
    }
}

fn reachable(addr: &str) -> bool {
    TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_millis(500)).is_ok()
}

/// `BENCH_CLIENTS` (comma-separated: raw, stompy, async-stomp, stomp.py) limits the clients.
fn want(client: &str) -> bool {
    std::env::var("BENCH_CLIENTS").map_or(true, |v| v.split(',').any(|c| c == client))
}

fn secs() -> Duration {
    let s: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    Duration::from_secs_f64(s)
}

fn env_n(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs scripts/bench_stomppy.py with `$BENCH_PYTHON` (a Python with stomp.py), if set.
fn stomppy(args: &[&str]) {
    let Ok(python) = std::env::var("BENCH_PYTHON") else {
        return;
    };
    if !want("stomp.py") {
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/bench_stomppy.py"
    );
    let status = Command::new(python).arg(script).args(args).status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("stomp.py run failed: {args:?}");
    }
}

fn suite(only: Option<&str>) {
    let on = |g: &str| only.is_none_or(|o| o.split(',').any(|x| x == g));
    let secs = secs();
    let uniq = std::process::id();
    // In-memory and client-bound groups first, before the brokers have work in the background.
    if on("codec") {
        codec_mem::decode_small(secs);
        codec_mem::decode_large(secs);
    }
    if on("client") {
        let fh = peer("firehose");
        let sink = peer("sink");
        // The machine's speed drifts from one second to the next: each round measures the floor
        // and stompy one right after the other, and the table takes the medians of
        // BENCH_CLIENT_ROUNDS (5: a run is two seconds here, and a median of five rounds is
        // steadier than one of three).
        for _ in 0..env_n("BENCH_CLIENT_ROUNDS", 5) {
            client_round(&fh.addr, &sink.addr, secs);
        }
        stomppy(&[
            "--firehose",
            &fh.addr,
            "--sink",
            &sink.addr,
            "--secs",
            &secs.as_secs_f64().to_string(),
        ]);
    }
    if on("instr") {
        instr::group();
    }
    if on("mem") {
        let fh = peer("firehose");
        let big = peer("big");
        for args in [
            vec!["mem-flow".to_owned(), fh.addr.clone()],
            vec!["mem-big".to_owned(), big.addr.clone()],
        ] {
            let out = Command::new(std::env::current_exe().unwrap())
                .args(&args)
                .output()
                .unwrap();
            print!("{}", String::from_utf8_lossy(&out.stdout));
        }
    }
    // Publish-all-then-consume needs a queue that holds every message: the default limit
    // (100 000) pauses the publisher at exactly that many.
    let embedded = stompy::broker::Broker::builder()
        .max_queue_len(1_000_000)
        .max_queue_bytes(1 << 30)
        .bind("127.0.0.1:0")
        .unwrap();
    let emb = embedded.addr().to_string();
    let mut brokers = vec![("embedded", emb.clone())];
    for (name, addr) in [
        ("RabbitMQ", "127.0.0.1:61613"),
        ("ActiveMQ", "127.0.0.1:61623"),
    ] {
        if reachable(addr) {
            brokers.push((name, addr.to_owned()));
        } else {
            eprintln!("{name} at {addr} not reachable: skipped");
        }
    }
    if let Ok(keep) = std::env::var("BENCH_BROKERS") {
        brokers.retain(|(name, _)| keep.split(',').any(|k| k == *name));
    }
    // Broker-bound numbers swing by tens of percent from one run to the next: each client runs
    // BENCH_ROUNDS times, interleaved, and the table takes the median.
    let rounds = env_n("BENCH_ROUNDS", 3);
    if on("broker") {
        let n = env_n("BENCH_BROKER_MSGS", 100_000);
        for (round, (name, addr)) in (0..rounds).flat_map(|r| brokers.iter().map(move |b| (r, b))) {
            let uniq = format!("{uniq}-{round}");
            let w = format!("{name}: publish + consume");
            if want("raw") {
                raw::broker_roundtrip(addr, &format!("/queue/bench-raw-{uniq}"), n, &w);
            }
            if want("stompy") {
                stompy_runs::broker_roundtrip(addr, &format!("/queue/bench-stompy-{uniq}"), n, &w);
            }
            if want("async-stomp") {
                async_runs::broker_roundtrip(addr, &format!("/queue/bench-async-{uniq}"), n, &w);
            }
        }
        let mut args = vec![
            "--broker-msgs".to_owned(),
            n.to_string(),
            "--rr".into(),
            "0".into(),
        ];
        for (name, addr) in &brokers {
            args.extend(["--broker".to_owned(), format!("{name}={addr}")]);
        }
        stomppy(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    if on("rr") {
        let n = env_n("BENCH_RR", 2000) as usize;
        for (round, (name, addr)) in (0..rounds).flat_map(|r| brokers.iter().map(move |b| (r, b))) {
            let uniq = format!("{uniq}-{round}");
            let w = format!("{name}: request/reply");
            if want("raw") {
                raw::request_reply(addr, &format!("/queue/rr-raw-{uniq}"), n, &w);
            }
            if want("stompy") {
                stompy_runs::request_reply(addr, &format!("/queue/rr-stompy-{uniq}"), n, &w);
            }
            if want("async-stomp") {
                async_runs::request_reply(addr, &format!("/queue/rr-async-{uniq}"), n, &w);
            }
            stomppy(&[
                "--rr",
                &n.to_string(),
                "--broker-msgs",
                "0",
                "--broker",
                &format!("{name}={addr}"),
            ]);
        }
    }
    if on("publish") {
        // Publish only, until the broker has confirmed every message: one receipt at the end,
        // confirmed sends, and one round trip per message; the floor is a raw socket that asks
        // for a receipt on every SEND, with no window. Persistent messages only where the
        // broker keeps them on disk. BENCH_CONFIRM_WINDOWS (e.g. "256,4096") adds confirmed
        // rows with those window sizes (frames).
        let n = env_n("BENCH_BROKER_MSGS", 100_000);
        let n_sync = env_n("BENCH_RR", 2000);
        let windows: Vec<usize> = std::env::var("BENCH_CONFIRM_WINDOWS")
            .unwrap_or_default()
            .split(',')
            .filter_map(|w| w.trim().parse().ok())
            .collect();
        use stompy_runs::Publish::{Confirmed, SendAndWait, SendThenReceipt};
        for (round, (name, addr)) in (0..rounds).flat_map(|r| brokers.iter().map(move |b| (r, b))) {
            let uniq = format!("{uniq}-{round}");
            // The embedded broker takes 100 000 in less than 0.1 s: too short to measure well.
            let n = if *name == "embedded" { 5 * n } else { n };
            let persist: &[bool] = if *name == "embedded" {
                &[false]
            } else {
                &[false, true]
            };
            for &persistent in persist {
                // ActiveMQ stores a persistent SEND that asks for a receipt before it reads the
                // next one: about 4 000/s, so a fifth of the messages there.
                let n = if persistent && *name == "ActiveMQ" {
                    n / 5
                } else {
                    n
                };
                let kind = if persistent {
                    "publish persistent"
                } else {
                    "publish"
                };
                let q = if persistent { "pp" } else { "p" };
                if want("raw") {
                    raw::broker_publish_receipts(
                        addr,
                        &format!("/queue/bench-{q}-raw-{uniq}"),
                        n,
                        persistent,
                        &format!("{name}: {kind}, confirmed"),
                    );
                }
                if !want("stompy") {
                    continue;
                }
                for (how, label, n, tag) in [
                    (SendThenReceipt, "send + 1 receipt", n, "send"),
                    (Confirmed, "confirmed", n, "conf"),
                    (SendAndWait, "send_and_wait loop", n_sync, "sync"),
                ] {
                    stompy_runs::broker_publish(
                        addr,
                        &format!("/queue/bench-{q}-{tag}-{uniq}"),
                        n,
                        how,
                        persistent,
                        None,
                        &format!("{name}: {kind}, {label}"),
                    );
                }
                if persistent {
                    continue;
                }
                for &w in &windows {
                    stompy_runs::broker_publish(
                        addr,
                        &format!("/queue/bench-{q}-conf{w}-{uniq}"),
                        n,
                        Confirmed,
                        persistent,
                        Some(w),
                        &format!("{name}: {kind}, confirmed, window {w}"),
                    );
                }
            }
        }
    }
    if on("1to1") {
        for (name, addr) in &brokers {
            if *name == "ActiveMQ" {
                continue;
            }
            let n = if *name == "embedded" {
                300_000
            } else {
                100_000
            };
            if want("stompy") {
                stompy_runs::one_to_one(
                    addr,
                    &format!("/queue/one-{uniq}"),
                    n,
                    &format!("{name}: 1 producer -> 1 consumer"),
                );
            }
        }
    }
    if on("durable") {
        durable_group(&brokers, rounds, &uniq.to_string());
    }
    drop(embedded);
}

/// Persistent messages end to end, with receipts and ACKs: the embedded broker with a data
/// directory (its own, started here) beside RabbitMQ (whose `/queue/…` queues are durable),
/// persistent and not; then the embedded broker's memory per idle connection, in a process of
/// its own.
fn durable_group(brokers: &[(&str, String)], rounds: u64, uniq: &str) {
    let with_embedded = brokers.iter().any(|(name, _)| *name == "embedded");
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/bench"))
        .join(format!("durable-{uniq}"));
    let _ = std::fs::remove_dir_all(&dir);
    let broker = with_embedded.then(|| {
        stompy::broker::Broker::builder()
            .data_dir(&dir)
            .bind("127.0.0.1:0")
            .unwrap()
    });
    let mut targets = Vec::new();
    if let Some(b) = &broker {
        targets.push((
            "embedded",
            b.addr().to_string(),
            env_n("BENCH_DURABLE_MSGS", 200_000),
        ));
    }
    if let Some((_, addr)) = brokers.iter().find(|(name, _)| *name == "RabbitMQ") {
        let n = env_n("BENCH_DURABLE_RABBIT_MSGS", 30_000);
        targets.push(("RabbitMQ", addr.clone(), n));
    }
    if want("stompy") {
        for round in 0..rounds {
            for (name, addr, n) in &targets {
                for persistent in [true, false] {
                    let (kind, q) = if persistent {
                        ("persistent", "p")
                    } else {
                        ("non-persistent", "n")
                    };
                    durable::one_to_one(
                        addr,
                        &format!("/queue/bench-dur-{q}-{uniq}-{round}"),
                        *n,
                        persistent,
                        *name == "embedded",
                        &format!("{name}: durable 1 -> 1, {kind}"),
                    );
                }
            }
        }
    }
    if let Some(b) = broker {
        b.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
    }
    if !with_embedded || !want("stompy") {
        return;
    }
    // This process holds one end of every connection, the broker process (which inherits the
    // limit) the other.
    let limit = rlimit::increase_nofile_limit(25_000).expect("raise the open-file limit");
    let n = (env_n("BENCH_IDLE_CONNS", 10_000)).min(limit.saturating_sub(100)) as usize;
    let batch = env_n("BENCH_CONN_BATCH", 100) as usize;
    for _ in 0..rounds {
        let b = child(&["idle-broker"]);
        durable::idle_connections(
            &b.addr,
            b.child.id(),
            n,
            batch,
            &format!("embedded: {n} idle connections"),
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("peer") => peers::serve(&args[1]),
        Some("suite") => suite(args.get(1).map(String::as_str)),
        Some("mem-flow") => codec_mem::flow(&args[1], 1_000_000),
        Some("mem-big") => codec_mem::big(&args[1]),
        Some("idle-broker") => durable::idle_broker(),
        // Exactly N messages of one workload, for counting instructions under callgrind:
        // `count firehose-auto|firehose-ack|publish|publish-nolen N`.
        Some("count") => {
            let kind = args[1].as_str();
            let n: u64 = args[2].parse().unwrap();
            let publish = kind.starts_with("publish");
            let p = peer(if publish { "sink" } else { "firehose" });
            stompy_runs::count(&p.addr, kind, n);
        }
        // One stompy workload against a peer, for profiling: `one firehose-auto|firehose-ack|publish`
        // (`-owned`: with `recv`; `-hb`: heart-beats every 10 s; `firehose-auto-timeout`: with
        // `recv_ref_timeout`).
        Some("one") => {
            let kind = args.get(1).map(String::as_str).unwrap_or("firehose-auto");
            if kind == "rr" {
                let b = stompy::broker::Broker::bind("127.0.0.1:0").unwrap();
                let n = env_n("BENCH_RR", 2000) as usize;
                stompy_runs::request_reply(&b.addr().to_string(), "/queue/rr", n, kind);
                return;
            }
            let p = peer(if kind == "publish" {
                "sink"
            } else {
                "firehose"
            });
            match kind {
                "publish" => stompy_runs::publish(&p.addr, true, secs(), kind),
                k => {
                    let ack = k.starts_with("firehose-ack");
                    let take = match k {
                        _ if k.contains("-owned") => Take::Owned,
                        _ if k.ends_with("-timeout") => Take::LentPolling,
                        _ => Take::Lent,
                    };
                    let beats = Duration::from_secs(if k.ends_with("-hb") { 10 } else { 0 });
                    stompy_runs::firehose_with(&p.addr, ack, take, beats, secs(), k)
                }
            }
        }
        _ => {
            eprintln!("usage: stompy-compare suite [client,instr,broker,rr,publish,1to1,durable,codec,mem] | peer firehose|sink|big");
            std::process::exit(2);
        }
    }
}

/// One round of the client group: each workload against its floor, then stompy (and the other
/// clients asked for).
fn client_round(fh: &str, sink: &str, secs: Duration) {
    for (ack, w) in [
        (false, "firehose consume, auto"),
        (true, "firehose consume, ACK each"),
    ] {
        // The floor right before stompy, as in every pair of this round.
        if want("raw") {
            raw::firehose(fh, ack, true, secs, w);
            raw::firehose(fh, ack, false, secs, w);
        }
        if want("stompy") {
            stompy_runs::firehose(fh, ack, false, secs, w);
        }
        if want("async-stomp") {
            async_runs::firehose(fh, ack, secs, w);
        }
        // With heart-beats on, as the README's tour asks for: the client must see whether one
        // is due between frames. Against a floor of its own run.
        if !ack {
            let w = &format!("{w}, heart-beats 10 s");
            if want("raw") {
                raw::firehose(fh, ack, false, secs, w);
            }
            if want("stompy") {
                let beats = Duration::from_secs(10);
                stompy_runs::firehose_with(fh, ack, Take::Lent, beats, secs, w);
            }
        }
        // The same with owned frames (`recv`), against a floor of its own run.
        let w = &format!("{w}, owned frames (recv)");
        if want("raw") {
            raw::firehose(fh, ack, false, secs, w);
        }
        if want("stompy") {
            stompy_runs::firehose(fh, ack, true, secs, w);
        }
    }
    let w = "sink publish";
    if want("raw") {
        raw::publish_copy(sink, secs, w);
        raw::publish(sink, secs, w);
    }
    if want("stompy") {
        stompy_runs::publish(sink, true, secs, w);
    }
    if want("async-stomp") {
        async_runs::publish(sink, secs, w);
    }
    let w = "sink publish, no content-length";
    if want("raw") {
        raw::publish(sink, secs, w);
    }
    if want("stompy") {
        stompy_runs::publish_with(sink, true, false, secs, w);
    }
    let w = "sink publish, unbatched";
    if want("stompy") {
        stompy_runs::publish(sink, false, secs, w);
    }
}
