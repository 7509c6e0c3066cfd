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

/// True when `s` holds a byte that a header must escape: `\\`, LF, `:`, and CR when `cr`.
#[inline]
pub(super) fn needs_escape(s: &[u8], cr: bool) -> bool {
    let hit = |x: u64| {
        let m = bytes_equal_to(x, b'\\') | bytes_equal_to(x, b'\n') | bytes_equal_to(x, b':');
        m | if cr { bytes_equal_to(x, b'\r') } else { 0 }
    };
    if s.len() < 8 {
        return s
            .iter()
            .any(|&b| matches!(b, b'\\' | b'\n' | b':') || (cr && b == b'\r'));
    }
    let load = |at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    // Whole chunks, then the last eight bytes (overlapping the last chunk).
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
    use super::needs_escape;

    #[test]
    fn needs_escape_agrees_with_a_plain_search() {
        for len in 0..24 {
            for at in 0..=len {
                for special in [b'\\', b'\n', b':', b'\r', b'a', 0x80 | b':', b':' ^ 1] {
                    let mut s = vec![b'x'; len];
                    if at < len {
                        s[at] = special;
                    }
                    for cr in [false, true] {
                        let plain = s
                            .iter()
                            .any(|&b| matches!(b, b'\\' | b'\n' | b':') || (cr && b == b'\r'));
                        assert_eq!(needs_escape(&s, cr), plain, "{s:?} cr={cr}");
                    }
                }
            }
        }
    }
}
