//! Persistent messages survive a crash: the real `stompy-broker` binary with `--data-dir`,
//! killed with SIGKILL at random moments while publishers send persistent messages with
//! receipts and consumers ACK with receipts, restarted on the same directory.
//!
//! What must hold after every restart, per queue:
//! - every message whose SEND was receipted, and whose ACK was not, is back;
//! - no message whose ACK was receipted comes back;
//! - the order is kept: a consumer sees the messages in the order they were sent.
//!
//! Messages whose SEND or ACK got no receipt before the kill may or may not be back. A
//! message a consumer received is on disk (the broker writes a MESSAGE only after the commit
//! that stored it), so it is owed from then on like a receipted one.
//!
//! `throughput` measures persistent against non-persistent publishing on the same broker.

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use stompy::{AckMode, AckToken, StompClient};

/// The tests of this file measure time: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const ROUNDS: usize = 20;
const QUEUES: [&str; 2] = ["/queue/durable-a", "/queue/durable-b"];
/// Most messages one publisher sends per round (bounds the backlog).
const PER_ROUND: u64 = 400;
/// SENDs in flight before the publisher waits for their receipts.
const WINDOW: usize = 16;
/// The publisher's pause after each window: about 1000 messages/s, so that the kills (30 to
/// 600 ms into a round) mostly fall while it publishes.
const PACE: Duration = Duration::from_millis(12);
/// ACKs sent before the consumer asks for a receipt (which confirms the ones before it too:
/// the broker handles a connection's frames in order and commits each turn before it writes).
const ACK_BATCH: usize = 8;
const WAIT: Duration = Duration::from_secs(5);

/// A `stompy-broker` process on `dir`.
struct BrokerProcess {
    child: Child,
    addr: SocketAddr,
}

impl BrokerProcess {
    fn start(dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stompy-broker"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn stompy-broker");
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        // "stompy-broker listening on tcp://127.0.0.1:PORT"
        let addr = line
            .trim()
            .strip_prefix("stompy-broker listening on tcp://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        BrokerProcess { child, addr }
    }

    /// SIGKILL: no shutdown of any kind.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory under the target's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{name}-{}-{nanos}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// xorshift64*: random enough for kill times, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn client(addr: SocketAddr) -> Option<StompClient> {
    StompClient::builder().address(addr).ok()?.connect().ok()
}

/// What a publisher did in one round.
#[derive(Default)]
struct Published {
    /// SENDs receipted.
    confirmed: Vec<u64>,
    /// SENDs written without a receipt back (the broker died).
    unknown: Vec<u64>,
}

/// Sends persistent messages numbered from `first`, `WINDOW` at a time, each with a receipt,
/// until `stop`, `PER_ROUND` messages or an error (the kill).
fn publish(addr: SocketAddr, queue: &str, first: u64, stop: &AtomicBool) -> Published {
    let mut out = Published::default();
    let Some(mut c) = client(addr) else {
        return out;
    };
    let mut next = first;
    'rounds: while !stop.load(Ordering::Relaxed) && next < first + PER_ROUND {
        let mut window = Vec::with_capacity(WINDOW);
        for _ in 0..WINDOW {
            let sent = c
                .message(queue)
                .header("persistent", "true")
                .body(next.to_string())
                .receipt()
                .send();
            match sent {
                Ok(Some(r)) => window.push((next, r)),
                _ => {
                    // May have been written in part: it may exist.
                    out.unknown.push(next);
                    out.unknown.extend(window.iter().map(|(n, _)| *n));
                    break 'rounds;
                }
            }
            next += 1;
        }
        let mut lost = false;
        for (n, r) in window {
            if !lost && c.wait_for_receipt(&r, WAIT).is_ok() {
                out.confirmed.push(n);
            } else {
                lost = true;
                out.unknown.push(n);
            }
        }
        if lost {
            break;
        }
        thread::sleep(PACE);
    }
    out
}

/// What a consumer did in one round.
#[derive(Default)]
struct Consumed {
    /// Every message received, in order.
    received: Vec<u64>,
    /// ACKs receipted (or followed by a receipted ACK).
    acked: Vec<u64>,
    /// ACKs sent whose receipt never came (the broker died).
    ack_unknown: Vec<u64>,
}

