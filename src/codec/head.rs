//! A frame's head: indexed in one pass when the whole head is buffered and plain (see
//! `docs/ARCHITECTURE.md`, "The receive path"), or read line by line as it arrives, each line
//! checked, unescaped or trimmed as it must be, into headers of their own.

use super::escape::unescape_into;
use super::swar::{digits8, marks};
use super::Limits;
use crate::error::ProtocolError;
use crate::frame::{header, same_name, Command, Span, Version};

/// A frame's head, as far as it has been read. Positions are offsets in the decoder's input,
/// where the frame starts at 0.
#[derive(Debug)]
pub(super) struct Head {
    pub(super) command: Command,
    /// The headers read line by line: spans of the input, or of `owned` once that exists.
    pub(super) spans: Vec<Span>,
    /// A head indexed in one pass: for each 64-byte block from [`Head::from`], its LFs and its
    /// lines' first colons (see [`Headers`](crate::Headers)).
    pub(super) masks: Vec<[u8; 8]>,
    /// Where the header lines start (after the command line), when indexed in one pass.
    pub(super) from: usize,
    /// The headers' text once one had to be rewritten: the spans then point into it.
    pub(super) owned: Option<String>,
    /// The first `content-length`, parsed as soon as its line is read.
    pub(super) content_length: Option<Result<u64, ProtocolError>>,
    /// What [`Head::index_plain`] found of the first `content-length` and `subscription`.
    pub(super) plain: Plain,
    /// True when the command and version escape headers.
    escapes: bool,
    /// True when the head is known to be UTF-8: every byte of it was ASCII when split in one
    /// pass, or each line was checked when read line by line.
    pub(super) checked: bool,
    /// True when names and values lose surrounding spaces and tabs: STOMP 1.0, whose examples
    /// pad headers (`destination: /queue/a`), as many of its clients and brokers do. CONNECT,
    /// STOMP and CONNECTED are kept as they are (a 1.1+ peer's values must not change).
    trims: bool,
}

/// The headers a head indexed in one pass has looked up on the way, in plain types: no drop,
/// no error to carry (a `content-length` that is not plain digits sends the head to the line by
/// line reading, which reports it).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Plain {
    /// The first `content-length`'s value.
    pub(super) content_length: Option<u64>,
    /// Where the first `subscription`'s value is, from the start of the header lines.
    pub(super) subscription: Option<(u32, u32)>,
}

impl Default for Head {
    fn default() -> Self {
        Head {
            command: Command::Message,
            spans: Vec::new(),
            masks: Vec::new(),
            from: 0,
            owned: None,
            content_length: None,
            plain: Plain::default(),
            escapes: false,
            checked: false,
            trims: false,
        }
    }
}

impl Head {
    /// Starts the head of a frame whose command line is `command`.
    #[inline]
    pub(super) fn start(&mut self, command: Command, version: Version) {
        self.command = command;
        self.spans.clear();
        self.masks.clear();
        self.owned = None;
        self.content_length = None;
        self.escapes = !command.is_unescaped() && version != Version::V1_0;
        self.checked = false;
        self.trims = !command.is_unescaped() && version == Version::V1_0;
    }

