//! The same workloads with stompy.

use std::time::{Duration, Instant};

use stompy::{AckMode, StompClient};

use crate::util::{body, report_latency, Meter};

pub fn client(addr: &str, batch: bool) -> StompClient {
    client_with(addr, batch, true)
}

/// [`client`], with `content-length` on SENDs or without.
pub fn client_with(addr: &str, batch: bool, content_length: bool) -> StompClient {
    client_beating(addr, batch, content_length, Duration::ZERO)
}

/// [`client_with`], asking for heart-beats every `beats` both ways (none when zero), as the
/// README's tour does.
pub fn client_beating(
    addr: &str,
    batch: bool,
    content_length: bool,
    beats: Duration,
) -> StompClient {
    let b = StompClient::builder()
        .address(addr)
        .unwrap()
        .login("guest", "guest")
        .host("/")
        .auto_content_length(content_length)
        .heart_beat(beats, beats);
    let b = if batch { b.write_batching(true) } else { b };
    b.connect().unwrap()
}

/// How a firehose consumer takes each frame.
#[derive(Clone, Copy)]
pub enum Take {
    /// `recv_ref`: lent from the read buffer, what a hot loop uses.
    Lent,
    /// `recv`: owned frames.
    Owned,
    /// `recv_ref_timeout`: lent, as a loop that polls with a timeout does.
    LentPolling,
}

/// Consumes the firehose with `recv_ref` (frames lent from the read buffer: what a hot loop
/// uses), or with `recv` (owned frames) when `owned`.
pub fn firehose(addr: &str, ack: bool, owned: bool, secs: Duration, workload: &str) {
    let take = if owned { Take::Owned } else { Take::Lent };
    firehose_with(addr, ack, take, Duration::ZERO, secs, workload);
}

/// [`firehose`], taking frames as `take` says, with heart-beats every `beats` both ways (none
/// when zero).
pub fn firehose_with(
    addr: &str,
    ack: bool,
    take: Take,
    beats: Duration,
    secs: Duration,
    workload: &str,
) {
    let mut c = client_beating(addr, false, true, beats);
    let mode = if ack {
        AckMode::ClientIndividual
    } else {
        AckMode::Auto
    };
    c.subscribe("/queue/f", mode).unwrap();
    let m = Meter::start();
    let mut msgs = 0u64;
    let mut bytes = 0usize;
    let closed = "firehose closed";
    loop {
        bytes += match take {
            Take::Owned => c.recv().unwrap().expect(closed).body().len(),
            Take::Lent => c.recv_ref().unwrap().expect(closed).body().len(),
            Take::LentPolling => {
                let f = c.recv_ref_timeout(Duration::from_secs(10)).unwrap();
                f.expect(closed).body().len()
            }
        };
        msgs += 1;
        if msgs.is_multiple_of(1024) && m.elapsed() >= secs {
            break;
        }
    }
    m.report(workload, "stompy", msgs);
    assert!(bytes > 0);
}

/// Receives (or sends) exactly `n` messages and leaves: run under callgrind twice, with two
/// values of `n`, the difference of the instruction counts is the cost of the extra messages.
/// `publish-nolen` publishes without `content-length`; `-owned` kinds receive with `recv`.
pub fn count(addr: &str, kind: &str, n: u64) {
    let publish = kind.starts_with("publish");
    let mut c = client_with(addr, publish, kind != "publish-nolen");
    if publish {
        send_n(&mut c, n);
        c.disconnect().unwrap();
        return;
    }
    let mode = match kind.starts_with("firehose-ack") {
        true => AckMode::ClientIndividual,
        false => AckMode::Auto,
    };
    c.subscribe("/queue/f", mode).unwrap();
    let got = match kind.ends_with("-owned") {
        true => receive_n_owned(&mut c, n),
        false => receive_n(&mut c, n),
    };
    assert!(got > 0);
}

/// The measured loop of [`count`] for publishing.
#[inline(never)]
pub fn send_n(c: &mut StompClient, n: u64) {
    let b = body();
    for _ in 0..n {
        c.send("/queue/sink", &b).unwrap();
    }
}

/// The measured loop of [`count`]: callgrind counts only inside it (`--toggle-collect`).
#[inline(never)]
pub fn receive_n(c: &mut StompClient, n: u64) -> usize {
    let mut bytes = 0usize;
    for _ in 0..n {
        bytes += c.recv_ref().unwrap().expect("firehose closed").body().len();
    }
    bytes
}

/// [`receive_n`] with owned frames (`recv`).
#[inline(never)]
pub fn receive_n_owned(c: &mut StompClient, n: u64) -> usize {
    let mut bytes = 0usize;
    for _ in 0..n {
        bytes += c.recv().unwrap().expect("firehose closed").body().len();
    }
    bytes
}

pub fn publish(addr: &str, batch: bool, secs: Duration, workload: &str) {
    publish_with(addr, batch, true, secs, workload)
}

