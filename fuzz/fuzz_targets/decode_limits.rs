//! Tiny limits, arbitrary bytes and chunkings: the decoder never holds more than the limits
//! allow, and every frame it returns is within them.
//!
//! Input: three bytes that pick the limits, a control byte (version and chunking, as in
//! `decode`), then the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stompy::codec::Item;
use stompy::Limits;

mod common;

fuzz_target!(|data: &[u8]| {
    let [a, b, c, ctl, stream @ ..] = data else {
        return;
    };
    let limits = Limits::default()
        .max_header_line(1 + usize::from(*a % 64))
        .max_headers(1 + usize::from(*b % 8))
        .max_body(usize::from(*c % 128));
    let (version, seed) = common::control(*ctl);
    // Between feeds the decoder holds at most the frame being read: its command line and
    // header lines (each within the line limit, as many as the header limit, with their EOLs,
    // and one more line not yet ended, which will be refused), the blank line, and its body
    // so far.
    let line = limits.max_header_line + 2;
    let bound = (limits.max_headers + 2) * line + 2 + limits.max_body + 1;
    let run = common::run(version, limits, common::chunks(stream, seed), |d, fed| {
        assert!(
            d.buffered() <= bound + fed,
            "{} bytes buffered, bound {bound} + {fed} just fed",
            d.buffered()
        );
    });
    let whole = common::run(version, limits, [stream], |_, _| {});
    assert_eq!(run, whole, "chunking changed the result");
    for item in &run.items {
        let Item::Frame(f) = item else { continue };
        assert!(f.headers().len() <= limits.max_headers);
        assert!(f.body().len() <= limits.max_body);
        for (n, v) in f.headers().iter() {
            // Unescaping only shrinks a line.
            assert!(n.len() + 1 + v.len() <= limits.max_header_line);
        }
    }
});