    /// Indexes the header lines of `buf[from..]` up to the blank line that ends the head, when
    /// that line is buffered and every header is plain: with a colon, no escape to undo, no
    /// padding to trim, within the limits. Returns where the blank line ends, the head's
    /// [`Head::masks`] filled. `None`: the head is to be read line by line, in order, errors
    /// included.
    ///
    /// No loop runs per line: 64 bytes at a time, the LFs and colons found by vector compares
    /// give each line's first mark at once (subtracting the line starts from the marks borrows
    /// from each start up to the first mark after it). A line whose first mark is its LF is the
    /// blank line, or has no colon. UTF-8 is not checked here: `checked` says whether the head
    /// is all ASCII; if not, the caller checks the whole head at once.
    pub(super) fn index_plain(
        &mut self,
        buf: &[u8],
        from: usize,
        limits: &Limits,
    ) -> Option<usize> {
        let rest = &buf[from..];
        self.masks.clear();
        self.from = from;
        // `starts_in`: a line starts at bit 0 of the next block; `borrow`: a line that started
        // before has not met its first mark yet; `starts_before`: the line starts of the last
        // block, for the content-length test across blocks.
        let (mut starts_in, mut borrow, mut starts_before) = (1u64, 0u64, 0u64);
        let mut special = 0u64;
        let mut plain = Plain::default();
        let mut at = 0;
        while at < rest.len() && at <= limits.max_header_line {
            let m = marks(rest, at);
            let marks = m.newlines | m.colons;
            let starts = (m.newlines << 1) | starts_in;
            let (d, b1) = marks.overflowing_sub(starts);
            let (d, b2) = d.overflowing_sub(borrow);
            let first = marks & !d;
            let colons = first & m.colons;
            // The first line without a colon before its LF: the blank line, or not plain.
            let blank = first & m.newlines;
            // Bits before that line's LF (all of them when there is none in this block).
            let below = (blank & blank.wrapping_neg()).wrapping_sub(1);
            // The lines whose first colon is `len` bytes after their start: their name is
            // that long.
            let firsts = colons & below;
            let named = |len: usize| firsts & ((starts << len) | (starts_before >> (64 - len)));
            if plain.content_length.is_none() {
                let name = header::CONTENT_LENGTH.as_bytes();
                if let Some((v, end)) = value_of(rest, at, named(name.len()), m.newlines, name) {
                    let Some(len) = parse_digits_at(rest, v, end) else {
                        break; // read line by line, which says what is wrong with it
                    };
                    plain.content_length = Some(len);
                }
            }
            if plain.subscription.is_none() {
                let name = header::SUBSCRIPTION.as_bytes();
                if let Some((v, end)) = value_of(rest, at, named(name.len()), m.newlines, name) {
                    plain.subscription = Some((v as u32, end as u32));
                }
            }
            special |= m.special & below;
            if blank == 0 {
                self.masks
                    .extend_from_slice(&[m.newlines.to_le_bytes(), colons.to_le_bytes()]);
                (starts_in, borrow, starts_before) = (m.newlines >> 63, u64::from(b1 | b2), starts);
                at += 64;
                continue;
            }
            let lf = at + blank.trailing_zeros() as usize;
            // Blank: the LF ends a line that is empty, or only a CR.
            let empty = match lf.checked_sub(1).map(|p| rest[p]) {
                None | Some(b'\n') => true,
                Some(b'\r') => lf == 1 || rest[lf - 2] == b'\n',
                Some(_) => false,
            };
            if !empty || from + lf > limits.max_header_line {
                break;
            }
            // Lines are counted only where the limit could be reached: a block holds at most 32
            // (`:` and an LF), and counting bits costs a loop where POPCNT is not assumed.
            if (at / 64 + 1) * 32 > limits.max_headers {
                let colons_of = |m: &[[u8; 8]]| u64::from_le_bytes(m[1]).count_ones() as usize;
                let before: usize = self.masks.chunks_exact(2).map(colons_of).sum();
                if before + (colons & below).count_ones() as usize > limits.max_headers {
                    break;
                }
            }
            let head = &rest[..lf];
            if special != 0 && self.escapes && head.contains(&b'\\') {
                break;
            }
            if self.trims && padded_any(head) {
                break;
            }
            self.masks.extend_from_slice(&[
                (m.newlines & below).to_le_bytes(),
                (colons & below).to_le_bytes(),
            ]);
            self.checked = special == 0 || head.is_ascii();
            self.plain = plain;
            return Some(from + lf + 1);
        }
        self.masks.clear();
        None
    }

    /// Adds the header `buf[start..end]` whose colon is at `colon`, as it is.
    #[inline]
    fn push_span(&mut self, buf: &[u8], start: usize, colon: usize, end: usize) {
        let name = header::CONTENT_LENGTH.as_bytes();
        if colon - start == name.len()
            && self.content_length.is_none()
            && same_name(&buf[start..colon], name)
        {
            self.content_length = Some(parse_content_length(&buf[colon + 1..end]));
        }
        let span = |at: usize| at as u32;
        self.spans.push(Span {
            start: span(start),
            colon: span(colon),
            end: span(end),
        });
    }

