//! Arbitrary bytes in arbitrary chunkings: the decoder never panics, gives the same items and
//! error whatever the chunking, lent (`decode_ref`) or made (`decode`), and every frame it
//! decodes survives encode → decode (same version) unchanged, except that the encoder writes
//! the real `content-length`. Looking a header up finds what walking them in order finds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stompy::codec::{encode_frame, Decoder, Item};
use stompy::{header, Frame, Headers, Limits, Version};

mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, stream)) = data.split_first() else {
        return;
    };
    let (version, seed) = common::control(ctl);
    let whole = common::run(version, Limits::default(), [stream], |_, _| {});
    let split = common::run(
        version,
        Limits::default(),
        common::chunks(stream, seed),
        |_, _| {},
    );
    assert_eq!(whole, split, "chunking changed the result");
    let lent = common::run_lent(version, Limits::default(), common::chunks(stream, seed));
    assert_eq!(whole, lent, "lending changed the result");
    for item in &whole.items {
        if let Item::Frame(f) = item {
            round_trip(f, version);
            lookups(f);
        }
    }
});

/// `get` finds the first value walking the headers finds, for every name there and its pieces.
fn lookups(f: &Frame) {
    let all: Vec<(&str, &str)> = f.headers().iter().collect();
    for (name, _) in &all {
        let first = all.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        assert_eq!(f.get(name), first, "{name:?} in {all:?}");
        for (k, _) in name.char_indices().skip(1) {
            for piece in [&name[..k], &name[k..]] {
                let first = all.iter().find(|(n, _)| *n == piece).map(|(_, v)| *v);
                assert_eq!(f.get(piece), first, "{piece:?} in {all:?}");
            }
        }
    }
}

fn round_trip(f: &Frame, version: Version) {
    let mut out = Vec::new();
    if encode_frame(f, version, &mut out).is_err() {
        assert!(unwritable(f, version), "encoder refused {f:?} in {version}");
        return;
    }
    let mut d = Decoder::new(version, Limits::default());
    d.feed(&out);
    let again = d.decode().expect("re-decoding an encoded frame");
    assert_eq!(again, Some(Item::Frame(normalized(f))), "bytes: {out:?}");
    assert_eq!(d.decode(), Ok(None));
    assert!(d.is_idle() && d.buffered() == 0);
}

/// The frame as the encoder writes it: every `content-length` replaced by the real one.
fn normalized(f: &Frame) -> Frame {
    let mut headers: Headers = f
        .headers()
        .iter()
        .filter(|(n, _)| *n != header::CONTENT_LENGTH)
        .collect();
    if !f.body().is_empty() || f.command().allows_body() {
        headers.push(header::CONTENT_LENGTH, &f.body().len().to_string());
    }
    Frame::from_parts(f.command(), headers, f.body().to_vec())
}

/// True when a header cannot be written in `version`: a line break where there is no escaping
/// (1.0, CONNECT, STOMP, CONNECTED), or a value ending in CR in 1.1, which has no `\r` escape
/// and whose reader would take the CR for part of the EOL.
fn unwritable(f: &Frame, version: Version) -> bool {
    let plain = version == Version::V1_0 || f.command().is_unescaped();
    f.headers()
        .iter()
        .filter(|(n, _)| *n != header::CONTENT_LENGTH)
        .any(|(n, v)| {
            if plain {
                n.contains(['\n', '\r', ':']) || v.contains(['\n', '\r'])
            } else {
                version == Version::V1_1 && v.ends_with('\r')
            }
        })
}
