//! Byte searches for the short strings of a frame's head, where a call to a vectorised search
//! costs more than it saves: eight bytes at a time in a word, or sixty-four at a time in
//! vectors (the `wide` crate's, which are SSE2 on x86-64 and portable code elsewhere).

use wide::u8x16;

/// Where LFs, colons, and backslashes or bytes above ASCII are among 64 bytes: bit `i` stands
/// for byte `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Marks {
    pub(super) newlines: u64,
    pub(super) colons: u64,
    /// Backslashes and bytes above ASCII: rare in heads, told apart only when present.
    pub(super) special: u64,
}

/// The [`Marks`] of `rest[at..at + 64]`, bytes past the end of `rest` counting as none.
#[inline]
pub(super) fn marks(rest: &[u8], at: usize) -> Marks {
    match rest.get(at..at + 64) {
        Some(block) => marks64(block.try_into().expect("64 bytes")),
        None => {
            let mut block = [0u8; 64];
            let tail = &rest[at.min(rest.len())..];
            block[..tail.len()].copy_from_slice(tail);
            marks64(&block)
        }
    }
}

#[inline]
fn marks64(block: &[u8; 64]) -> Marks {
    let (lf, colon, backslash) = (u8x16::splat(b'\n'), u8x16::splat(b':'), u8x16::splat(b'\\'));
    let mut m = Marks {
        newlines: 0,
        colons: 0,
        special: 0,
    };
    for (i, chunk) in block.chunks_exact(16).enumerate() {
        let v = u8x16::new(chunk.try_into().expect("16 bytes"));
        let bits = |x: u8x16| u64::from(x.to_bitmask()) << (i * 16);
        m.newlines |= bits(v.simd_eq(lf));
        m.colons |= bits(v.simd_eq(colon));
        // The high bit of each byte: set by the compare for a backslash, or by the byte.
        m.special |= bits(v.simd_eq(backslash) | v);
    }
    m
}

