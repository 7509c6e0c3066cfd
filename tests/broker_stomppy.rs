//! Interop: stomp.py (an independent Python client) against the embedded broker.
//!
//! Python comes from `STOMPY_PYTHON`, else `/var/lib/stompy-test-brokers/venv/bin/python` when
//! it can `import stomp`. Without one the tests are skipped with a note on stderr, unless
//! `STOMPY_REQUIRE_BROKERS=1`, which makes them fail.
#![cfg(feature = "broker")]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stompy::broker::{Broker, BrokerHandle};

const DEFAULT_PYTHON: &str = "/var/lib/stompy-test-brokers/venv/bin/python";

/// Shared by every script: argv[1] is the port; `Listener` collects what arrives.
const PRELUDE: &str = r#"
import sys, threading, time
import stomp
PORT = int(sys.argv[1])
HOST = [("127.0.0.1", PORT)]

class Listener(stomp.ConnectionListener):
    def __init__(self):
        self.cv = threading.Condition()
        self.messages, self.receipts, self.errors, self.beats = [], [], [], 0
    def _add(self, items, frame):
        with self.cv:
            items.append(frame)
            self.cv.notify_all()
    def on_connected(self, frame): self.connected = frame.headers
    def on_message(self, frame): self._add(self.messages, frame)
    def on_receipt(self, frame): self._add(self.receipts, frame.headers["receipt-id"])
    def on_error(self, frame): self._add(self.errors, frame)
    def on_heartbeat(self): self.beats += 1
    def wait(self, pred, what, timeout=5):
        with self.cv:
            assert self.cv.wait_for(pred, timeout), "timed out waiting for " + what
    def wait_messages(self, n):
        self.wait(lambda: len(self.messages) >= n, "%d messages" % n)
        return self.messages[:n]

def open_conn(cls=stomp.Connection12, **kw):
    conn = cls(HOST, **kw)
    listener = Listener()
    conn.set_listener("l", listener)
    conn.connect("guest", "guest", wait=True)
    return conn, listener
"#;

fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("STOMPY_PYTHON") {
        return Some(p.into());
    }
    let ok = Command::new(DEFAULT_PYTHON)
        .args(["-c", "import stomp"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| DEFAULT_PYTHON.into())
}

/// Runs `script` (after the prelude) against `broker`; fails the test when it fails.
fn run(broker: &BrokerHandle, script: &str) {
    let Some(python) = python() else {
        if std::env::var("STOMPY_REQUIRE_BROKERS").as_deref() == Ok("1") {
            panic!("STOMPY_REQUIRE_BROKERS=1 but no Python with stomp.py was found");
        }
        eprintln!("skipped: no Python with stomp.py (set STOMPY_PYTHON)");
        return;
    };
    let program = format!("{PRELUDE}\n{script}\nprint('OK')\n");
    let mut child = Command::new(python)
        .arg("-c")
        .arg(program)
        .arg(broker.addr().port().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK"),
        "stomp.py script failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn broker() -> BrokerHandle {
    Broker::builder()
        .user("guest", "guest")
        .bind("127.0.0.1:0")
        .unwrap()
}

#[test]
fn every_version_round_trips() {
    run(
        &broker(),
        r#"
for cls, version in [(stomp.Connection10, None), (stomp.Connection11, "1.1"), (stomp.Connection12, "1.2")]:
    conn, l = open_conn(cls)
    dest = "/queue/py-%s" % version
    conn.subscribe(destination=dest, id="s1", ack="auto")
    conn.send(destination=dest, body="hello", headers={"x-k": "a:b" if version else "v"})
    m = l.wait_messages(1)[0]
    assert m.body == "hello", m.body
    assert m.headers["x-k"] == ("a:b" if version else "v"), m.headers
    assert m.headers["subscription"] == "s1"
    assert l.connected.get("version") == (version or "1.0"), l.connected
    conn.disconnect()
"#,
    );
}

#[test]
fn client_individual_ack_and_nack_redelivery() {
    run(
        &broker(),
        r#"
conn, l = open_conn()
conn.subscribe(destination="/queue/py-ack", id="s", ack="client-individual")
conn.send(destination="/queue/py-ack", body="one")
conn.send(destination="/queue/py-ack", body="two")
one, two = l.wait_messages(2)
conn.ack(two.headers["ack"])
conn.nack(one.headers["ack"])
again = l.wait_messages(3)[2]
assert again.body == "one" and again.headers.get("redelivered") == "true", again.headers
conn.ack(again.headers["ack"], receipt="done")
l.wait(lambda: "done" in l.receipts, "receipt")
conn.disconnect()
conn, l = open_conn()
conn.subscribe(destination="/queue/py-ack", id="s", ack="auto")
time.sleep(0.3)
assert not l.messages, [m.body for m in l.messages]
conn.disconnect()
"#,
    );
}

#[test]
fn transactions_commit_and_abort() {
    run(
        &broker(),
        r#"
conn, l = open_conn()
conn.subscribe(destination="/queue/py-tx", id="s", ack="auto")
tx = conn.begin()
conn.send(destination="/queue/py-tx", body="in-tx", transaction=tx)
time.sleep(0.2)
assert not l.messages
conn.commit(transaction=tx)
assert l.wait_messages(1)[0].body == "in-tx"
tx = conn.begin()
conn.send(destination="/queue/py-tx", body="aborted", transaction=tx)
conn.abort(transaction=tx)
conn.send(destination="/queue/py-tx", body="after", headers={"receipt": "r"})
l.wait(lambda: "r" in l.receipts, "receipt")
assert [m.body for m in l.wait_messages(2)] == ["in-tx", "after"]
conn.disconnect()
"#,
    );
}

#[test]
fn receipts_and_errors() {
    run(
        &broker(),
        r#"
conn, l = open_conn()
conn.subscribe(destination="/queue/py-r", id="s", ack="auto", headers={"receipt": "sub"})
conn.send(destination="/queue/py-r", body="x", headers={"receipt": "send"})
l.wait(lambda: {"sub", "send"} <= set(l.receipts), "receipts")
conn.unsubscribe(id="nope", headers={"receipt": "bad"})
l.wait(lambda: l.errors, "error")
assert l.errors[0].headers["receipt-id"] == "bad", l.errors[0].headers
"#,
    );
}

#[test]
fn heart_beats_keep_the_connection_alive() {
    let b = Broker::builder()
        .heart_beat(100, 100)
        .bind("127.0.0.1:0")
        .unwrap();
    run(
        &b,
        r#"
conn, l = open_conn(heartbeats=(100, 100))
time.sleep(1.0)
assert l.beats >= 3, l.beats
assert conn.is_connected()
conn.subscribe(destination="/queue/py-hb", id="s", ack="auto")
conn.send(destination="/queue/py-hb", body="alive")
assert l.wait_messages(1)[0].body == "alive"
conn.disconnect()
"#,
    );
}

#[test]
fn topics_fan_out() {
    run(
        &broker(),
        r#"
subs = [open_conn() for _ in range(3)]
for conn, l in subs:
    conn.subscribe(destination="/topic/py-news", id="t", ack="auto", headers={"receipt": "s"})
    l.wait(lambda: "s" in l.receipts, "subscribe receipt")
pub, _ = open_conn()
pub.send(destination="/topic/py-news", body="extra")
for conn, l in subs:
    assert l.wait_messages(1)[0].body == "extra"
    conn.disconnect()
pub.disconnect()
"#,
    );
}