/// Receives with client-individual ACKs, ACKing three messages of four (which ones changes
/// with `salt`), every `ACK_BATCH`th ACK with a receipt that is waited for, until `stop` or
/// an error. With `salt` `None`, ACKs nothing and stops once nothing came for a second.
fn consume(addr: SocketAddr, queue: &str, stop: &AtomicBool, salt: Option<u64>) -> Consumed {
    let mut out = Consumed::default();
    let Some(mut c) = client(addr) else {
        return out;
    };
    let subscribed = c
        .subscription(queue)
        .ack(AckMode::ClientIndividual)
        .auto_ack(false)
        .subscribe();
    if subscribed.is_err() {
        return out;
    }
    let idle = Duration::from_millis(if salt.is_some() { 100 } else { 1000 });
    while !stop.load(Ordering::Relaxed) {
        let frame = match c.recv_timeout(idle) {
            Ok(Some(f)) => f,
            Err(stompy::Error::Timeout(_)) if salt.is_some() => continue,
            Ok(None) | Err(_) => break,
        };
        let n: u64 = frame.text().unwrap().parse().unwrap();
        out.received.push(n);
        let Some(salt) = salt else {
            continue;
        };
        if (n + salt).is_multiple_of(4) {
            continue; // left un-ACKed: owed again after the restart
        }
        let token = AckToken::of(&frame);
        out.ack_unknown.push(n);
        if out.ack_unknown.len() < ACK_BATCH {
            if c.ack_token(&token).is_err() {
                break;
            }
        } else if c.ack_and_wait(&token, WAIT).is_ok() {
            out.acked.append(&mut out.ack_unknown);
        } else {
            break;
        }
    }
    out
}

/// What the test knows about one queue across rounds.
#[derive(Default)]
struct Ledger {
    next: u64,
    /// Receipted (or seen by a consumer), not ACK-receipted: must come back.
    owed: BTreeSet<u64>,
    /// May or may not come back.
    maybe: HashSet<u64>,
    /// ACK receipted: must never come back.
    gone: HashSet<u64>,
}

impl Ledger {
    /// Checks what a consumer received after a restart; panics with `round` on a violation.
    fn check(&self, round: &str, queue: &str, published: &Published, consumed: &Consumed) {
        let r = &consumed.received;
        if let Some(w) = r.windows(2).find(|w| w[0] >= w[1]) {
            panic!("{round} {queue}: out of order: {} before {}", w[0], w[1]);
        }
        if let Some(n) = r.iter().find(|n| self.gone.contains(n)) {
            panic!("{round} {queue}: {n} came back after its ACK was receipted");
        }
        let sent = self.next + published.confirmed.len() as u64 + published.unknown.len() as u64;
        if let Some(n) = r.iter().find(|&&n| n >= sent) {
            panic!("{round} {queue}: {n} was never sent");
        }
        // FIFO: whatever was owed before the last message received was received.
        let Some(&last) = r.last() else {
            return;
        };
        let seen: HashSet<u64> = r.iter().copied().collect();
        let owed_now = self.owed.iter().chain(&published.confirmed);
        let lost: Vec<u64> = owed_now
            .filter(|&&n| n < last && !seen.contains(&n))
            .copied()
            .collect();
        assert!(
            lost.is_empty(),
            "{round} {queue}: receipted, un-ACKed messages lost: {lost:?}"
        );
    }

    fn update(&mut self, published: Published, consumed: Consumed) {
        self.next += (published.confirmed.len() + published.unknown.len()) as u64;
        self.owed.extend(published.confirmed);
        self.maybe.extend(published.unknown);
        // Received means stored (a MESSAGE goes out after the commit that stored it).
        for n in consumed.received {
            self.maybe.remove(&n);
            self.owed.insert(n);
        }
        for n in consumed.acked {
            self.owed.remove(&n);
            self.gone.insert(n);
        }
        for n in consumed.ack_unknown {
            self.owed.remove(&n);
            self.maybe.insert(n);
        }
    }
}

/// Round `r`: a publisher and a consumer per queue against a broker on `dir`, for `run`
/// (then SIGKILL), or, when `run` is `None` (the final check), a consumer that only takes
/// what is there.
fn round(
    dir: &Path,
    r: u64,
    ledgers: &[Ledger],
    run: Option<Duration>,
) -> Vec<(Published, Consumed)> {
    let broker = BrokerProcess::start(dir);
    let addr = broker.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for (queue, ledger) in QUEUES.iter().zip(ledgers) {
        let first = ledger.next;
        let s = stop.clone();
        let publisher = run.map(|_| thread::spawn(move || publish(addr, queue, first, &s)));
        let s = stop.clone();
        let salt = run.map(|_| r);
        let consumer = thread::spawn(move || consume(addr, queue, &s, salt));
        workers.push((publisher, consumer));
    }
    if let Some(d) = run {
        thread::sleep(d);
        broker.kill();
    }
    workers
        .into_iter()
        .map(|(p, c)| {
            let consumed = c.join().unwrap();
            stop.store(true, Ordering::Relaxed);
            let published = p.map(|p| p.join().unwrap()).unwrap_or_default();
            (published, consumed)
        })
        .collect()
}