    /// Adds the header line `buf[start..start + len]` (without its EOL): checked as UTF-8,
    /// unescaped or trimmed when it must be.
    pub(super) fn push_line(
        &mut self,
        buf: &[u8],
        start: usize,
        len: usize,
        version: Version,
        max_headers: usize,
    ) -> Result<(), ProtocolError> {
        if self.spans.len() >= max_headers {
            return Err(ProtocolError::TooManyHeaders {
                count: self.spans.len() + 1,
                max: max_headers,
            });
        }
        let line = &buf[start..start + len];
        let text = std::str::from_utf8(line).map_err(|_| ProtocolError::InvalidUtf8)?;
        let colon =
            find_colon(line).ok_or_else(|| ProtocolError::MalformedHeader(truncate(text)))?;
        let (mut name, mut value) = (&text[..colon], &text[colon + 1..]);
        if self.trims {
            let pad = |c: char| c == ' ' || c == '\t';
            (name, value) = (name.trim_matches(pad), value.trim_matches(pad));
        }
        let unescape = self.escapes && memchr::memchr(b'\\', line).is_some();
        let rewritten = unescape || name.len() + value.len() + 1 != len;
        if rewritten && self.owned.is_none() {
            self.own_text(buf);
        }
        let Some(out) = &mut self.owned else {
            self.push_span(buf, start, start + colon, start + len);
            return Ok(());
        };
        let at = out.len();
        unescape_into(name, unescape, version, out)?;
        let colon = out.len();
        out.push(':');
        unescape_into(value, unescape, version, out)?;
        // No escape can make a name "content-length", so the raw name tells.
        if self.content_length.is_none() && name == header::CONTENT_LENGTH {
            self.content_length = Some(parse_content_length(&out.as_bytes()[colon + 1..]));
        }
        let span = |at: usize| at as u32;
        self.spans.push(Span {
            start: span(at),
            colon: span(colon),
            end: span(out.len()),
        });
        Ok(())
    }

    /// Copies the headers read so far (spans of `buf`, each checked as UTF-8) into a text of
    /// their own, which the next ones join.
    pub(super) fn own_text(&mut self, buf: &[u8]) {
        let mut out = String::new();
        for s in &mut self.spans {
            let (start, colon, end) = (s.start as usize, s.colon as usize, s.end as usize);
            let at = out.len();
            out.push_str(&String::from_utf8_lossy(&buf[start..end]));
            s.start = at as u32;
            s.colon = (at + colon - start) as u32;
            s.end = out.len() as u32;
        }
        self.owned = Some(out);
    }
}

/// Where the value of the first line called `name` is in `rest`, among the lines whose first
/// colon is flagged in `named` (a block at `at` of `rest`, whose LFs are `newlines`): from after
/// the colon to before the EOL. The `name.len()` bytes before a flagged colon must say so.
#[inline(always)]
fn value_of(
    rest: &[u8],
    at: usize,
    mut named: u64,
    newlines: u64,
    name: &[u8],
) -> Option<(usize, usize)> {
    while named != 0 {
        let bit = named.trailing_zeros();
        named &= named - 1;
        let colon = at + bit as usize;
        if same_name(&rest[colon - name.len()..colon], name) {
            // The LF after the colon, from this block's marks when it is there.
            let lf = match newlines & (!1u64).checked_shl(bit).unwrap_or(0) {
                0 => colon + memchr::memchr(b'\n', &rest[colon..]).unwrap_or(rest.len() - colon),
                after => at + after.trailing_zeros() as usize,
            };
            let end = if rest[lf - 1] == b'\r' { lf - 1 } else { lf };
            return Some((colon + 1, end));
        }
    }
    None
}

/// True when some line of `head` may need trimming: a space or tab anywhere (a cheap, safe
/// over-estimate; such heads are read line by line).
fn padded_any(head: &[u8]) -> bool {
    head.iter().any(|&b| b == b' ' || b == b'\t')
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

#[inline]
fn parse_content_length(v: &[u8]) -> Result<u64, ProtocolError> {
    parse_digits(v).map_or_else(|| parse_content_length_slow(v), Ok)
}

/// [`parse_digits`] of `rest[v..end]`, eight bytes loaded at once when they are there.
#[inline]
fn parse_digits_at(rest: &[u8], v: usize, end: usize) -> Option<u64> {
    match rest.get(v..v + 8) {
        Some(word) if end - v <= 8 => digits8(
            u64::from_le_bytes(word.try_into().expect("8 bytes")),
            end - v,
        ),
        _ => parse_digits(&rest[v..end]),
    }
}

/// The usual `content-length`: 1 to 19 digits, nothing else.
#[inline]
fn parse_digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    let mut n = 0u64;
    for &b in v {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n = n * 10 + u64::from(digit);
    }
    Some(n)
}

#[cold]
fn parse_content_length_slow(v: &[u8]) -> Result<u64, ProtocolError> {
    let v = String::from_utf8_lossy(v);
    let v = v.as_ref();
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
    use super::find_colon;

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
