//! In-memory codec throughput and client memory.

use std::time::{Duration, Instant};

use stompy::codec::{Decoder, Item, ItemRef};
use stompy::{Limits, Version};

use crate::util::{report_kv, vm_kib};

/// Decodes `input`, fed in 64 KiB chunks as a socket would deliver it, over and over for
/// `secs`: frames decoded, passes over the input, seconds taken.
fn decode_for(input: &[u8], secs: Duration) -> (u64, u64, f64) {
    decode_with(input, secs, false)
}

/// [`decode_for`], with frames lent (`decode_ref`) when `lend`, else made (`decode`).
fn decode_with(input: &[u8], secs: Duration, lend: bool) -> (u64, u64, f64) {
    let mut d = Decoder::new(Version::V1_2, Limits::default());
    let t0 = Instant::now();
    let (mut frames, mut passes) = (0u64, 0u64);
    while t0.elapsed() < secs {
        for chunk in input.chunks(64 * 1024) {
            d.feed(chunk);
            if lend {
                while let Some(item) = d.decode_ref().unwrap() {
                    frames += u64::from(matches!(item, ItemRef::Frame(_)));
                    std::hint::black_box(item);
                }
                continue;
            }
            while let Some(item) = d.decode().unwrap() {
                frames += u64::from(matches!(item, Item::Frame(_)));
                std::hint::black_box(item);
            }
        }
        passes += 1;
    }
    (frames, passes, t0.elapsed().as_secs_f64())
}

/// Decodes 100-byte MESSAGE frames fed in 64 KiB chunks, as the socket would deliver them.
pub fn decode_small(secs: Duration) {
    let frames = 20_000;
    let input = crate::peers::messages("0", "/queue/f", frames);
    let (n, passes, s) = decode_for(&input, secs);
    assert_eq!(n, passes * frames as u64);
    report_kv(
        "codec decode 100 B MESSAGE",
        "stompy",
        &[("frames_per_s", n as f64 / s)],
    );
    let (n, passes, s) = decode_with(&input, secs, true);
    assert_eq!(n, passes * frames as u64);
    report_kv(
        "codec decode 100 B MESSAGE, lent (decode_ref)",
        "stompy",
        &[("frames_per_s", n as f64 / s)],
    );
}

/// A 16 MiB body decoded from 64 KiB chunks, beside a memchr + memcpy pass over the same bytes.
pub fn decode_large(secs: Duration) {
    let len = 16 * 1024 * 1024;
    let mut input = format!(
        "MESSAGE\nsubscription:0\nmessage-id:1\ndestination:/queue/f\ncontent-length:{len}\n\n"
    )
    .into_bytes();
    input.extend(std::iter::repeat_n(b'x', len));
    input.push(0);
    let (_, n, s) = decode_for(&input, secs);
    let codec = s / n as f64;
    let t0 = Instant::now();
    let mut m = 0u64;
    while t0.elapsed() < secs {
        let mut out: Vec<u8> = Vec::with_capacity(input.len());
        for chunk in input.chunks(64 * 1024) {
            std::hint::black_box(memchr::memchr(0, chunk));
            out.extend_from_slice(chunk);
        }
        std::hint::black_box(out);
        m += 1;
    }
    let floor = t0.elapsed().as_secs_f64() / m as f64;
    let gbps = |t: f64| input.len() as f64 / t / 1e9;
    report_kv(
        "codec decode 16 MiB body",
        "stompy",
        &[
            ("gb_per_s", gbps(codec)),
            ("floor_gb_per_s", gbps(floor)),
            ("ratio", codec / floor),
        ],
    );
}

/// Peak RSS while `n` messages flow from the firehose: after a tenth of them and at the end.
pub fn flow(addr: &str, n: u64) {
    let mut c = crate::stompy_runs::client(addr, false);
    c.subscribe("/queue/f", stompy::AckMode::ClientIndividual)
        .unwrap();
    let mut early = 0;
    for i in 0..n {
        c.recv().unwrap().unwrap();
        if i == n / 10 {
            early = vm_kib("VmHWM:");
        }
    }
    let late = vm_kib("VmHWM:");
    report_kv(
        "memory: 1e6 messages flow",
        "stompy",
        &[
            ("hwm_early_kib", early as f64),
            ("hwm_end_kib", late as f64),
            ("ratio", late as f64 / early as f64),
        ],
    );
}

/// Peak RSS growth for receiving one 100 MiB body.
pub fn big(addr: &str) {
    let mut c = crate::stompy_runs::client(addr, false);
    c.subscribe("/queue/big", stompy::AckMode::Auto).unwrap();
    let before = vm_kib("VmRSS:");
    let f = c.recv().unwrap().unwrap();
    let len = f.body().len() as f64;
    let hwm = vm_kib("VmHWM:");
    report_kv(
        "memory: 100 MiB body",
        "stompy",
        &[
            ("body_mib", len / 1048576.0),
            ("peak_growth_mib", (hwm - before) as f64 / 1024.0),
            ("ratio", (hwm - before) as f64 * 1024.0 / len),
        ],
    );
    std::process::exit(0);
}
