//! A frame's head: header lines, parsed one at a time or, once the whole head is buffered, in
//! one pass.

use super::escape::unescape_into;
use super::swar::bytes_equal_to;
use crate::error::ProtocolError;
use crate::frame::{header, Command, Headers, Version};

/// Most header lines parsed in one pass; longer heads are read line by line.
pub(super) const MAX_FAST_LINES: usize = 32;

/// A frame's head, as far as it has been read.
#[derive(Debug)]
pub(super) struct Head {
    pub(super) command: Command,
    pub(super) headers: Headers,
    /// The first `content-length`, parsed as soon as its line is read.
    pub(super) content_length: Option<Result<u64, ProtocolError>>,
    /// True when the command and version escape headers.
    pub(super) escapes: bool,
    /// True when names and values lose surrounding spaces and tabs: STOMP 1.0, whose examples
    /// pad headers (`destination: /queue/a`), as many of its clients and brokers do. CONNECT,
    /// STOMP and CONNECTED are kept as they are (a 1.1+ peer's values must not change).
    pub(super) trims: bool,
}

/// One line of a head: start, length without EOL, first colon from the start.
pub(super) type Line = (usize, usize, usize);

/// A [`Line`]'s colon when it has none.
pub(super) const NO_COLON: usize = usize::MAX;

/// The header lines of a head wholly buffered in `rest`, which starts after the command line.
/// The decoder keeps one and reuses its line list from frame to frame.
#[derive(Debug, Default)]
pub(super) struct WholeHead {
    /// Each line in `rest`: start, length without EOL, and where its first colon is (relative
    /// to the start; [`NO_COLON`] when it has none).
    lines: Vec<Line>,
    /// The first colon of the line being split, relative to `rest`.
    colon: Option<usize>,
    /// Bytes of `rest` up to the end of the blank line.
    pub(super) consumed: usize,
    /// True when the head holds a backslash.
    pub(super) backslash: bool,
}

impl WholeHead {
    #[cfg(test)]
    pub(super) fn new() -> Self {
        WholeHead::default()
    }

    /// Forgets the last head, keeping the room its lines took.
    pub(super) fn reset(&mut self) {
        self.lines.clear();
        self.colon = None;
        self.consumed = 0;
        self.backslash = false;
    }

    /// Splits the lines of `rest` up to the blank line that ends the head. False when that
    /// line has not arrived within [`MAX_FAST_LINES`] lines.
    pub(super) fn split(&mut self, rest: &[u8]) -> bool {
        // Header lines are short: eight bytes at a time beats a memchr call per line.
        let mut start = 0;
        let mut chunks = rest.chunks_exact(8);
        for (n, chunk) in chunks.by_ref().enumerate() {
            let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            self.backslash |= bytes_equal_to(x, b'\\') != 0;
            let newlines = bytes_equal_to(x, b'\n');
            // Colons and newlines in order: a line's first colon comes before its newline.
            let mut marks = newlines | bytes_equal_to(x, b':');
            while marks != 0 {
                let bit = marks.trailing_zeros();
                marks &= marks - 1;
                let i = n * 8 + bit as usize / 8;
                if newlines & (1 << bit) == 0 {
                    self.colon.get_or_insert(i);
                } else if let Some(done) = self.line_end(rest, &mut start, i) {
                    return done;
                }
            }
        }
        let at = rest.len() - chunks.remainder().len();
        for (i, &b) in rest.iter().enumerate().skip(at) {
            self.backslash |= b == b'\\';
            if b == b':' {
                self.colon.get_or_insert(i);
            } else if b == b'\n' {
                if let Some(done) = self.line_end(rest, &mut start, i) {
                    return done;
                }
            }
        }
        false
    }

    /// Records the line from `start` to the newline at `i`. `Some(true)` when it was the
    /// blank line ending the head, `Some(false)` when there are too many lines to keep.
    fn line_end(&mut self, rest: &[u8], start: &mut usize, i: usize) -> Option<bool> {
        let len = match i > *start && rest[i - 1] == b'\r' {
            true => i - 1 - *start,
            false => i - *start,
        };
        if len == 0 {
            self.consumed = i + 1;
            return Some(true);
        }
        if self.lines.len() == MAX_FAST_LINES {
            return Some(false);
        }
        let colon = match self.colon.take() {
            Some(c) if c < *start + len => c - *start,
            _ => NO_COLON,
        };
        self.lines.push((*start, len, colon));
        *start = i + 1;
        None
    }

