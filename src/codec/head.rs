//! A frame's head: header lines, parsed one at a time or, once the whole head is buffered, in
//! one pass.

use super::escape::unescape_into;
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
}

/// The header lines of a head wholly buffered in `rest`, which starts after the command line.
pub(super) struct WholeHead {
    /// Start and length (without EOL) of each line, in `rest`.
    lines: [(usize, usize); MAX_FAST_LINES],
    count: usize,
    /// Bytes of `rest` up to the end of the blank line.
    pub(super) consumed: usize,
    /// True when the head holds a backslash.
    pub(super) backslash: bool,
}

impl WholeHead {
    pub(super) fn new() -> Self {
        WholeHead {
            lines: [(0, 0); MAX_FAST_LINES],
            count: 0,
            consumed: 0,
            backslash: false,
        }
    }

    /// Splits the lines of `rest` up to the blank line that ends the head. False when that
    /// line has not arrived within [`MAX_FAST_LINES`] lines.
    pub(super) fn split(&mut self, rest: &[u8]) -> bool {
        let mut start = 0;
        for i in memchr::memchr2_iter(b'\n', b'\\', rest) {
            if rest[i] == b'\\' {
                self.backslash = true;
                continue;
            }
            let len = match i > start && rest[i - 1] == b'\r' {
                true => i - 1 - start,
                false => i - start,
            };
            if len == 0 {
                self.consumed = i + 1;
                return true;
            }
            if self.count == MAX_FAST_LINES {
                return false;
            }
            self.lines[self.count] = (start, len);
            self.count += 1;
            start = i + 1;
        }
        false
    }

    /// The lines found.
    pub(super) fn lines(&self) -> &[(usize, usize)] {
        &self.lines[..self.count]
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
        self.push_text(text, None, unescape, version)
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
    /// headers' buffer when they were made with [`Headers::from_raw`].
    pub(super) fn push_text(
        &mut self,
        text: &str,
        at: Option<usize>,
        unescape: bool,
        version: Version,
    ) -> Result<(), ProtocolError> {
        let colon = find_colon(text.as_bytes())
            .ok_or_else(|| ProtocolError::MalformedHeader(truncate(text)))?;
        let (name, value) = (&text[..colon], &text[colon + 1..]);
        if unescape {
            self.headers.push_with(|buf| {
                let start = buf.len();
                unescape_into(name, true, version, buf)?;
                let name_len = buf.len() - start;
                unescape_into(value, true, version, buf)?;
                Ok::<_, ProtocolError>(name_len)
            })?;
        } else if let Some(at) = at {
            let end = at + text.len();
            self.headers.push_raw(at..at + colon, at + colon + 1..end);
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
    use super::find_colon;

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
