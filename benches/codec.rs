//! Codec throughput on realistic MESSAGE frames, beside the floor of what any decoder must do.
//!
//! Each bench handles a buffer of many frames, fed to the decoder in 64 KiB chunks as a socket
//! read would deliver them:
//!
//! - `decode/message_100b`, `encode/message_100b`: RabbitMQ-style MESSAGE frames (destination,
//!   message-id, subscription, ack, redelivered, content-type, content-length) with a 100-byte
//!   body.
//! - `decode/message_64kib`, `encode/message_64kib`: the same headers with a 64 KiB body.
//! - `floor/memchr_100b`: a `memchr` scan for each frame's NUL over the same bytes.
//! - `floor/memchr_memcpy_64kib`: a `memchr` scan plus a copy of every byte.
//!
//! `scripts/bench-codec.sh` runs them and prints frames/s, MB/s and the ratio to the floor.

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use stompy::codec::{encode_frame, Decoder, Item};
use stompy::{Command, Frame, Limits, Version};

const CHUNK: usize = 64 * 1024;

/// A buffer of frames and what it holds.
struct Workload {
    name: &'static str,
    frames: Vec<Frame>,
    wire: Vec<u8>,
}

impl Workload {
    /// `count` MESSAGE frames with a `body_len`-byte body each, encoded for 1.2.
    fn new(name: &'static str, count: usize, body_len: usize) -> Self {
        let body: Vec<u8> = (0..body_len).map(|i| b'a' + (i % 26) as u8).collect();
        let frames: Vec<Frame> = (0..count).map(|i| message(i, &body)).collect();
        let mut wire = Vec::new();
        encode_all(&frames, &mut wire);
        Workload { name, frames, wire }
    }

    fn throughput(&self) -> Throughput {
        Throughput::ElementsAndBytes {
            elements: self.frames.len() as u64,
            bytes: self.wire.len() as u64,
        }
    }
}

/// A MESSAGE as RabbitMQ delivers it on a client-ack subscription.
fn message(i: usize, body: &[u8]) -> Frame {
    let id = format!("T_sub-0@@session-rL1d6s1kvJzCYGR7mgV1pQ@@{i}");
    Frame::new(Command::Message)
        .with_header("destination", "/queue/orders")
        .with_header("message-id", &id)
        .with_header("subscription", "sub-0")
        .with_header("ack", &id)
        .with_header("redelivered", "false")
        .with_header("content-type", "text/plain")
        .with_header("content-length", &body.len().to_string())
        .with_body(body)
}

/// Decodes `wire` fed in 64 KiB chunks; returns the number of frames.
fn decode_all(wire: &[u8]) -> usize {
    let mut d = Decoder::new(Version::V1_2, Limits::default());
    let mut frames = 0;
    for chunk in wire.chunks(CHUNK) {
        d.feed(chunk);
        while let Some(item) = d.decode().unwrap() {
            if let Item::Frame(f) = item {
                black_box(&f);
                frames += 1;
            }
        }
    }
    frames
}

/// Finds every NUL in `wire`, 64 KiB at a time.
fn memchr_all(wire: &[u8]) -> usize {
    let mut nuls = 0;
    for chunk in wire.chunks(CHUNK) {
        nuls += memchr::memchr_iter(0, chunk).count();
    }
    nuls
}

/// Finds every NUL in `wire` and copies every byte once, 64 KiB at a time.
fn memchr_memcpy_all(wire: &[u8], out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut nuls = 0;
    for chunk in wire.chunks(CHUNK) {
        nuls += memchr::memchr_iter(0, chunk).count();
        out.extend_from_slice(chunk);
    }
    nuls
}

fn bench_decode(g: &mut BenchmarkGroup<'_, WallTime>, w: &Workload) {
    assert_eq!(decode_all(&w.wire), w.frames.len());
    g.throughput(w.throughput());
    g.bench_function(w.name, |b| b.iter(|| decode_all(black_box(&w.wire))));
}

/// Encodes every frame of `frames` into `out`.
fn encode_all(frames: &[Frame], out: &mut Vec<u8>) -> usize {
    out.clear();
    for f in frames {
        encode_frame(f, Version::V1_2, out).unwrap();
    }
    out.len()
}

fn bench_encode(g: &mut BenchmarkGroup<'_, WallTime>, w: &Workload) {
    let mut out = Vec::with_capacity(w.wire.len());
    encode_all(&w.frames, &mut out);
    assert_eq!(out, w.wire);
    g.throughput(w.throughput());
    g.bench_function(w.name, |b| {
        b.iter(|| encode_all(black_box(&w.frames), &mut out))
    });
}

fn codec(c: &mut Criterion) {
    let small = Workload::new("message_100b", 2000, 100);
    let large = Workload::new("message_64kib", 64, 64 * 1024);

    let mut g = c.benchmark_group("decode");
    bench_decode(&mut g, &small);
    bench_decode(&mut g, &large);
    g.finish();

    let mut g = c.benchmark_group("encode");
    bench_encode(&mut g, &small);
    bench_encode(&mut g, &large);
    g.finish();

    let mut g = c.benchmark_group("floor");
    g.throughput(small.throughput());
    g.bench_function("memchr_100b", |b| {
        b.iter(|| memchr_all(black_box(&small.wire)))
    });
    g.throughput(large.throughput());
    let mut out = Vec::with_capacity(large.wire.len());
    g.bench_function("memchr_memcpy_64kib", |b| {
        b.iter(|| memchr_memcpy_all(black_box(&large.wire), &mut out))
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
