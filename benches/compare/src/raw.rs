//! The raw floor: pre-encoded frames written in bulk, and a read loop that only counts NULs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::util::{body, Meter};

pub fn connect(addr: &str, login: bool) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let c = if login {
        "CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\0"
    } else {
        "CONNECT\naccept-version:1.2\nhost:/\nheart-beat:0,0\n\n\0"
    };
    s.write_all(c.as_bytes()).unwrap();
    count_nuls(&mut s, 1);
    s
}

/// Reads until `n` NULs have gone by (anything after the last one is dropped: the callers
/// only use it where nothing else can follow).
pub fn count_nuls(s: &mut TcpStream, n: u64) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut seen = 0;
    while seen < n {
        let k = s.read(&mut buf).unwrap();
        assert!(k > 0, "peer closed");
        seen += memchr::memchr_iter(0, &buf[..k]).count() as u64;
    }
}

pub fn send_frames(dest: &str, n: usize) -> Vec<u8> {
    let b = body();
    let mut out = Vec::new();
    for _ in 0..n {
        out.extend_from_slice(
            format!("SEND\ndestination:{dest}\ncontent-length:{}\n\n", b.len()).as_bytes(),
        );
        out.extend_from_slice(&b);
        out.push(0);
    }
    out
}

fn disconnect(s: &mut TcpStream) {
    s.write_all(b"DISCONNECT\nreceipt:bye\n\n\0").unwrap();
}

/// Consumes from the firehose for `secs`, ACKing each message when `ack`. With `copy`, it
/// also does what any client that hands out owned frames must do at least: one allocation and
/// one copy per frame (then dropped), showing how close to the floor such a client can get.
pub fn firehose(addr: &str, ack: bool, copy: bool, secs: Duration, workload: &str) {
    let mut s = connect(addr, false);
    let mode = if ack { "client-individual" } else { "auto" };
    s.write_all(format!("SUBSCRIBE\nid:0\ndestination:/queue/f\nack:{mode}\n\n\0").as_bytes())
        .unwrap();
    let one_ack = b"ACK\nid:a-0\n\n\0";
    let mut acks = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    // The part of a frame that the last read cut off.
    let mut carry = Vec::new();
    let m = Meter::start();
    let mut msgs = 0u64;
    while m.elapsed() < secs {
        let k = s.read(&mut buf).unwrap();
        let n = if copy {
            copy_frames(&buf[..k], &mut carry)
        } else {
            memchr::memchr_iter(0, &buf[..k]).count()
        };
        msgs += n as u64;
        if ack && n > 0 {
            acks.clear();
            for _ in 0..n {
                acks.extend_from_slice(one_ack);
            }
            s.write_all(&acks).unwrap();
        }
    }
    m.report(workload, if copy { "raw-copy" } else { "raw" }, msgs);
}

/// Copies each frame that ends in `read` into a vector of its own (the first one joined to
/// `carry`, what the last read cut off), and keeps the cut-off end in `carry`. Returns how many.
fn copy_frames(read: &[u8], carry: &mut Vec<u8>) -> usize {
    let mut start = 0;
    let mut n = 0;
    for nul in memchr::memchr_iter(0, read) {
        let frame = if carry.is_empty() {
            read[start..nul].to_vec()
        } else {
            carry.extend_from_slice(&read[start..nul]);
            std::mem::take(carry)
        };
        std::hint::black_box(frame);
        start = nul + 1;
        n += 1;
    }
    carry.extend_from_slice(&read[start..]);
    n
}

/// Publishing to the sink as any client that writes a frame per send must at least: one copy
/// of a pre-encoded frame into the output buffer per message, written every 64 KiB.
pub fn publish_copy(addr: &str, secs: Duration, workload: &str) {
    let mut s = connect(addr, false);
    let frame = send_frames("/queue/sink", 1);
    let mut out = Vec::with_capacity(128 * 1024);
    let m = Meter::start();
    let mut msgs = 0u64;
    loop {
        out.extend_from_slice(std::hint::black_box(&frame));
        msgs += 1;
        if out.len() >= 64 * 1024 {
            s.write_all(&out).unwrap();
            out.clear();
            if m.elapsed() >= secs {
                break;
            }
        }
    }
    s.write_all(&out).unwrap();
    disconnect(&mut s);
    count_nuls(&mut s, 1);
    m.report(workload, "raw-copy", msgs);
}

