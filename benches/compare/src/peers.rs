//! Tiny STOMP peers for client-bound measurements: a firehose that streams pre-encoded
//! MESSAGE frames as fast as the client reads, a sink that reads and discards, and a one-shot
//! peer that sends a single large MESSAGE. Each answers CONNECT, SUBSCRIBE and a DISCONNECT
//! receipt, and nothing else.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Binds, prints `port N`, and serves each connection on its own thread, forever.
pub fn serve(kind: &str) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("port {}", l.local_addr().unwrap().port());
    std::io::stdout().flush().unwrap();
    for s in l.incoming() {
        let Ok(s) = s else { continue };
        s.set_nodelay(true).ok();
        let kind = kind.to_owned();
        std::thread::spawn(move || {
            let _ = match kind.as_str() {
                "firehose" => firehose(s),
                "sink" => sink(s),
                "big" => big(s),
                _ => panic!("unknown peer {kind}"),
            };
        });
    }
}

/// Reads whole frames one at a time (only for the handshake).
struct FrameReader {
    s: TcpStream,
    buf: Vec<u8>,
}

impl FrameReader {
    fn next(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            while matches!(self.buf.first(), Some(b'\n' | b'\r')) {
                self.buf.remove(0);
            }
            if let Some(i) = memchr::memchr(0, &self.buf) {
                let f = self.buf[..i].to_vec();
                self.buf.drain(..=i);
                return Ok(Some(f));
            }
            let mut chunk = [0u8; 4096];
            let n = self.s.read(&mut chunk)?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn header<'a>(frame: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(frame).ok()?;
    let head = text.split("\n\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == name).then_some(v)
    })
}

/// CONNECTED, with the heart-beats the client asked for agreed to as they are (a client that
/// asks for none gets none).
fn connected(connect: &[u8]) -> Vec<u8> {
    let hb = header(connect, "heart-beat").unwrap_or("0,0");
    format!("CONNECTED\nversion:1.2\nheart-beat:{hb}\nserver:bench-peer\n\n\0").into_bytes()
}

fn receipt(id: &str) -> Vec<u8> {
    format!("RECEIPT\nreceipt-id:{id}\n\n\0").into_bytes()
}

fn handshake(s: &TcpStream) -> std::io::Result<FrameReader> {
    let mut r = FrameReader {
        s: s.try_clone()?,
        buf: Vec::new(),
    };
    let connect = r.next()?.unwrap_or_default();
    (&*s).write_all(&connected(&connect))?;
    Ok(r)
}

/// `n` pre-encoded MESSAGE frames for subscription `sub`, 100-byte bodies.
pub fn messages(sub: &str, dest: &str, n: usize) -> Vec<u8> {
    let body = crate::util::body();
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(
            format!(
                "MESSAGE\nsubscription:{sub}\nmessage-id:m-{i}\ndestination:{dest}\nack:a-{i}\n\
                 content-length:{}\n\n",
                body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&body);
        out.push(0);
    }
    out
}

fn firehose(s: TcpStream) -> std::io::Result<()> {
    let mut r = handshake(&s)?;
    let (sub, dest) = loop {
        let Some(f) = r.next()? else { return Ok(()) };
        if f.starts_with(b"SUBSCRIBE") {
            break (
                header(&f, "id").unwrap_or("0").to_owned(),
                header(&f, "destination").unwrap_or("/queue/f").to_owned(),
            );
        }
    };
    let batch = messages(&sub, &dest, 2048);
    let stop = Arc::new(AtomicBool::new(false));
    let receipt_id: Arc<Mutex<Option<String>>> = Arc::default();
    // Reader: discards ACKs, watches for DISCONNECT.
    let reader = {
        let (stop, receipt_id) = (stop.clone(), receipt_id.clone());
        let mut s = s.try_clone()?;
        let mut pending = r.buf;
        std::thread::spawn(move || {
            let mut chunk = vec![0u8; 256 * 1024];
            loop {
                // Frames are small: look at each complete one for DISCONNECT.
                let mut start = 0;
                while let Some(i) = memchr::memchr(0, &pending[start..]) {
                    let f = &pending[start..start + i];
                    let f = &f[f
                        .iter()
                        .take_while(|b| **b == b'\n' || **b == b'\r')
                        .count()..];
                    if f.starts_with(b"DISCONNECT") {
                        *receipt_id.lock().unwrap() = header(f, "receipt").map(str::to_owned);
                        stop.store(true, Ordering::SeqCst);
                    }
                    start += i + 1;
                }
                pending.drain(..start);
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => {
                        stop.store(true, Ordering::SeqCst);
                        return;
                    }
                    Ok(n) => pending.extend_from_slice(&chunk[..n]),
                }
            }
        })
    };
    let mut w = &s;
    while !stop.load(Ordering::SeqCst) {
        if w.write_all(&batch).is_err() {
            break;
        }
    }
    if let Some(id) = receipt_id.lock().unwrap().take() {
        let _ = w.write_all(&receipt(&id));
    }
    let _ = reader.join();
    Ok(())
}

fn sink(s: TcpStream) -> std::io::Result<()> {
    let r = handshake(&s)?;
    let mut s = s;
    let mut tail: Vec<u8> = r.buf;
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        let data = &chunk[..n];
        // A DISCONNECT is the last frame before the client waits: look at the stream's tail.
        tail.extend_from_slice(&data[n.saturating_sub(2048)..]);
        if tail.len() > 4096 {
            tail.drain(..tail.len() - 2048);
        }
        let end = tail.iter().rposition(|b| *b != b'\n' && *b != b'\r');
        if let Some(end) = end.filter(|e| tail[*e] == 0) {
            let start = memchr::memrchr(0, &tail[..end]).map_or(0, |i| i + 1);
            let f = &tail[start..end];
            let f = &f[f
                .iter()
                .take_while(|b| **b == b'\n' || **b == b'\r')
                .count()..];
            if f.starts_with(b"DISCONNECT") {
                if let Some(id) = header(f, "receipt") {
                    s.write_all(&receipt(id))?;
                }
                tail.clear();
            }
        }
    }
}

/// Sends one MESSAGE with a 100 MiB body after SUBSCRIBE, then idles until the client leaves.
fn big(s: TcpStream) -> std::io::Result<()> {
    let mut r = handshake(&s)?;
    let sub = loop {
        let Some(f) = r.next()? else { return Ok(()) };
        if f.starts_with(b"SUBSCRIBE") {
            break header(&f, "id").unwrap_or("0").to_owned();
        }
    };
    let len = 100 * 1024 * 1024;
    let mut w = &s;
    w.write_all(
        format!(
            "MESSAGE\nsubscription:{sub}\nmessage-id:big\ndestination:/queue/big\n\
             content-length:{len}\n\n"
        )
        .as_bytes(),
    )?;
    let block = vec![b'b'; 1024 * 1024];
    for _ in 0..100 {
        w.write_all(&block)?;
    }
    w.write_all(b"\0")?;
    while let Some(f) = r.next()? {
        if f.starts_with(b"DISCONNECT") {
            if let Some(id) = header(&f, "receipt") {
                w.write_all(&receipt(id))?;
            }
        }
    }
    Ok(())
}
