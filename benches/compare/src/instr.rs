//! The `instr` group: instructions per message of stompy's receive and send paths under
//! callgrind. This binary runs itself (`count KIND N`) under valgrind with N1 and then N2
//! messages, counting only inside the measured loop (`--toggle-collect`); the difference of the
//! two counts ÷ (N2 − N1) leaves out what a run costs once (connecting, subscribing, the first
//! reads). The peer runs in a child process of its own, outside valgrind.

use std::process::Command;

use crate::util::report_kv;

const N1: u64 = 20_000;
const N2: u64 = 120_000;

/// `count` kind and workload.
const WORKLOADS: [(&str, &str); 6] = [
    ("firehose-auto", "receive path, 100 B MESSAGE, auto"),
    ("firehose-ack", "receive path, 100 B MESSAGE, ACK each"),
    (
        "firehose-auto-owned",
        "receive path, 100 B MESSAGE, auto, owned frames (recv)",
    ),
    (
        "firehose-ack-owned",
        "receive path, 100 B MESSAGE, ACK each, owned frames (recv)",
    ),
    ("publish", "send path, 100 B SEND"),
    ("publish-nolen", "send path, 100 B SEND, no content-length"),
];

pub fn group() {
    let valgrind = Command::new("valgrind").arg("--version").output();
    if !valgrind.is_ok_and(|o| o.status.success()) {
        eprintln!("instr: no valgrind (apt-get install valgrind): group skipped");
        return;
    }
    for (kind, workload) in WORKLOADS {
        let func = if kind.starts_with("publish") {
            "send_n"
        } else if kind.ends_with("-owned") {
            "receive_n_owned"
        } else {
            "receive_n"
        };
        // A kind this build does not know fails, or counts nothing in `func`.
        let Some(i1) = collected(kind, func, N1) else {
            eprintln!("instr: `count {kind}` not supported by this build: skipped");
            continue;
        };
        let Some(i2) = collected(kind, func, N2) else {
            eprintln!("instr: `count {kind} {N2}` failed: skipped");
            continue;
        };
        let per_msg = (i2 as f64 - i1 as f64) / (N2 - N1) as f64;
        report_kv(
            workload,
            "stompy",
            &[
                ("instr_per_msg", per_msg),
                ("n1", N1 as f64),
                ("n2", N2 as f64),
            ],
        );
    }
}

/// Instructions callgrind counts inside `stompy_runs::func` in `count kind n`; None if the run
/// fails or counts none.
fn collected(kind: &str, func: &str, n: u64) -> Option<u64> {
    let out = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            &format!("--toggle-collect=stompy_compare::stompy_runs::{func}"),
            "--callgrind-out-file=/dev/null",
        ])
        .arg(std::env::current_exe().unwrap())
        .args(["count", kind, &n.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    // "==PID== Collected : N" on stderr
    let stderr = String::from_utf8_lossy(&out.stderr);
    let n: u64 = stderr
        .lines()
        .find_map(|l| l.split_once("Collected :"))
        .and_then(|(_, v)| v.trim().parse().ok())?;
    (n > 0).then_some(n)
}
