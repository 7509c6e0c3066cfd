//! Fault injection for the chaos tests: crash and restart the real brokers.
//!
//! * The single RabbitMQ (`rabbit@localhost`, STOMP 61613) and ActiveMQ (STOMP 61623) of
//!   `scripts/brokers.sh`: [`rabbitmq_kill`], [`rabbitmq_start`], [`activemq_kill`],
//!   [`activemq_start`], [`activemq_restart`].
//! * The 3-node RabbitMQ cluster of `scripts/rabbit_cluster.sh` (nodes `'a'`, `'b'`, `'c'`,
//!   STOMP 62613-62615, quorum queues): [`cluster_addrs`], [`cluster_up`], [`cluster_kill`],
//!   [`cluster_restart`], [`cluster_start`], [`cluster_leader`].
//!
//! Kills are SIGKILLs of the broker's VM (a crash: no goodbye on any connection, data on disk
//! kept). Every helper waits for its effect with a deadline and panics with what went wrong;
//! none sleeps without a condition. They need root (as `scripts/test.sh` runs in CI).
//!
//! The brokers are shared by every test binary, so a test that kills one must hold
//! [`fault_lock`] for its whole run: it serializes fault tests within a binary (cargo runs the
//! binaries one after another), and when dropped, even by a panicking test, it brings back
//! whatever is still down so later tests find every broker up.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{reachable, PROBE_TIMEOUT, REQUIRE_ENV};

/// STOMP ports of the cluster nodes `'a'`, `'b'` and `'c'`.
pub const CLUSTER_PORTS: [u16; 3] = [62613, 62614, 62615];

/// The cluster's node letters, in the order of [`CLUSTER_PORTS`] and [`cluster_addrs`].
pub const CLUSTER_NODES: [char; 3] = ['a', 'b', 'c'];

/// Upper bound for a broker (or cluster node) to boot and answer STOMP again.
pub const BOOT_LIMIT: Duration = Duration::from_secs(120);

/// Upper bound for a SIGKILLed process to disappear.
const KILL_LIMIT: Duration = Duration::from_secs(10);

const RABBITMQ_WS_PORT: u16 = 15674;
const RABBITMQ_PID_FILE: &str = "/var/run/rabbitmq/pid";
const ACTIVEMQ_PID_FILE: &str = "/var/run/activemq/main.pid";
const ACTIVEMQ_BASE_ARG: &str = "-Dactivemq.base=/var/lib/activemq/main";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

// --- waiting ----------------------------------------------------------------------------------

/// Calls `probe` every 100 ms until it returns `Some`, and returns that value; panics naming
/// `what` if that has not happened within `limit`.
#[track_caller]
pub fn poll_until<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    match try_poll(limit, &mut probe) {
        Some(v) => v,
        None => panic!("{what}: not within {limit:?}"),
    }
}

fn try_poll<T>(limit: Duration, probe: &mut impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether 127.0.0.1:`port` answers a STOMP 1.2 CONNECT (login guest/guest, vhost `/`) with
/// CONNECTED within a few seconds. Raw TCP, independent of the client under test.
pub fn stomp_answers(port: u16) -> bool {
    let probe = || -> std::io::Result<bool> {
        let addr = ([127, 0, 0, 1], port).into();
        let mut s = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0")?;
        let mut reply = [0u8; 9];
        s.read_exact(&mut reply)?;
        Ok(&reply == b"CONNECTED")
    };
    probe().unwrap_or(false)
}

fn await_stomp(name: &str, port: u16, limit: Duration) -> Result<(), String> {
    try_poll(limit, &mut || stomp_answers(port).then_some(()))
        .ok_or_else(|| format!("{name}: STOMP on 127.0.0.1:{port} not answering within {limit:?}"))
}

fn await_listening(name: &str, port: u16, limit: Duration) -> Result<(), String> {
    let addr = format!("127.0.0.1:{port}");
    try_poll(limit, &mut || reachable(&addr, PROBE_TIMEOUT).then_some(()))
        .ok_or_else(|| format!("{name}: nothing listens on {addr} within {limit:?}"))
}

// --- processes ----------------------------------------------------------------------------------

/// Runs `cmd` (in its own process group, output to a temporary file rather than a pipe, so that
/// a daemon it leaves behind cannot hold us) and returns its output; kills the group at `limit`.
fn run(mut cmd: Command, limit: Duration) -> Result<String, String> {
    let shown = format!("{cmd:?}");
    let log_path = std::env::temp_dir().join(format!("stompy-fault-{}.log", uuid::Uuid::new_v4()));
    let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    let status = try_poll(limit, &mut || child.try_wait().ok().flatten());
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = std::fs::remove_file(&log_path);
    match status {
        Some(s) if s.success() => Ok(output),
        Some(s) => Err(format!("{shown} failed ({s}):\n{output}")),
        None => {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            Err(format!("{shown} still running after {limit:?}:\n{output}"))
        }
    }
}

fn cluster_script(args: &[&str], limit: Duration) -> Result<String, String> {
    let mut cmd = Command::new("bash");
    cmd.arg(script("rabbit_cluster.sh")).args(args);
    run(cmd, limit)
}

/// An init script of Debian's packages, called directly even where systemd runs.
fn init_script(name: &str, action: &str, limit: Duration) -> Result<String, String> {
    let mut cmd = Command::new(format!("/etc/init.d/{name}"));
    cmd.arg(action)
        .current_dir("/")
        .env("_SYSTEMCTL_SKIP_REDIRECT", "1");
    run(cmd, limit)
}

fn proc_file(pid: u32, file: &str) -> Vec<u8> {
    std::fs::read(format!("/proc/{pid}/{file}")).unwrap_or_default()
}

fn nul_fields(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|&b| b == 0)
}

