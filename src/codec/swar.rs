//! Byte searches eight bytes at a time, for the short strings of a frame's head, where a call
//! to a vectorised search costs more than it saves.

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
        return s.iter().any(|&b| b < 0x20 || b == b':' || b == b'\\');
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

#[cfg(test)]
mod tests {
    use super::may_need_escape;

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
