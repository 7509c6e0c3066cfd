//! Encoder cases: exact bytes, content-length, refusals, and encode → decode round-trips.

use super::{check, End, HB};
use crate::codec::{encode_frame, encode_heartbeat, Item, Limits};
use crate::error::Error;
use crate::frame::{header, Command as C, Frame, Headers, Version};

fn encode(frame: &Frame, version: Version) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(frame, version, &mut out).expect("writable frame");
    out
}

#[test]
fn send_with_body() {
    let f = Frame::new(C::Send)
        .with_header("destination", "/queue/a")
        .with_body("hi");
    for version in Version::ALL {
        assert_eq!(
            encode(&f, version),
            b"SEND\ndestination:/queue/a\ncontent-length:2\n\nhi\0"
        );
    }
}

#[test]
fn content_length_for_every_body() {
    let cases: &[(Frame, &[u8])] = &[
        (Frame::new(C::Send), b"SEND\ncontent-length:0\n\n\0"),
        (Frame::new(C::Message), b"MESSAGE\ncontent-length:0\n\n\0"),
        (Frame::new(C::Error), b"ERROR\ncontent-length:0\n\n\0"),
        (Frame::new(C::Subscribe), b"SUBSCRIBE\n\n\0"),
        (
            Frame::new(C::Ack).with_body("x"),
            b"ACK\ncontent-length:1\n\nx\0",
        ),
        (
            Frame::new(C::Send).with_body(&b"a\0b"[..]),
            b"SEND\ncontent-length:3\n\na\0b\0",
        ),
    ];
    for (frame, wire) in cases {
        assert_eq!(encode(frame, Version::V1_2), *wire, "{frame:?}");
    }
}

#[test]
fn given_content_length_is_replaced() {
    let f = Frame::new(C::Send)
        .with_header("content-length", "999")
        .with_header("destination", "/q")
        .with_header("content-length", "1")
        .with_body("abc");
    assert_eq!(
        encode(&f, Version::V1_2),
        b"SEND\ndestination:/q\ncontent-length:3\n\nabc\0"
    );
}

#[test]
fn escapes_by_version() {
    let f = Frame::new(C::Message).with_header("a:b", "c\nd\\e\rf");
    assert_eq!(
        encode(&f, Version::V1_2),
        b"MESSAGE\na\\cb:c\\nd\\\\e\\rf\ncontent-length:0\n\n\0"
    );
    let f = Frame::new(C::Message).with_header("a:b", "c\nd\\e\rf");
    assert_eq!(
        encode(&f, Version::V1_1),
        b"MESSAGE\na\\cb:c\\nd\\\\e\rf\ncontent-length:0\n\n\0"
    );
    let f = Frame::new(C::Message).with_header("a\\b", "c:d\\n");
    assert_eq!(
        encode(&f, Version::V1_0),
        b"MESSAGE\na\\b:c:d\\n\ncontent-length:0\n\n\0"
    );
}

#[test]
fn connect_and_connected_are_never_escaped() {
    for version in Version::ALL {
        for command in [C::Connect, C::Stomp, C::Connected] {
            let f = Frame::new(command).with_header("passcode", "a\\b:c");
            let want = format!("{command}\npasscode:a\\b:c\n\n\0");
            assert_eq!(encode(&f, version), want.as_bytes());
        }
    }
}

#[test]
fn refuses_what_cannot_be_written() {
    let cases = [
        (Version::V1_0, C::Send, "k", "a\nb"),
        (Version::V1_0, C::Send, "k", "a\rb"),
        (Version::V1_0, C::Send, "k\n", "v"),
        (Version::V1_0, C::Send, "k:", "v"),
        (Version::V1_2, C::Connect, "k", "a\nb"),
        (Version::V1_2, C::Connected, "k", "a\r"),
        (Version::V1_1, C::Stomp, "k:", "v"),
        (Version::V1_1, C::Send, "k", "ends in cr\r"),
    ];
    for (version, command, name, value) in cases {
        let f = Frame::new(command).with_header(name, value);
        let mut out = b"kept".to_vec();
        let res = encode_frame(&f, version, &mut out);
        assert!(
            matches!(res, Err(Error::Invalid(_))),
            "{version} {command} {name:?}:{value:?} gave {res:?}"
        );
        assert_eq!(out, b"kept", "a refused frame leaves `out` as it was");
    }
}

#[test]
fn heartbeat_is_an_eol() {
    let mut out = Vec::new();
    encode_heartbeat(&mut out);
    assert_eq!(out, b"\n");
}

