//! Header escaping tables, one per version, checked both ways and through the decoder.

use super::{check, frame, End};
use crate::codec::escape::{escape_into, unescape_into};
use crate::codec::Limits;
use crate::error::ProtocolError as E;
use crate::frame::{Command as C, Version};

/// (version, wire form, header value). Each row decodes and encodes.
const TABLE: &[(Version, &str, &str)] = &[
    // 1.0 escapes nothing: a backslash is a backslash.
    (Version::V1_0, "a\\nb", "a\\nb"),
    (Version::V1_0, "a\\cb\\\\", "a\\cb\\\\"),
    (Version::V1_0, "a:b", "a:b"),
    // 1.1: `\\`, `\n`, `\c`.
    (Version::V1_1, "plain", "plain"),
    (Version::V1_1, "a\\\\b", "a\\b"),
    (Version::V1_1, "a\\nb", "a\nb"),
    (Version::V1_1, "a\\cb", "a:b"),
    (Version::V1_1, "\\c\\n\\\\", ":\n\\"),
    (Version::V1_1, "x\ry", "x\ry"),
    // 1.2 adds `\r`.
    (Version::V1_2, "a\\rb", "a\rb"),
    (Version::V1_2, "a\\cb\\nc\\\\d\\re", "a:b\nc\\d\re"),
    (Version::V1_2, "caf\u{e9}\\c\u{2713}", "caf\u{e9}:\u{2713}"),
];

#[test]
fn unescape_table() {
    for &(version, wire, value) in TABLE {
        let mut out = String::new();
        unescape_into(wire, true, version, &mut out).unwrap();
        assert_eq!(out, value, "{version} {wire:?}");
    }
}

#[test]
fn escape_table() {
    for &(version, wire, value) in TABLE {
        let mut out = Vec::new();
        escape_into(value.as_bytes(), true, version, &mut out);
        assert_eq!(out, wire.as_bytes(), "{version} {value:?}");
    }
}

#[test]
fn undefined_escapes_are_errors() {
    let cases: &[(Version, &str, &str)] = &[
        (Version::V1_1, "a\\rb", "\\r"),
        (Version::V1_1, "a\\tb", "\\t"),
        (Version::V1_2, "a\\tb", "\\t"),
        (Version::V1_2, "a\\ ", "\\ "),
        (Version::V1_2, "a\\C", "\\C"),
        (Version::V1_2, "a\\", "\\"),
        (Version::V1_1, "\\", "\\"),
        (Version::V1_2, "\\\u{e9}", "\\\u{e9}"),
    ];
    for &(version, wire, seq) in cases {
        let mut out = String::new();
        assert_eq!(
            unescape_into(wire, true, version, &mut out),
            Err(E::InvalidEscape(seq.into())),
            "{version} {wire:?}"
        );
    }
}

#[test]
fn unescaped_frames_pass_everything_through() {
    for version in Version::ALL {
        let mut out = String::new();
        unescape_into("a\\tb\\", false, version, &mut out).unwrap();
        assert_eq!(out, "a\\tb\\");
        let mut out = Vec::new();
        escape_into(b"a:b\\c", false, version, &mut out);
        assert_eq!(out, b"a:b\\c");
    }
}

#[test]
fn decoder_unescapes_names_and_values() {
    check(
        Version::V1_2,
        Limits::default(),
        b"MESSAGE\na\\cb:c\\nd\nx\\\\:\\r\n\n\0",
        &[frame(C::Message, &[("a:b", "c\nd"), ("x\\", "\r")], b"")],
        End::Idle,
    );
}

#[test]
fn decoder_rejects_undefined_escapes() {
    for (version, input, seq) in [
        (Version::V1_1, &b"MESSAGE\nk:a\\rb\n\n\0"[..], "\\r"),
        (Version::V1_2, b"MESSAGE\nk:a\\tb\n\n\0", "\\t"),
        (Version::V1_2, b"SEND\nk\\x:v\n\n\0", "\\x"),
    ] {
        let end = End::Err(E::InvalidEscape(seq.into()));
        check(version, Limits::default(), input, &[], end);
    }
}

#[test]
fn decoder_keeps_escapes_in_1_0() {
    check(
        Version::V1_0,
        Limits::default(),
        b"MESSAGE\nk:a\\tb\\c\n\n\0",
        &[frame(C::Message, &[("k", "a\\tb\\c")], b"")],
        End::Idle,
    );
}

#[test]
fn connect_and_connected_are_never_unescaped() {
    for version in Version::ALL {
        for command in [C::Connect, C::Stomp, C::Connected] {
            let input = format!("{command}\nlogin:a\\b\\c\npasscode:p\\tq:r\n\n\0");
            check(
                version,
                Limits::default(),
                input.as_bytes(),
                &[frame(
                    command,
                    &[("login", "a\\b\\c"), ("passcode", "p\\tq:r")],
                    b"",
                )],
                End::Idle,
            );
        }
    }
}
