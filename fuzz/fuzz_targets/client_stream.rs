//! The client's session fed a fuzzed broker byte stream after its CONNECT, in arbitrary
//! chunkings, on a simulated clock: it never panics, never buffers more than its limits allow,
//! hands out no frame beyond them, and once it reports a fatal error it keeps reporting one.
//! With the clock stopped, the chunking changes nothing the application sees.
//!
//! Input: four control bytes, then the stream.
//! - `a`: bits 0–2 the versions offered (0 = all), bit 3 tiny limits, bits 4–5 the heart-beat
//!   setting, bit 6 subscribe to `sub-0` once connected;
//! - `b`, `c`: the tiny limits (header line, header count and body);
//! - `ctl`: seeds the chunk sizes and the clock steps between chunks.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use stompy::session::{Event, Session, SessionConfig, Subscription};
use stompy::{Command, Error, Frame, Limits, ProtocolError, Version};

const HEART_BEATS: [(u32, u32); 4] = [(0, 0), (100, 100), (0, 1000), (5000, 10)];

fuzz_target!(|data: &[u8]| {
    let [a, b, c, ctl, stream @ ..] = data else {
        return;
    };
    let cfg = config(*a, *b, *c);
    let subscribe = a & 0x40 != 0;
    let mut rng = Rng::new(u64::from(*ctl));
    let chunks = rng.chunks(stream);
    clocked(cfg.clone(), &chunks, subscribe, &mut rng);
    let whole = frozen(cfg.clone(), &[stream], subscribe);
    let split = frozen(cfg, &chunks, subscribe);
    assert_eq!(whole, split, "chunking changed what the application sees");
});

/// Feeds the chunks with the clock moving between them.
fn clocked(cfg: SessionConfig, chunks: &[&[u8]], subscribe: bool, rng: &mut Rng) {
    let limits = cfg.limits;
    let mut now = Instant::now();
    let mut s = Session::new(cfg, now);
    s.start("fuzz", now).expect("CONNECT is always writable");
    let mut seen = Vec::new();
    for chunk in chunks {
        s.consume_output(s.output().len());
        s.feed(chunk, now);
        s.send_due_heart_beat(now);
        if let Err(e) = drain(&mut s, &limits, subscribe, now, &mut seen) {
            assert_final(&mut s, &e, now);
            return;
        }
        now += rng.step();
        if let Err(e) = s.handle_timeout(now) {
            assert!(e.is_fatal(), "non-fatal error from handle_timeout: {e:?}");
            assert_final(&mut s, &e, now);
            return;
        }
    }
}

/// Feeds the chunks at one instant; returns what the application saw, ending with the fatal
/// error if there was one (without the sizes and excerpts that depend on the chunking).
fn frozen(cfg: SessionConfig, chunks: &[&[u8]], subscribe: bool) -> Vec<String> {
    let limits = cfg.limits;
    let now = Instant::now();
    let mut s = Session::new(cfg, now);
    s.start("fuzz", now).expect("CONNECT is always writable");
    let mut seen = Vec::new();
    for chunk in chunks {
        s.feed(chunk, now);
        if let Err(e) = drain(&mut s, &limits, subscribe, now, &mut seen) {
            seen.push(describe(&e));
            break;
        }
    }
    seen
}

fn describe(e: &Error) -> String {
    match e {
        Error::Protocol(ProtocolError::HeaderLineTooLong { .. }) => "line too long".into(),
        Error::Protocol(ProtocolError::BodyTooLarge { .. }) => "body too large".into(),
        Error::Protocol(ProtocolError::UnknownCommand(_)) => "unknown command".into(),
        other => format!("{other:?}"),
    }
}