/// [`publish`], with `content-length` on each SEND or without.
pub fn publish_with(addr: &str, batch: bool, length: bool, secs: Duration, workload: &str) {
    let mut c = client_with(addr, batch, length);
    let b = body();
    let m = Meter::start();
    let mut msgs = 0u64;
    loop {
        c.send("/queue/sink", &b).unwrap();
        msgs += 1;
        if msgs.is_multiple_of(1024) && m.elapsed() >= secs {
            break;
        }
    }
    c.disconnect().unwrap();
    m.report(workload, "stompy", msgs);
}

pub fn broker_roundtrip(addr: &str, dest: &str, n: u64, workload: &str) {
    // The same frames async-stomp sends (no content-length): a broker takes longer over a
    // SEND with one (ActiveMQ makes it a BytesMessage), which is not the client's cost.
    let mut c = client_with(addr, true, false);
    let b = body();
    let m = Meter::start();
    for _ in 0..n {
        c.send(dest, &b).unwrap();
    }
    let r = c.message(dest).body("").receipt().send().unwrap().unwrap();
    c.wait_for_receipt(&r, Duration::from_secs(60)).unwrap();
    c.subscribe(dest, AckMode::Auto).unwrap();
    let mut got = 0;
    while got < n {
        let f = c.recv().unwrap().unwrap();
        if !f.body().is_empty() {
            got += 1;
        }
    }
    m.report(workload, "stompy", n);
}

pub fn request_reply(addr: &str, dest: &str, n: usize, workload: &str) {
    let mut c = client(addr, false);
    c.subscription(dest)
        .wait_receipt(Duration::from_secs(10))
        .subscribe()
        .unwrap();
    let b = body();
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let t = Instant::now();
        c.send(dest, &b).unwrap();
        c.recv().unwrap().unwrap();
        if i >= n / 10 {
            samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    report_latency(workload, "stompy", samples);
}

/// One producer thread and one consumer thread over a queue: messages/s end to end.
pub fn one_to_one(addr: &str, dest: &str, n: u64, workload: &str) {
    let mut consumer = client(addr, false);
    consumer
        .subscription(dest)
        .wait_receipt(Duration::from_secs(10))
        .subscribe()
        .unwrap();
    let t0 = Instant::now();
    let producer = {
        let (addr, dest) = (addr.to_owned(), dest.to_owned());
        std::thread::spawn(move || {
            let mut p = client(&addr, true);
            let b = body();
            for _ in 0..n {
                p.send(&dest, &b).unwrap();
            }
            p.disconnect().unwrap();
        })
    };
    for _ in 0..n {
        consumer.recv().unwrap().unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    producer.join().unwrap();
    crate::util::report_kv(
        workload,
        "stompy",
        &[("msgs", n as f64), ("msgs_per_s", n as f64 / secs)],
    );
}

/// How a publisher learns that its messages reached the broker.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// `send` of every message; the last one asks for a receipt and is waited for.
    SendThenReceipt,
    /// `confirmed_sends(true)`: every `send` carries a receipt the client keeps track of;
    /// `wait_for_confirms` at the end.
    Confirmed,
    /// `send_and_wait` of every message: one round trip each.
    SendAndWait,
}

/// Publishes `n` messages to `dest` on a broker, measured until the broker has confirmed all
/// of them; then empties the queue again (not measured), so that runs do not pile up.
/// `persistent` adds `persistent:true` to every SEND; `window` sets `confirm_window(frames, 16
/// MiB)` for confirmed sends.
pub fn broker_publish(
    addr: &str,
    dest: &str,
    n: u64,
    how: Publish,
    persistent: bool,
    window: Option<usize>,
    workload: &str,
) {
    // The client broker_roundtrip uses: write batching, no content-length.
    let mut b = StompClient::builder()
        .address(addr)
        .unwrap()
        .login("guest", "guest")
        .host("/")
        .write_batching(true)
        .auto_content_length(false)
        .confirmed_sends(how == Publish::Confirmed);
    if let Some(frames) = window {
        b = b.confirm_window(frames, 16 << 20);
    }
    let mut c = b.connect().unwrap();
    let body = body();
    let timeout = Duration::from_secs(120);
    let m = Meter::start();
    match how {
        Publish::SendThenReceipt | Publish::Confirmed => {
            let last = if how == Publish::SendThenReceipt {
                n - 1
            } else {
                n
            };
            for _ in 0..last {
                if persistent {
                    c.message(dest)
                        .header("persistent", "true")
                        .body(body.as_slice())
                        .send()
                        .unwrap();
                } else {
                    c.send(dest, &body).unwrap();
                }
            }
            if how == Publish::Confirmed {
                c.wait_for_confirms(timeout).unwrap();
            } else {
                let mut s = c.message(dest).body(body.as_slice()).receipt();
                if persistent {
                    s = s.header("persistent", "true");
                }
                let r = s.send().unwrap().unwrap();
                c.wait_for_receipt(&r, timeout).unwrap();
            }
        }
        Publish::SendAndWait => {
            for _ in 0..n {
                let mut s = c.message(dest).body(body.as_slice());
                if persistent {
                    s = s.header("persistent", "true");
                }
                s.send_and_wait(timeout).unwrap();
            }
        }
    }
    m.report(workload, "stompy", n);
    c.subscribe(dest, AckMode::Auto).unwrap();
    for _ in 0..n {
        c.recv().unwrap().unwrap();
    }
    c.disconnect().unwrap();
}