/// The value of the `n` (1 to 8) ASCII digits that start `word` (little-endian: the first
/// digit is its lowest byte), or `None` when one of them is not a digit; the bytes after them
/// do not count. A few multiplications rather than a loop per digit.
#[inline]
pub(super) fn digits8(word: u64, n: usize) -> Option<u64> {
    const ZEROS: u64 = u64::from_le_bytes([b'0'; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const NINE_UP: u64 = u64::from_le_bytes([0x7f - 9; 8]);
    if !(1..=8).contains(&n) {
        return None;
    }
    // The digits move to the top bytes; the bytes below them are zeros, leading zeros.
    let shift = 8 * (8 - n as u32);
    let d = (word << shift) ^ (ZEROS << shift);
    // Every byte is at most 9: adding 0x76 sets the high bit of a larger one (a carry out of a
    // byte comes only from one whose high bit is set already).
    if (d.wrapping_add(NINE_UP) | d) & HIGHS != 0 {
        return None;
    }
    // Pairs of digits, then fours, then the eight.
    let d = d.wrapping_mul(10 * 256 + 1) >> 8;
    let d = (d & 0x00ff_00ff_00ff_00ff).wrapping_mul(100 * 65536 + 1) >> 16;
    Some((d & 0x0000_ffff_0000_ffff).wrapping_mul(10000 * (1 << 32) + 1) >> 32)
}

/// The high bit of every byte of `x` that equals `b`, and no other bit (no false positives
/// from borrows, unlike the usual zero-byte test).
#[inline(always)]
pub(super) fn bytes_equal_to(x: u64, b: u8) -> u64 {
    const LOWS: u64 = u64::from_le_bytes([0x7f; 8]);
    let y = x ^ u64::from_le_bytes([b; 8]);
    !(((y & LOWS) + LOWS) | y | LOWS)
}

/// False only when `s` holds no byte that a header may have to escape (`\\`, `:`, LF, CR):
/// a cheap test that may say true for other control bytes (tab), after which the caller checks
/// exactly.
#[inline]
pub(super) fn may_need_escape(s: &[u8]) -> bool {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    // Some byte below 0x20 (LF and CR are): exact as a whole, though not byte by byte.
    let below_space = |x: u64| x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
    let hit = |x: u64| below_space(x) | bytes_equal_to(x, b':') | bytes_equal_to(x, b'\\');
    if s.len() < 8 {
        return hit(short_word(s)) != 0;
    }
    let load = |at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    // Whole words, then the last eight bytes (overlapping the last word).
    let mut found = hit(load(s.len() - 8));
    let mut at = 0;
    while at + 8 <= s.len() {
        found |= hit(load(at));
        at += 8;
    }
    found != 0
}

/// The bytes of `s` (fewer than 8) in a word, some of them twice and the rest of it a byte
/// that needs no escape: loaded whole, not copied into the word a byte at a time and read back
/// (a store of a few bytes read back as a word stalls the load).
#[inline]
fn short_word(s: &[u8]) -> u64 {
    const PAD: u64 = u64::from_le_bytes([b'a'; 8]);
    let n = s.len();
    let word4 = |at: usize| u64::from(u32::from_le_bytes(s[at..at + 4].try_into().expect("4")));
    match n {
        // Two overlapping halves cover every byte.
        4.. => word4(0) | (word4(n - 4) << 32),
        1.. => {
            let byte = |at: usize| u64::from(s[at]);
            byte(0) | (byte(n / 2) << 8) | (byte(n - 1) << 16) | (PAD << 24)
        }
        0 => PAD,
    }
}

#[cfg(test)]
mod tests {
    use super::{digits8, marks, may_need_escape, Marks};

    #[test]
    fn digits8_reads_what_a_loop_reads() {
        let loop_digits = |s: &[u8]| {
            s.iter().try_fold(0u64, |n, &b| {
                b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
            })
        };
        let samples: [&[u8]; 12] = [
            b"0",
            b"7",
            b"10",
            b"100",
            b"999",
            b"1234",
            b"00042",
            b"98765432",
            b"9999999",
            b"1a",
            b"/",
            b":9",
        ];
        for s in samples {
            let mut word = [b'x'; 8];
            word[..s.len()].copy_from_slice(s);
            let got = digits8(u64::from_le_bytes(word), s.len());
            assert_eq!(got, loop_digits(s), "{s:?}");
        }
        // Every byte value in every place, the rest digits.
        for n in 1..=8 {
            for at in 0..n {
                for b in 0..=255u8 {
                    let mut word = *b"31415926";
                    word[at] = b;
                    let got = digits8(u64::from_le_bytes(word), n);
                    assert_eq!(got, loop_digits(&word[..n]), "{word:?} {n}");
                }
            }
        }
        assert_eq!(digits8(0, 0), None);
        assert_eq!(digits8(0, 9), None);
    }

    #[test]
    fn marks_flag_exactly_the_bytes_sought() {
        let bytes: Vec<u8> = (0..200u32)
            .map(|i| [b'\n', b':', b'\\', b'a', 0x8a, 0xba, 0xdc][(i * 7 % 11 % 7) as usize])
            .collect();
        for at in [0, 1, 63, 64, 150, 199, 200] {
            let bit = |i: usize, f: &dyn Fn(u8) -> bool| {
                u64::from(bytes.get(at + i).is_some_and(|&b| f(b))) << i
            };
            let none = Marks {
                newlines: 0,
                colons: 0,
                special: 0,
            };
            let want = (0..64).fold(none, |m, i| Marks {
                newlines: m.newlines | bit(i, &|b| b == b'\n'),
                colons: m.colons | bit(i, &|b| b == b':'),
                special: m.special | bit(i, &|b| b == b'\\' || b >= 0x80),
            });
            assert_eq!(marks(&bytes, at), want, "at {at}");
        }
    }

    #[test]
    fn may_need_escape_never_misses_a_byte_to_escape() {
        for len in 0..24 {
            for at in 0..=len {
                for special in [
                    b'\\',
                    b'\n',
                    b':',
                    b'\r',
                    b'\t',
                    b'a',
                    0x80 | b':',
                    b':' ^ 1,
                    0x20,
                    0x7f,
                ] {
                    let mut s = vec![b'x'; len];
                    if at < len {
                        s[at] = special;
                    }
                    let plain = s.iter().any(|&b| b < 0x20 || b == b':' || b == b'\\');
                    assert_eq!(may_need_escape(&s), plain, "{s:?}");
                }
            }
        }
    }
}