    /// The lines found.
    pub(super) fn lines(&self) -> &[Line] {
        &self.lines
    }
}

impl Head {
    /// Adds one header line (without its EOL), unescaping it when `unescape` says it has a
    /// backslash.
    pub(super) fn push_line(
        &mut self,
        line: &[u8],
        unescape: bool,
        version: Version,
        max_headers: usize,
    ) -> Result<(), ProtocolError> {
        self.check_count(max_headers)?;
        let text = std::str::from_utf8(line).map_err(|_| ProtocolError::InvalidUtf8)?;
        self.push_text(text, None, None, unescape, version)
    }

    /// Adds the header at `start` in `head` (the text given to [`Headers::from_raw`]), whose
    /// line is `len` bytes with its first colon at `colon`, as it is: no escapes, no padding.
    #[inline]
    pub(super) fn push_span(&mut self, head: &str, start: usize, colon: usize, len: usize) {
        let (name, value) = (start..start + colon, start + colon + 1..start + len);
        if self.content_length.is_none() && &head[name.clone()] == header::CONTENT_LENGTH {
            self.content_length = Some(parse_content_length(&head[value.clone()]));
        }
        self.headers.push_raw(name, value);
    }

    /// Refuses one more header when there are `max_headers` already.
    pub(super) fn check_count(&self, max_headers: usize) -> Result<(), ProtocolError> {
        if self.headers.len() >= max_headers {
            return Err(ProtocolError::TooManyHeaders {
                count: self.headers.len() + 1,
                max: max_headers,
            });
        }
        Ok(())
    }

    /// Adds one header line already known to be UTF-8. `at` is where the line lies in the
    /// headers' buffer when they were made with [`Headers::from_raw`]; `colon` is where its
    /// first colon is, when already known ([`NO_COLON`]: it has none).
    pub(super) fn push_text(
        &mut self,
        text: &str,
        at: Option<usize>,
        colon: Option<usize>,
        unescape: bool,
        version: Version,
    ) -> Result<(), ProtocolError> {
        let colon = match colon {
            Some(c) => Some(c).filter(|&c| c != NO_COLON),
            None => find_colon(text.as_bytes()),
        };
        let colon = colon.ok_or_else(|| ProtocolError::MalformedHeader(truncate(text)))?;
        let (mut name, mut value) = (&text[..colon], &text[colon + 1..]);
        if self.trims {
            let pad = |c: char| c == ' ' || c == '\t';
            (name, value) = (name.trim_matches(pad), value.trim_matches(pad));
        }
        if unescape {
            self.headers.push_with(|buf| {
                let start = buf.len();
                unescape_into(name, true, version, buf)?;
                let name_len = buf.len() - start;
                unescape_into(value, true, version, buf)?;
                Ok::<_, ProtocolError>(name_len)
            })?;
        } else if let Some(at) = at {
            // Where `name` and `value` (maybe trimmed) start in `text`, hence in the buffer.
            let start = |s: &str| at + (s.as_ptr() as usize - text.as_ptr() as usize);
            let (n, v) = (start(name), start(value));
            self.headers.push_raw(n..n + name.len(), v..v + value.len());
        } else {
            self.headers.push(name, value);
        }
        // No escape can make a name "content-length", so the raw name tells.
        if self.content_length.is_none() && name == header::CONTENT_LENGTH {
            // When unescaped, the first one is the header just pushed.
            let value = if unescape {
                self.headers.get(header::CONTENT_LENGTH).unwrap_or(value)
            } else {
                value
            };
            self.content_length = Some(parse_content_length(value));
        }
        Ok(())
    }
}

/// The line at the start of `rest`: its length without the EOL, and with it. `None` until the
/// whole line has arrived.
pub(super) fn next_line(
    rest: &[u8],
    max_line: usize,
) -> Result<Option<(usize, usize)>, ProtocolError> {
    // A line may take `max_line` bytes plus CR LF. Past that it is too long, and the error
    // names the first length over the limit, whatever the chunking.
    let window = &rest[..rest.len().min(max_line.saturating_add(2))];
    let Some(nl) = memchr::memchr(b'\n', window) else {
        if window.len() > max_line.saturating_add(1) {
            return Err(line_too_long(max_line));
        }
        return Ok(None);
    };
    let len = match nl.checked_sub(1).map(|i| rest[i]) {
        Some(b'\r') => nl - 1,
        _ => nl,
    };
    if len > max_line {
        return Err(line_too_long(max_line));
    }
    Ok(Some((len, nl + 1)))
}

