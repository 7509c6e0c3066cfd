//! Header escaping per protocol version (1.0: none; 1.1: `\\ \n \c`; 1.2: adds `\r`).

use super::swar::may_need_escape;
use crate::error::ProtocolError;
use crate::frame::Version;

/// Appends `raw` to `out`, undoing escapes as `version` defines them.
pub(crate) fn unescape_into(
    raw: &str,
    escaped: bool,
    version: Version,
    out: &mut String,
) -> Result<(), ProtocolError> {
    if !escaped || version == Version::V1_0 || !raw.contains('\\') {
        out.push_str(raw);
        return Ok(());
    }
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('c') => out.push(':'),
            Some('r') if version == Version::V1_2 => out.push('\r'),
            Some(other) => return Err(ProtocolError::InvalidEscape(format!("\\{other}"))),
            None => return Err(ProtocolError::InvalidEscape("\\".into())),
        }
    }
    Ok(())
}

/// Appends `s` (text, or the bytes of a received header) to `out`, escaped as `version`
/// requires.
#[inline(always)]
pub(crate) fn escape_into(s: &[u8], escaped: bool, version: Version, out: &mut Vec<u8>) {
    if !escaped || version == Version::V1_0 || !may_need_escape(s) {
        out.extend_from_slice(s);
        return;
    }
    escape_slow(s, version, out);
}

fn escape_slow(s: &[u8], version: Version, out: &mut Vec<u8>) {
    for &b in s {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b':' => out.extend_from_slice(b"\\c"),
            b'\r' if version == Version::V1_2 => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}
