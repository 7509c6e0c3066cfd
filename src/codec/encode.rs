//! The encoder: frames to bytes.

use super::escape::escape_into;
use crate::error::Error;
use crate::frame::{header, Command, Frame, Version};

/// Appends `frame` to `out` as `version` writes it: escaped headers (except CONNECT, STOMP and
/// CONNECTED), a `content-length` for every body (any given one is replaced by the real
/// length), the body and the terminating NUL.
///
/// # Errors
/// [`Error::Invalid`] when a header cannot be written in this version: a line break in an
/// unescaped header (1.0, or CONNECT), a `:` in an unescaped header name, or a 1.1 header value
/// that ends in CR.
pub fn encode_frame(frame: &Frame, version: Version, out: &mut Vec<u8>) -> Result<(), Error> {
    encode_parts(
        frame.command(),
        frame.headers().iter(),
        frame.body(),
        version,
        out,
    )
}

/// Like [`encode_frame`], from borrowed parts: lets a sender add headers (a broker's
/// `subscription`, `ack`) to a stored message without building a [`Frame`] or copying its body.
///
/// # Errors
/// As [`encode_frame`].
pub fn encode_parts<'a>(
    command: Command,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    body: &[u8],
    version: Version,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    encode_parts_with(command, headers, body, version, true, out)
}

/// [`encode_parts`], writing `content-length` only when `length` says so (a given one is then
/// dropped too). Without it the body ends at the first NUL: the caller makes sure it has none.
/// Header values are text or the bytes of a received header (`V`), which need no proof of
/// UTF-8 to be written.
pub(crate) fn encode_parts_with<'a, V: AsRef<[u8]>>(
    command: Command,
    headers: impl Iterator<Item = (&'a str, V)>,
    body: &[u8],
    version: Version,
    length: bool,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    debug_assert!(length || !body.contains(&0));
    let start = out.len();
    let escaped = !command.is_unescaped();
    let plain = !escaped || version == Version::V1_0;
    out.reserve(command.as_str().len() + 64 + body.len());
    out.extend_from_slice(command.as_str().as_bytes());
    out.push(b'\n');
    for (name, value) in headers {
        if name == header::CONTENT_LENGTH {
            continue;
        }
        let value = value.as_ref();
        if !writable(name, value, plain, version) {
            out.truncate(start);
            return Err(Error::invalid(format!(
                "header {name:?} cannot be written unescaped in a {version} {command} frame"
            )));
        }
        escape_into(name.as_bytes(), escaped, version, out);
        out.push(b':');
        escape_into(value, escaped, version, out);
        out.push(b'\n');
    }
    if length && (!body.is_empty() || command.allows_body()) {
        out.extend_from_slice(b"content-length:");
        write_decimal(body.len(), out);
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(body);
    out.push(0);
    Ok(())
}

/// Appends a STOMP 1.2 ACK or NACK frame (`id`, and `transaction` when given): what
/// [`encode_parts`] writes for it, with less work, for the frame sent for every message. The
/// fixed parts are constants, so that only the values are copied by length. Returns where the
/// id, as written (escaped), lies in `out`.
pub(crate) fn encode_ack_1_2(
    command: Command,
    id: &[u8],
    transaction: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> std::ops::Range<usize> {
    debug_assert!(matches!(command, Command::Ack | Command::Nack));
    let tx_len = transaction.map_or(0, |t| 2 * t.len() + 13);
    // Escapes at most double a value.
    out.reserve(2 * id.len() + tx_len + 12);
    // Each a copy of a known length, with no call.
    match command {
        Command::Nack => out.extend_from_slice(b"NACK\nid:"),
        _ => out.extend_from_slice(b"ACK\nid:"),
    }
    let at = out.len();
    escape_into(id, true, Version::V1_2, out);
    let written = at..out.len();
    if let Some(tx) = transaction {
        out.extend_from_slice(b"\ntransaction:");
        escape_into(tx, true, Version::V1_2, out);
    }
    out.extend_from_slice(b"\n\n\0");
    written
}

/// False when a header cannot be written: a line break (or a `:` in the name) where nothing is
/// escaped, or, in 1.1, a value ending in CR, which 1.1 cannot escape and a reader would take
/// for part of the EOL.
fn writable(name: &str, value: &[u8], plain: bool, version: Version) -> bool {
    if plain {
        !name.contains(['\n', '\r', ':']) && !value.iter().any(|&b| b == b'\n' || b == b'\r')
    } else {
        version != Version::V1_1 || !value.ends_with(b"\r")
    }
}

/// True when `body` holds a NUL: a body without `content-length` cannot. A short body (the
/// usual message) is looked at in steps of a fixed size, which compile to vector compares with
/// no call and no set-up.
#[inline]
pub(crate) fn has_nul(body: &[u8]) -> bool {
    match body.len() {
        1024.. => memchr::memchr(0, body).is_some(),
        64.. => has_nul_in_steps::<64>(body),
        16.. => has_nul_in_steps::<16>(body),
        _ => body.contains(&0),
    }
}

/// [`has_nul`] for a body of at least `N` bytes: whole steps, then the last `N` bytes again
/// (overlapping). No step stops early: a NUL is rare, and a loop without exits stays vectors.
#[inline(always)]
fn has_nul_in_steps<const N: usize>(body: &[u8]) -> bool {
    let mut seen = false;
    let mut rest = body;
    while let Some((step, tail)) = rest.split_first_chunk::<N>() {
        seen |= nul_in(step);
        rest = tail;
    }
    seen | body.last_chunk::<N>().is_some_and(nul_in)
}

#[inline(always)]
fn nul_in<const N: usize>(step: &[u8; N]) -> bool {
    step.iter().fold(false, |seen, &b| seen | (b == 0))
}

/// Appends one heart-beat (an EOL) to `out`.
pub fn encode_heartbeat(out: &mut Vec<u8>) {
    out.push(b'\n');
}

/// Appends `n` in decimal.
pub(crate) fn write_decimal(n: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}