fn config(a: u8, b: u8, c: u8) -> SessionConfig {
    let versions: Vec<Version> = Version::ALL
        .iter()
        .enumerate()
        .filter(|&(i, _)| a & 7 == 0 || a & (1 << i) != 0)
        .map(|(_, &v)| v)
        .collect();
    let limits = if a & 8 != 0 {
        Limits::default()
            .max_header_line(2 + b as usize)
            .max_headers(1 + (c % 32) as usize)
            .max_body((c / 32) as usize * 37)
    } else {
        Limits::default()
    };
    let mut config = SessionConfig::default();
    config.versions = versions;
    config.heart_beat = HEART_BEATS[(a >> 4) as usize % 4];
    config.limits = limits;
    config
}

/// Polls events until the session needs more bytes, recording them in `seen`; checks each
/// one and the buffer after. Returns the first fatal error.
fn drain(
    s: &mut Session,
    limits: &Limits,
    subscribe: bool,
    now: Instant,
    seen: &mut Vec<String>,
) -> Result<(), Error> {
    loop {
        let ev = s.poll_event(now);
        match &ev {
            Ok(Some(ev)) => seen.push(format!("{ev:?}")),
            Err(e) if !e.is_fatal() => seen.push(describe(e)),
            _ => {}
        }
        match ev {
            Ok(None) => break,
            Ok(Some(Event::Connected)) => {
                assert!(s.connected_frame().is_some());
                if subscribe {
                    let subscribe = Frame::new(Command::Subscribe)
                        .with_header("id", "sub-0")
                        .with_header("destination", "/queue/fuzz")
                        .with_header("ack", "client");
                    let sub = Subscription::from_frame(&subscribe, String::new)
                        .expect("a valid SUBSCRIBE");
                    s.subscribe(sub, Some("r-0"), now)
                        .expect("subscribe once connected");
                }
            }
            Ok(Some(Event::Frame(f))) => check_frame(&f, limits),
            Ok(Some(_)) => {} // receipts, confirmations, heart-beats
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => assert!(
                e.broker_error().is_some() || matches!(e, Error::Protocol(_)),
                "unexpected non-fatal error {e:?}"
            ),
        }
    }
    // At most the frame being read: its command and header lines (within the limits, with
    // their EOLs, and one more not yet ended, which will be refused), the blank line and its
    // body so far.
    let line = limits.max_header_line + 2;
    let bound = (limits.max_headers + 2) * line + 2 + limits.max_body + 1;
    assert!(
        s.buffered() <= bound,
        "buffered {} > {bound} with {limits:?}",
        s.buffered()
    );
    Ok(())
}

fn check_frame(f: &Frame, limits: &Limits) {
    assert!(f.headers().len() <= limits.max_headers, "{f:?}");
    assert!(f.body().len() <= limits.max_body, "{f:?}");
    for (k, v) in f.headers().iter() {
        assert!(k.len() + v.len() < limits.max_header_line + 1, "{f:?}");
    }
}

/// A fatal error is final: more polling and more time give an error again, never an event.
fn assert_final(s: &mut Session, first: &Error, now: Instant) {
    assert!(first.is_fatal());
    s.feed(b"\nRECEIPT\nreceipt-id:r-0\n\n\0", now);
    match s.poll_event(now) {
        Err(e) => assert!(e.is_fatal(), "after {first:?}: non-fatal {e:?}"),
        Ok(ev) => panic!("after {first:?}: {ev:?}"),
    }
    let later = now + Duration::from_secs(3600);
    assert!(s.handle_timeout(later).is_err(), "after {first:?}");
}

/// Chunk sizes and clock steps from a small xorshift PRNG.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// 1 byte up to 2^(seed-dependent) bytes.
    fn chunk(&mut self) -> usize {
        let r = self.next();
        1 + (r >> 8) as usize % (1 << (r % 12))
    }

    fn chunks<'a>(&mut self, mut rest: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(self.chunk().min(rest.len()));
            out.push(chunk);
            rest = tail;
        }
        out
    }

    /// 0 to 700 ms.
    fn step(&mut self) -> Duration {
        Duration::from_millis(self.next() % 701)
    }
}
