//! CPU, memory and output helpers shared by every workload.

use std::time::{Duration, Instant};

/// User + system CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// User + system CPU time of the whole process (every thread, the embedded broker's too).
pub fn process_cpu() -> Duration {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Bytes this process caused to be sent to storage (`write_bytes` of /proc/self/io).
pub fn io_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn tv(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// A `VmXXX:` line of /proc/self/status, in KiB.
pub fn vm_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Wall clock and thread CPU around one measured loop.
pub struct Meter {
    t0: Instant,
    c0: Duration,
}

impl Meter {
    pub fn start() -> Meter {
        Meter {
            t0: Instant::now(),
            c0: thread_cpu(),
        }
    }
    pub fn elapsed(&self) -> Duration {
        self.t0.elapsed()
    }
    /// Prints one JSON line for a throughput measurement.
    pub fn report(&self, workload: &str, client: &str, msgs: u64) {
        let secs = self.t0.elapsed().as_secs_f64();
        let cpu = (thread_cpu() - self.c0).as_secs_f64();
        println!(
            "{{\"workload\":\"{workload}\",\"client\":\"{client}\",\"msgs\":{msgs},\"secs\":{secs:.4},\
             \"msgs_per_s\":{:.1},\"cpu_us_per_msg\":{:.4}}}",
            msgs as f64 / secs,
            cpu * 1e6 / msgs.max(1) as f64
        );
    }
}

/// Prints one JSON line for a latency measurement (µs samples).
pub fn report_latency(workload: &str, client: &str, mut samples: Vec<f64>) {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "{{\"workload\":\"{workload}\",\"client\":\"{client}\",\"n\":{},\"p50_us\":{:.1},\"p99_us\":{:.1}}}",
        samples.len(),
        p(0.5),
        p(0.99)
    );
}

/// Prints a free-form JSON line (keys and numeric values).
pub fn report_kv(workload: &str, client: &str, kv: &[(&str, f64)]) {
    let mut s = format!("{{\"workload\":\"{workload}\",\"client\":\"{client}\"");
    for (k, v) in kv {
        s.push_str(&format!(",\"{k}\":{v:.4}"));
    }
    s.push('}');
    println!("{s}");
}

pub const BODY_LEN: usize = 100;

pub fn body() -> Vec<u8> {
    vec![b'x'; BODY_LEN]
}
