//! Codec tests. Every decoder case is fed whole, one byte at a time, in two halves at every
//! split point, in random chunkings and through `read_from`, and must give the same items and
//! the same ending each time.

mod decode;
mod encode;
mod escape;
mod frame;
mod out;

use std::io::{self, Read};

use super::{Decoder, Item, ItemRef, Limits};
use crate::error::ProtocolError;
use crate::frame::{Command, Frame, Headers, Version};

/// How decoding the whole input ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum End {
    /// Every byte became an item; the decoder is between frames with nothing buffered.
    Idle,
    /// `Ok(None)`: the decoder waits for more bytes.
    Partial,
    /// A protocol error.
    Err(ProtocolError),
}

/// A heart-beat item.
pub(super) const HB: Item = Item::HeartBeat;

/// A frame item.
pub(super) fn frame(command: Command, headers: &[(&str, &str)], body: &[u8]) -> Item {
    Item::Frame(Frame::from_parts(
        command,
        headers.iter().copied().collect::<Headers>(),
        body.to_vec(),
    ))
}

/// Decodes `input` in every chunking and checks each against `items` and `end`.
#[track_caller]
pub(super) fn check(version: Version, limits: Limits, input: &[u8], items: &[Item], end: End) {
    let expected = (items.to_vec(), end);
    let n = input.len();
    assert_eq!(run(version, limits, [input]), expected, "fed whole");
    assert_eq!(
        run(version, limits, input.chunks(1)),
        expected,
        "fed one byte at a time"
    );
    for at in 0..=n {
        let (a, b) = input.split_at(at);
        assert_eq!(
            run(version, limits, [a, b]),
            expected,
            "fed in two halves split at {at}"
        );
    }
    let mut rng = Rng(0x5EED ^ n as u64);
    for round in 0..50 {
        let chunks = rng.chunking(input, 1 + round % 17);
        assert_eq!(
            run(version, limits, chunks.iter().copied()),
            expected,
            "fed in random chunks {:?}",
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
        );
    }
    assert_eq!(read_all(version, limits, input, 7), expected, "read_from");
    // Borrowed frames: the same frames and the same ending, and mixed with owned ones.
    for lend in [Lend::Always, Lend::Alternately] {
        assert_eq!(
            run_ref(version, limits, [input], lend),
            expected,
            "lent, whole"
        );
        assert_eq!(
            run_ref(version, limits, input.chunks(1), lend),
            expected,
            "lent, one byte at a time"
        );
        for round in 0..10 {
            let chunks = rng.chunking(input, 1 + round % 17);
            assert_eq!(
                run_ref(version, limits, chunks.iter().copied(), lend),
                expected,
                "lent, in random chunks {:?}",
                chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
            );
        }
    }
}

/// How [`run_ref`] takes frames.
#[derive(Debug, Clone, Copy)]
pub(super) enum Lend {
    /// Every one with `decode_ref`.
    Always,
    /// `decode_ref` and `decode` in turn.
    Alternately,
}

/// [`run`] with frames taken by `Decoder::decode_ref` (copied to compare them).
pub(super) fn run_ref<'a>(
    version: Version,
    limits: Limits,
    chunks: impl IntoIterator<Item = &'a [u8]>,
    lend: Lend,
) -> (Vec<Item>, End) {
    let mut d = Decoder::new(version, limits);
    let mut items = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        loop {
            let lent = matches!(lend, Lend::Always) || items.len() % 2 == 0;
            let next = match lent {
                true => d.decode_ref().map(|item| {
                    item.map(|i| match i {
                        ItemRef::Frame(f) => Item::Frame(f.to_frame()),
                        ItemRef::HeartBeat => Item::HeartBeat,
                    })
                }),
                false => d.decode(),
            };
            match next {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(e) => return (items, End::Err(e)),
            }
        }
    }
    (items, ending(&d))
}

/// Feeds `chunks` one by one, taking every item after each.
pub(super) fn run<'a>(
    version: Version,
    limits: Limits,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<Item>, End) {
    let mut d = Decoder::new(version, limits);
    let mut items = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        if let Err(e) = drain(&mut d, &mut items) {
            return (items, End::Err(e));
        }
    }
    (items, ending(&d))
}

/// Reads `input` through `Decoder::read_from`, `step` bytes per read.
fn read_all(version: Version, limits: Limits, input: &[u8], step: usize) -> (Vec<Item>, End) {
    let mut d = Decoder::new(version, limits);
    let mut r = Trickle(input, step);
    let mut items = Vec::new();
    while d.read_from(&mut r).expect("in-memory read") > 0 {
        if let Err(e) = drain(&mut d, &mut items) {
            return (items, End::Err(e));
        }
    }
    (items, ending(&d))
}

fn drain(d: &mut Decoder, items: &mut Vec<Item>) -> Result<(), ProtocolError> {
    while let Some(item) = d.decode()? {
        items.push(item);
    }
    Ok(())
}

fn ending(d: &Decoder) -> End {
    if d.is_idle() && d.buffered() == 0 {
        End::Idle
    } else {
        End::Partial
    }
}

/// A reader that hands out at most `.1` bytes per read.
struct Trickle<'a>(&'a [u8], usize);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.len().min(self.1).min(buf.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// xorshift64: random chunkings that are the same on every run.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Cuts `input` into chunks of 1 to `max` bytes.
    pub(super) fn chunking<'a>(&mut self, mut input: &'a [u8], max: usize) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        while !input.is_empty() {
            let n = (1 + self.next() as usize % max).min(input.len());
            out.push(&input[..n]);
            input = &input[n..];
        }
        out
    }
}