/// The pid in `pid_file` if that process passes `is_it`, else the first process in /proc that
/// does (the pid file can be stale or gone, e.g. after an earlier kill).
fn find_pid(pid_file: &str, is_it: impl Fn(u32) -> bool) -> Option<u32> {
    let recorded = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let is_it = |p: u32| alive(p) && is_it(p);
    if let Some(pid) = recorded.filter(|&p| is_it(p)) {
        return Some(pid);
    }
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .find(|&p| is_it(p))
}

/// Removes `pid_file` unless it names a live process that passes `is_it`. A SIGKILLed daemon
/// is re-parented to PID 1 and stays a zombie until PID 1 reaps it, which a container's PID 1
/// may never do; start-stop-daemon would take that zombie for the running broker and not start.
fn remove_stale_pid_file(pid_file: &str, is_it: impl Fn(u32) -> bool) {
    let Ok(text) = std::fs::read_to_string(pid_file) else {
        return;
    };
    match text.trim().parse() {
        Ok(pid) if alive(pid) && is_it(pid) => {}
        _ => {
            let _ = std::fs::remove_file(pid_file);
        }
    }
}

/// `rabbit@localhost`'s VM: a beam.smp whose HOME is the package's (the node name itself is
/// only in the config, not in its environment). Cluster nodes have HOME in `$BROKERS_DIR`.
fn is_single_rabbitmq(pid: u32) -> bool {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    exe.file_name().is_some_and(|n| n == "beam.smp")
        && nul_fields(&proc_file(pid, "environ")).any(|v| v == b"HOME=/var/lib/rabbitmq")
}

/// The ActiveMQ JVM of the `main` instance (the test the init script makes).
fn is_activemq(pid: u32) -> bool {
    nul_fields(&proc_file(pid, "cmdline")).any(|a| a == ACTIVEMQ_BASE_ARG.as_bytes())
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !String::from_utf8_lossy(&proc_file(pid, "stat")).contains(") Z ")
}

/// SIGKILLs `pid` and waits until it is gone (a zombie counts as gone: its ports are closed).
fn sigkill(name: &str, pid: u32) -> Result<(), String> {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .map_err(|e| format!("kill: {e}"))?;
    if !status.success() {
        return Err(format!("kill -KILL {pid} ({name}) failed: {status}"));
    }
    try_poll(KILL_LIMIT, &mut || (!alive(pid)).then_some(()))
        .ok_or_else(|| format!("{name} (pid {pid}) still alive {KILL_LIMIT:?} after SIGKILL"))
}

fn need_root(what: &str) {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .unwrap_or_default();
    assert!(uid == "0", "{what} needs root (euid {uid:?})");
}