/// Frames that every version can write.
fn frames() -> Vec<Frame> {
    vec![
        Frame::new(C::Disconnect).with_header("receipt", "77"),
        Frame::new(C::Connect)
            .with_header("accept-version", "1.0,1.1,1.2")
            .with_header("host", "/")
            .with_header("passcode", "p\\w:d"),
        Frame::new(C::Send)
            .with_header("destination", "/queue/a")
            .with_header("content-type", "application/octet-stream")
            .with_body(&b"\0binary\0\n\r\n"[..]),
        Frame::new(C::Message)
            .with_header("destination", "/topic/caf\u{e9}")
            .with_header("foo", "1")
            .with_header("foo", "2")
            .with_header("empty", "")
            .with_body("x".repeat(1000)),
        Frame::new(C::Error).with_header("message", "bad: \\ thing"),
        Frame::new(C::Subscribe)
            .with_header("id", "0")
            .with_header("destination", "/q"),
    ]
}

/// Frames with characters that need escaping: 1.1 and 1.2 only (CR: 1.2 only).
fn escaped_frames(version: Version) -> Vec<Frame> {
    let mut v = vec![Frame::new(C::Message)
        .with_header("a:b", "line\none")
        .with_header("back\\slash", "\\n")];
    if version == Version::V1_2 {
        v.push(Frame::new(C::Send).with_header("cr", "a\r"));
    }
    v
}

/// The frame as decoded after encoding: content-length replaced by the real one, last.
fn as_decoded(f: &Frame) -> Item {
    let mut headers: Headers = f
        .headers()
        .iter()
        .filter(|(n, _)| *n != header::CONTENT_LENGTH)
        .collect();
    if !f.body().is_empty() || f.command().allows_body() {
        headers.push(header::CONTENT_LENGTH, &f.body().len().to_string());
    }
    Item::Frame(Frame::from_parts(f.command(), headers, f.body().to_vec()))
}

#[test]
fn round_trip_every_version() {
    for version in Version::ALL {
        let mut frames = frames();
        if version != Version::V1_0 {
            frames.extend(escaped_frames(version));
        }
        let mut wire = Vec::new();
        let mut items = Vec::new();
        for f in &frames {
            encode_frame(f, version, &mut wire).unwrap();
            encode_heartbeat(&mut wire);
            items.push(as_decoded(f));
            items.push(HB);
        }
        check(version, Limits::default(), &wire, &items, End::Idle);
    }
}

#[test]
fn re_encoding_a_decoded_frame_gives_the_same_bytes() {
    for version in Version::ALL {
        for f in frames() {
            let wire = encode(&f, version);
            let (items, _) = super::run(version, Limits::default(), [&wire[..]]);
            let [Item::Frame(decoded)] = &items[..] else {
                panic!("{items:?}")
            };
            assert_eq!(encode(decoded, version), wire);
        }
    }
}

#[test]
fn acks_1_2_are_written_as_encode_parts_writes_them() {
    use crate::codec::{encode_ack_1_2, encode_parts};
    let values = ["a-1", "", "x:y", "back\\slash", "new\nline", "cr\r", "ünï"];
    for command in [C::Ack, C::Nack] {
        for id in values {
            for tx in [None, Some("tx:1")] {
                let headers: Vec<(&str, &str)> = std::iter::once(("id", id))
                    .chain(tx.map(|t| ("transaction", t)))
                    .collect();
                let mut fast = b"before".to_vec();
                let tx = tx.map(str::as_bytes);
                let written = encode_ack_1_2(command, id.as_bytes(), tx, &mut fast);
                // It says where the id went, as written: the line after `id:`.
                let line = &fast[written.start - 3..written.end + 1];
                assert!(
                    line.starts_with(b"id:") && line.ends_with(b"\n"),
                    "{line:?}"
                );
                let fast = fast.split_off(6);
                let mut plain = Vec::new();
                encode_parts(
                    command,
                    headers.iter().copied(),
                    b"",
                    Version::V1_2,
                    &mut plain,
                )
                .unwrap();
                assert_eq!(fast, plain, "{command} {id:?} {tx:?}");
            }
        }
    }
}

#[test]
fn has_nul_finds_a_nul_anywhere_in_a_body_of_any_length() {
    use crate::codec::has_nul;
    for len in (0..200).chain([1023, 1024, 1025, 5000]) {
        let mut body = vec![b'x'; len];
        assert!(!has_nul(&body), "{len}");
        for at in 0..len {
            body[at] = 0;
            assert!(has_nul(&body), "{len} {at}");
            body[at] = 0x80;
            assert!(!has_nul(&body), "{len} {at}: not a NUL");
            body[at] = b'x';
        }
    }
}