#[test]
fn persistent_messages_survive_sigkill() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let dir = TempDir::new("durability");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("seed {seed}");
    let mut rng = Rng::new(seed);
    let mut ledgers: Vec<Ledger> = QUEUES.iter().map(|_| Ledger::default()).collect();
    for r in 1..=ROUNDS {
        let kill_after = Duration::from_millis(30 + rng.below(570));
        let results = round(&dir.0, r as u64, &ledgers, Some(kill_after));
        let mut line = format!(
            "round {r:2}: SIGKILL after {:3} ms |",
            kill_after.as_millis()
        );
        for ((queue, ledger), (published, consumed)) in QUEUES.iter().zip(&mut ledgers).zip(results)
        {
            let owed_before = ledger.owed.len();
            ledger.check(&format!("round {r}"), queue, &published, &consumed);
            line += &format!(
                " {}: sent {} (receipted {}), owed at start {}, received {}, acked {} (+{} unreceipted) |",
                &queue[7..],
                published.confirmed.len() + published.unknown.len(),
                published.confirmed.len(),
                owed_before,
                consumed.received.len(),
                consumed.acked.len(),
                consumed.ack_unknown.len(),
            );
            ledger.update(published, consumed);
        }
        eprintln!("{line}");
    }
    // The last restart: everything owed is there, in order, nothing ACKed comes back.
    let results = round(&dir.0, 0, &ledgers, None);
    for ((queue, ledger), (published, consumed)) in QUEUES.iter().zip(&ledgers).zip(results) {
        ledger.check("final", queue, &published, &consumed);
        let seen: HashSet<u64> = consumed.received.iter().copied().collect();
        let missing: Vec<u64> = ledger
            .owed
            .iter()
            .filter(|n| !seen.contains(n))
            .copied()
            .collect();
        assert!(
            missing.is_empty(),
            "final {queue}: owed messages missing: {missing:?}"
        );
        eprintln!(
            "final {queue}: sent {}, owed {} all back, {} ACKed never back, {} unknown of which {} came back",
            ledger.next,
            ledger.owed.len(),
            ledger.gone.len(),
            ledger.maybe.len(),
            ledger.maybe.iter().filter(|n| seen.contains(n)).count(),
        );
        assert!(ledger.gone.len() > 50, "the test must ACK a fair amount");
    }
    eprintln!("{} rounds in {:?}", ROUNDS, started.elapsed());
}