/// The error for a line longer than `max_line`: it names the first length over the limit,
/// whatever the chunking.
pub(super) fn line_too_long(max_line: usize) -> ProtocolError {
    ProtocolError::HeaderLineTooLong {
        len: max_line.saturating_add(1),
        max: max_line,
    }
}

/// The first colon in `line`. Names are short: eight bytes at a time beats a call to memchr.
fn find_colon(line: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const COLONS: u64 = u64::from_le_bytes([b':'; 8]);
    let mut chunks = line.chunks_exact(8);
    for (i, chunk) in chunks.by_ref().enumerate() {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes")) ^ COLONS;
        // The lowest byte flagged is the first zero byte of `x`: a borrow only starts at one.
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return Some(i * 8 + zeros.trailing_zeros() as usize / 8);
        }
    }
    let rest = chunks.remainder();
    let at = line.len() - rest.len();
    rest.iter().position(|&b| b == b':').map(|i| at + i)
}

fn parse_content_length(v: &str) -> Result<u64, ProtocolError> {
    // The usual case, digits only, in one pass.
    if !v.is_empty() && v.len() <= 19 {
        let digits = v.bytes().try_fold(0u64, |n, b| {
            b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
        });
        if let Some(n) = digits {
            return Ok(n);
        }
    }
    let t = v.trim();
    if t.is_empty() || t.len() > 19 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProtocolError::InvalidContentLength(truncate(v)));
    }
    t.parse()
        .map_err(|_| ProtocolError::InvalidContentLength(truncate(v)))
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::super::swar::bytes_equal_to;
    use super::{find_colon, WholeHead};

    #[test]
    fn bytes_equal_to_flags_exactly_the_equal_bytes() {
        let samples = [
            0u8,
            1,
            b'\n',
            b'\n' ^ 1,
            b'\\',
            0x7f,
            0x80,
            0x8a,
            0xdc,
            0xff,
        ];
        for &a in &samples {
            for &b in &samples {
                for at in 0..8 {
                    let mut bytes = [a; 8];
                    bytes[at] = b;
                    let x = u64::from_le_bytes(bytes);
                    let want = bytes
                        .iter()
                        .enumerate()
                        .filter(|(_, &v)| v == b'\n')
                        .fold(0u64, |m, (i, _)| m | 0x80 << (i * 8));
                    assert_eq!(bytes_equal_to(x, b'\n'), want, "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn whole_head_split_finds_lines_at_every_alignment() {
        for pad in 0..20 {
            let name = "k".repeat(pad);
            let head = format!("{name}:1\r\nb:\\c\n\r\nbody");
            let mut w = WholeHead::new();
            assert!(w.split(head.as_bytes()), "{head:?}");
            assert_eq!(w.lines(), [(0, pad + 2, pad), (pad + 4, 4, 1)]);
            assert_eq!(w.consumed, pad + 11);
            assert!(w.backslash);
            let mut w = WholeHead::new();
            assert!(!w.split(&head.as_bytes()[..pad + 10]), "no blank line yet");
        }
    }

    #[test]
    fn find_colon_agrees_with_a_plain_search() {
        let mut line = Vec::new();
        for len in 0..40 {
            for colon in 0..=len {
                line.clear();
                line.extend((0..len).map(|i| {
                    if i == colon {
                        b':'
                    } else {
                        b'a' + i as u8 % 26
                    }
                }));
                let plain = line.iter().position(|&b| b == b':');
                assert_eq!(find_colon(&line), plain, "{line:?}");
                // Bytes around ':' (0x3a) and high bytes must not match.
                line.iter_mut().for_each(|b| *b ^= 0x01);
                assert_eq!(find_colon(&line), line.iter().position(|&b| b == b':'));
                line.iter_mut().for_each(|b| *b |= 0x80);
                assert_eq!(find_colon(&line), None);
            }
        }
    }
}