/// Publishes to the sink for `secs`, then DISCONNECT and waits for its RECEIPT.
pub fn publish(addr: &str, secs: Duration, workload: &str) {
    let mut s = connect(addr, false);
    let batch_n = 1024;
    let batch = send_frames("/queue/sink", batch_n);
    let m = Meter::start();
    let mut msgs = 0u64;
    while m.elapsed() < secs {
        s.write_all(&batch).unwrap();
        msgs += batch_n as u64;
    }
    disconnect(&mut s);
    count_nuls(&mut s, 1);
    m.report(workload, "raw", msgs);
}

/// Publishes `n` messages to `dest` on a broker (receipt on the last), then consumes them.
pub fn broker_roundtrip(addr: &str, dest: &str, n: u64, workload: &str) {
    let mut s = connect(addr, true);
    let m = Meter::start();
    let batch = send_frames(dest, 1000);
    for _ in 0..n / 1000 {
        s.write_all(&batch).unwrap();
    }
    s.write_all(b"BEGIN\ntransaction:t\nreceipt:sent\n\n\0")
        .unwrap();
    count_nuls(&mut s, 1);
    s.write_all(b"ABORT\ntransaction:t\n\n\0").unwrap();
    s.write_all(format!("SUBSCRIBE\nid:0\ndestination:{dest}\nack:auto\n\n\0").as_bytes())
        .unwrap();
    count_nuls(&mut s, n);
    m.report(workload, "raw", n);
    disconnect(&mut s);
    let _ = s.shutdown(std::net::Shutdown::Both);
}

/// Request/reply through a broker: send to a queue we subscribe to, wait for the MESSAGE.
pub fn request_reply(addr: &str, dest: &str, n: usize, workload: &str) {
    let mut s = connect(addr, true);
    s.write_all(
        format!("SUBSCRIBE\nid:0\ndestination:{dest}\nack:auto\nreceipt:sub\n\n\0").as_bytes(),
    )
    .unwrap();
    count_nuls(&mut s, 1);
    let frame = send_frames(dest, 1);
    let mut samples = Vec::with_capacity(n);
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..n + n / 10 {
        let t = Instant::now();
        s.write_all(&frame).unwrap();
        loop {
            let k = s.read(&mut buf).unwrap();
            assert!(k > 0);
            if memchr::memchr(0, &buf[..k]).is_some() {
                break;
            }
        }
        if i >= n / 10 {
            samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    crate::util::report_latency(workload, "raw", samples);
    disconnect(&mut s);
}

/// The floor of confirmed publishing: `n` pre-encoded SENDs to `dest`, each asking for a
/// receipt, written as fast as the broker reads them (no window) while the receipts are
/// counted, on one thread; the broker's receipt rate. Then consumes them (not measured).
pub fn broker_publish_receipts(addr: &str, dest: &str, n: u64, persistent: bool, workload: &str) {
    let mut s = connect(addr, true);
    let b = body();
    let p = if persistent { "persistent:true\n" } else { "" };
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(format!("SEND\ndestination:{dest}\n{p}receipt:r{i}\n\n").as_bytes());
        out.extend_from_slice(&b);
        out.push(0);
    }
    s.set_nonblocking(true).unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let (mut sent, mut receipts) = (0, 0u64);
    let m = Meter::start();
    while receipts < n {
        let mut progress = false;
        if sent < out.len() {
            let end = out.len().min(sent + 64 * 1024);
            match s.write(&out[sent..end]) {
                Ok(k) => {
                    sent += k;
                    progress = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        match s.read(&mut buf) {
            Ok(0) => panic!("broker closed"),
            Ok(k) => {
                receipts += memchr::memchr_iter(0, &buf[..k]).count() as u64;
                progress = true;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        if !progress {
            wait_ready(&s, sent < out.len());
        }
    }
    m.report(workload, "raw", n);
    s.set_nonblocking(false).unwrap();
    s.write_all(format!("SUBSCRIBE\nid:0\ndestination:{dest}\nack:auto\n\n\0").as_bytes())
        .unwrap();
    count_nuls(&mut s, n);
    disconnect(&mut s);
    let _ = s.shutdown(std::net::Shutdown::Both);
}

/// Waits until `s` is readable (or writable, with `write`).
fn wait_ready(s: &TcpStream, write: bool) {
    use std::os::fd::AsRawFd;
    let events = libc::POLLIN | if write { libc::POLLOUT } else { 0 };
    let mut fd = libc::pollfd {
        fd: s.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut fd, 1, 1000) };
}