/// Publishes `n` messages to `queue`, `window` in flight, each with a receipt; msgs/s.
fn rate(addr: SocketAddr, queue: &str, persistent: bool, n: usize, window: usize) -> f64 {
    let mut c = client(addr).expect("connect");
    let body = vec![b'x'; 100];
    let t = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    for _ in 0..n {
        let mut m = c.message(queue).body(body.clone()).receipt();
        if persistent {
            m = m.header("persistent", "true");
        }
        pending.push_back(m.send().unwrap().unwrap());
        if pending.len() >= window {
            c.wait_for_receipt(&pending.pop_front().unwrap(), WAIT)
                .unwrap();
        }
    }
    for r in pending {
        c.wait_for_receipt(&r, WAIT).unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

#[test]
fn throughput() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("throughput");
    let broker = BrokerProcess::start(&dir.0);
    // More for a steadier measurement: STOMPY_THROUGHPUT_N=20000 cargo test --release ...
    let n = std::env::var("STOMPY_THROUGHPUT_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    for window in [1, 64] {
        let n = if window == 1 { n / 4 } else { n };
        let plain = rate(broker.addr, "/queue/plain", false, n, window);
        let kept = rate(broker.addr, "/queue/kept", true, n, window);
        eprintln!(
            "publish with receipts, {window:2} in flight, {n} x 100 B: non-persistent {plain:8.0} msgs/s, persistent {kept:8.0} msgs/s ({:.0} %)",
            kept / plain * 100.0
        );
    }
    // Several publishers at once share each commit (group commit).
    let t = Instant::now();
    let publishers: Vec<_> = (0..4)
        .map(|i| {
            let addr = broker.addr;
            thread::spawn(move || rate(addr, &format!("/queue/kept{i}"), true, n / 4, 16))
        })
        .collect();
    for p in publishers {
        p.join().unwrap();
    }
    eprintln!(
        "persistent, 4 publishers x 16 in flight: {:.0} msgs/s in all",
        n as f64 / t.elapsed().as_secs_f64()
    );
    // Everything is still there after a kill.
    broker.kill();
    let broker = BrokerProcess::start(&dir.0);
    let mut c = client(broker.addr).unwrap();
    c.subscription("/queue/kept").subscribe().unwrap();
    // The first may take a while on a loaded machine; the rest come in a stream.
    let mut count = usize::from(matches!(c.recv_timeout(WAIT), Ok(Some(_))));
    while let Ok(Some(_)) = c.recv_timeout(Duration::from_millis(500)) {
        count += 1;
    }
    assert_eq!(
        count,
        n + n / 4,
        "every receipted persistent message is back"
    );
}

/// Runs `stompy-broker --data-dir dir` expecting it to fail at start: its exit code and stderr.
fn start_fails(dir: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stompy-broker"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stompy-broker")
        .wait_with_output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_damaged_store_is_a_clear_error_never_a_panic() {
    let dir = TempDir::new("damaged");
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::write(dir.0.join("stompy.redb"), [0xA5u8; 5000]).unwrap();
    let (code, stderr) = start_fails(&dir.0);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with("stompy-broker: data directory: "),
        "{stderr}"
    );
    assert!(stderr.contains("stompy.redb"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn one_broker_per_data_directory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("twice");
    let first = BrokerProcess::start(&dir.0);
    let (code, stderr) = start_fails(&dir.0);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("in use by another broker"), "{stderr}");
    first.kill();
}

#[test]
fn a_file_grown_but_never_written_before_the_kill_restarts() {
    // A crash right after the store grew its file (before the commit that would use the new
    // pages) leaves zeros at the end: the broker starts with everything receipted.
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("grown");
    let broker = BrokerProcess::start(&dir.0);
    let mut c = client(broker.addr).unwrap();
    for i in 0..50 {
        c.message("/queue/grown")
            .header("persistent", "true")
            .body(format!("m{i}"))
            .send_and_wait(WAIT)
            .unwrap();
    }
    broker.kill();
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.0.join("stompy.redb"))
        .unwrap();
    let len = file.metadata().unwrap().len();
    file.set_len(len + 256 * 1024).unwrap();
    drop(file);
    let broker = BrokerProcess::start(&dir.0);
    let mut c = client(broker.addr).unwrap();
    c.subscription("/queue/grown").subscribe().unwrap();
    for i in 0..50 {
        let m = c.recv_timeout(WAIT).unwrap().unwrap();
        assert_eq!(m.text().unwrap(), format!("m{i}"));
        assert!(
            m.is_redelivered(),
            "recovered messages may have been delivered"
        );
    }
}

#[test]
fn in_process_handover_and_restart() {
    use stompy::broker::Broker;
    let dir = TempDir::new("handover");
    let broker = Broker::builder()
        .data_dir(&dir.0)
        .bind("127.0.0.1:0")
        .unwrap();
    let mut c = client(broker.addr()).unwrap();
    c.message("/queue/h")
        .header("persistent", "true")
        .body("kept")
        .send_and_wait(WAIT)
        .unwrap();
    c.message("/queue/h")
        .body("memory")
        .send_and_wait(WAIT)
        .unwrap();
    drop(c);
    // Hand-over in the process: both, once each.
    let state = broker.shutdown_keep_state();
    assert_eq!(state.message_count(), 2);
    let broker = Broker::builder()
        .data_dir(&dir.0)
        .state(state)
        .bind("127.0.0.1:0")
        .unwrap();
    let mut c = client(broker.addr()).unwrap();
    c.subscription("/queue/h")
        .ack(AckMode::ClientIndividual)
        .auto_ack(false)
        .subscribe()
        .unwrap();
    let mut got = Vec::new();
    while let Ok(Some(m)) = c.recv_timeout(Duration::from_millis(300)) {
        got.push(m.text().unwrap().into_owned());
    }
    assert_eq!(got, ["kept", "memory"]);
    drop(c);
    broker.shutdown();
    // A restart from the directory alone: the persistent one.
    let broker = Broker::builder()
        .data_dir(&dir.0)
        .bind("127.0.0.1:0")
        .unwrap();
    let mut c = client(broker.addr()).unwrap();
    c.subscription("/queue/h").subscribe().unwrap();
    let m = c.recv_timeout(WAIT).unwrap().unwrap();
    assert_eq!(m.text().unwrap(), "kept");
    assert!(c.recv_timeout(Duration::from_millis(300)).is_err());
    drop(c);
    broker.shutdown();
    // Auto mode consumed it: nothing is left.
    let state = Broker::builder()
        .data_dir(&dir.0)
        .bind("127.0.0.1:0")
        .unwrap()
        .shutdown_keep_state();
    assert_eq!(state.message_count(), 0);
}