#[track_caller]
fn ok<T>(what: &str, r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

// --- the single brokers -------------------------------------------------------------------------

/// SIGKILLs the single RabbitMQ node's VM (`rabbit@localhost`) and waits until it is gone.
/// Its epmd stays up. Panics if it is not running.
#[track_caller]
pub fn rabbitmq_kill() {
    need_root("rabbitmq_kill");
    let pid = find_pid(RABBITMQ_PID_FILE, is_single_rabbitmq)
        .unwrap_or_else(|| panic!("rabbitmq_kill: rabbit@localhost is not running"));
    ok("rabbitmq_kill", sigkill("RabbitMQ", pid));
}

fn try_rabbitmq_start() -> Result<(), String> {
    if !stomp_answers(super::RABBITMQ.port) {
        remove_stale_pid_file(RABBITMQ_PID_FILE, is_single_rabbitmq);
        // returns once the node has booted (`rabbitmqctl wait` on the pid file)
        init_script("rabbitmq-server", "start", BOOT_LIMIT)?;
    }
    await_stomp("RabbitMQ", super::RABBITMQ.port, BOOT_LIMIT)?;
    // the TLS and WebSocket listeners come with the same boot: let later tests find them too
    await_listening("RabbitMQ", super::RABBITMQ.tls_port, BOOT_LIMIT)?;
    await_listening("RabbitMQ", RABBITMQ_WS_PORT, BOOT_LIMIT)
}

/// Starts the single RabbitMQ node again (its init script) and waits until STOMP on 61613
/// answers a CONNECT and its TLS and WebSocket ports listen. Does nothing if it answers already.
#[track_caller]
pub fn rabbitmq_start() {
    need_root("rabbitmq_start");
    ok("rabbitmq_start", try_rabbitmq_start());
}

/// SIGKILLs ActiveMQ's JVM and waits until it is gone. Panics if it is not running.
#[track_caller]
pub fn activemq_kill() {
    need_root("activemq_kill");
    let pid = find_pid(ACTIVEMQ_PID_FILE, is_activemq)
        .unwrap_or_else(|| panic!("activemq_kill: ActiveMQ is not running"));
    ok("activemq_kill", sigkill("ActiveMQ", pid));
}

fn try_activemq_start() -> Result<(), String> {
    if !stomp_answers(super::ACTIVEMQ.port) {
        remove_stale_pid_file(ACTIVEMQ_PID_FILE, is_activemq);
        init_script("activemq", "start", BOOT_LIMIT)?;
    }
    // the init script only sleeps a second; the broker is ready when STOMP answers
    await_stomp("ActiveMQ", super::ACTIVEMQ.port, BOOT_LIMIT)?;
    await_listening("ActiveMQ", super::ACTIVEMQ.tls_port, BOOT_LIMIT)
}

/// Starts ActiveMQ again (its init script) and waits until STOMP on 61623 answers a CONNECT
/// and its TLS port listens. Does nothing if it answers already.
#[track_caller]
pub fn activemq_start() {
    need_root("activemq_start");
    ok("activemq_start", try_activemq_start());
}

/// [`activemq_kill`] then [`activemq_start`]: a crash and a restart, with the persistent store
/// (KahaDB) recovered from disk.
#[track_caller]
pub fn activemq_restart() {
    activemq_kill();
    activemq_start();
}

// --- the cluster --------------------------------------------------------------------------------

fn node_index(node: char) -> usize {
    CLUSTER_NODES
        .iter()
        .position(|&n| n == node)
        .unwrap_or_else(|| panic!("no cluster node {node:?} (use 'a', 'b' or 'c')"))
}

/// `stomp://guest:guest@127.0.0.1:6261x` for the nodes `'a'`, `'b'`, `'c'`.
pub fn cluster_addrs() -> [String; 3] {
    CLUSTER_PORTS.map(|port| format!("stomp://guest:guest@127.0.0.1:{port}"))
}

/// True when all three cluster nodes answer a STOMP CONNECT. Otherwise prints why the test
/// is skipped, or panics when `STOMPY_REQUIRE_BROKERS=1` (like [`super::broker_up`]).
#[track_caller]
pub fn cluster_up() -> bool {
    let down: Vec<String> = CLUSTER_NODES
        .iter()
        .zip(CLUSTER_PORTS)
        .filter(|&(_, port)| !stomp_answers(port))
        .map(|(node, port)| format!("{node} (127.0.0.1:{port})"))
        .collect();
    if down.is_empty() {
        return true;
    }
    let why = format!(
        "RabbitMQ cluster nodes not answering STOMP: {}",
        down.join(", ")
    );
    if super::brokers_required() {
        panic!("{why} ({REQUIRE_ENV}=1; run scripts/rabbit_cluster.sh start)");
    }
    eprintln!("skipped: {why} (run scripts/rabbit_cluster.sh start)");
    false
}

/// SIGKILLs cluster node `node` (`'a'`, `'b'` or `'c'`) and waits until its VM is gone. Its
/// data dir stays, so [`cluster_restart`] brings it back as the same member.
#[track_caller]
pub fn cluster_kill(node: char) {
    need_root("cluster_kill");
    node_index(node);
    ok(
        &format!("cluster_kill({node:?})"),
        cluster_script(&["kill", &node.to_string()], KILL_LIMIT + PROBE_TIMEOUT),
    );
}

/// Starts cluster node `node` again (stopping it first if it runs) and waits until it answers
/// STOMP as a member of the cluster. Needs another node running: a node booting alone waits
/// for its peers (minutes); after killing all three, use [`cluster_start`].
#[track_caller]
pub fn cluster_restart(node: char) {
    need_root("cluster_restart");
    let port = CLUSTER_PORTS[node_index(node)];
    let restarted = cluster_script(&["restart", &node.to_string()], BOOT_LIMIT * 2)
        .and_then(|_| await_stomp(&format!("node {node}"), port, BOOT_LIMIT));
    ok(&format!("cluster_restart({node:?})"), restarted);
}

/// Starts every cluster node that is down, all at once, and waits until all three answer
/// STOMP as one cluster (`scripts/rabbit_cluster.sh start`, which `scripts/test.sh` runs).
#[track_caller]
pub fn cluster_start() {
    need_root("cluster_start");
    ok("cluster_start", cluster_script(&["start"], BOOT_LIMIT * 2));
}

/// The node (`'a'`, `'b'` or `'c'`) that leads the quorum queue `queue` right now (a name, or a
/// `/queue/NAME` or `/amq/queue/NAME` destination), asked of a running node with
/// `rabbitmq-queues quorum_status`; `None` when the queue does not exist or has no leader, e.g.
/// during an election. One call costs about 0.5 s (a CLI VM); to wait for a new leader:
/// `poll_until("new leader", limit, || cluster_leader(q).filter(|&l| l != old))`.
pub fn cluster_leader(queue: &str) -> Option<char> {
    need_root("cluster_leader");
    let name = ["/queue/", "/amq/queue/"]
        .iter()
        .find_map(|p| queue.strip_prefix(p))
        .unwrap_or(queue);
    let out = cluster_script(&["leader", name], Duration::from_secs(60)).ok()?;
    out.trim()
        .chars()
        .next()
        .filter(|c| CLUSTER_NODES.contains(c))
}

// --- serializing and cleaning up ----------------------------------------------------------------

/// Held by a test while it breaks brokers: see the module documentation.
#[derive(Debug)]
pub struct FaultGuard {
    /// Which of RabbitMQ, ActiveMQ and the cluster answered STOMP when the lock was taken:
    /// only those are brought back (a machine without the cluster is not made to start one).
    was_up: [bool; 3],
    _lock: MutexGuard<'static, ()>,
}

fn cluster_answers() -> bool {
    CLUSTER_PORTS.iter().all(|&p| stomp_answers(p))
}

/// Takes the lock that fault tests of one binary share; the returned guard, when dropped,
/// restarts whatever answered STOMP at this call and no longer does.
pub fn fault_lock() -> FaultGuard {
    static LOCK: Mutex<()> = Mutex::new(());
    // a test that panicked while holding the lock poisoned it; its guard repaired things
    let lock = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    FaultGuard {
        was_up: [
            stomp_answers(super::RABBITMQ.port),
            stomp_answers(super::ACTIVEMQ.port),
            cluster_answers(),
        ],
        _lock: lock,
    }
}

impl Drop for FaultGuard {
    fn drop(&mut self) {
        // never panic here: this may run while a failed test unwinds
        let [rabbitmq, activemq, cluster] = self.was_up;
        let mut errors = Vec::new();
        if rabbitmq && !stomp_answers(super::RABBITMQ.port) {
            errors.extend(try_rabbitmq_start().err());
        }
        if activemq && !stomp_answers(super::ACTIVEMQ.port) {
            errors.extend(try_activemq_start().err());
        }
        // `start` boots every missing node at once: nodes killed together wait for each other
        if cluster && !cluster_answers() {
            errors.extend(cluster_script(&["start"], BOOT_LIMIT * 2).err());
        }
        for e in errors {
            eprintln!("fault_lock: could not bring a broker back: {e}");
        }
    }
}
