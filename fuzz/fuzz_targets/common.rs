//! Shared by the fuzz targets: the input format, chunking and a decode loop.
//!
//! An input is a control byte followed by the byte stream. The control byte picks the
//! protocol version (`ctl % 3`) and seeds the chunking (`ctl / 3`).

#![allow(dead_code)]

use stompy::codec::{Decoder, Item, ItemRef};
use stompy::{Limits, ProtocolError, Version};

/// What decoding a whole stream gave: the items, then how it ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    pub items: Vec<Item>,
    pub end: Result<(), ProtocolError>,
}

/// Splits `ctl` into a version and a chunking seed.
pub fn control(ctl: u8) -> (Version, u64) {
    (Version::ALL[ctl as usize % 3], u64::from(ctl / 3))
}

/// Cuts `bytes` into chunks whose sizes a small PRNG draws from `seed`: seed 0 gives one byte
/// at a time, larger seeds allow chunks of up to `2^(seed % 12)` bytes.
pub fn chunks(bytes: &[u8], seed: u64) -> Vec<&[u8]> {
    let max = 1usize << (seed % 12);
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = 1 + (state as usize % max);
        let (head, tail) = rest.split_at(n.min(rest.len()));
        out.push(head);
        rest = tail;
    }
    out
}

/// Feeds `chunks` one by one, draining the decoder after each, and calls `check` after every
/// feed (with the chunk's length) and after every drain (with 0).
pub fn run<'a>(
    version: Version,
    limits: Limits,
    chunks: impl IntoIterator<Item = &'a [u8]>,
    mut check: impl FnMut(&Decoder, usize),
) -> Run {
    let mut d = Decoder::new(version, limits);
    let mut items = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        check(&d, chunk.len());
        loop {
            match d.decode() {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(e) => return Run { items, end: Err(e) },
            }
        }
        check(&d, 0);
    }
    Run { items, end: Ok(()) }
}

/// [`run`] with frames lent by `Decoder::decode_ref` (copied to compare them) every other
/// time, and made by `Decoder::decode` in between.
pub fn run_lent<'a>(
    version: Version,
    limits: Limits,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Run {
    let mut d = Decoder::new(version, limits);
    let mut items = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        loop {
            let next = match items.len() % 2 {
                0 => d.decode_ref().map(|item| {
                    item.map(|i| match i {
                        ItemRef::Frame(f) => Item::Frame(f.to_frame()),
                        ItemRef::HeartBeat => Item::HeartBeat,
                    })
                }),
                _ => d.decode(),
            };
            match next {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(e) => return Run { items, end: Err(e) },
            }
        }
    }
    Run { items, end: Ok(()) }
}
