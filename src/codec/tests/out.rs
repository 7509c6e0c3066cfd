//! The output buffer: what is queued goes out once, in order, however the writer splits it.

use std::io::{self, Write};

use crate::codec::{encode_frame, encode_heartbeat, OutBuf};
use crate::frame::{Command, Frame, Version};

/// A writer that takes at most `step` bytes a call and would block after `room` bytes.
struct Trickle {
    got: Vec<u8>,
    step: usize,
    room: usize,
}

impl Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.step).min(self.room);
        self.got.extend_from_slice(&buf[..n]);
        self.room -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer that sends each write as a message, and would block after `room` of them.
struct Messages {
    got: Vec<Vec<u8>>,
    room: usize,
}

impl Write for Messages {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.room -= 1;
        self.got.push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn messages(room: usize) -> Messages {
    Messages {
        got: Vec::new(),
        room,
    }
}

fn frame(out: &mut OutBuf, bytes: &[u8]) {
    out.push(|v| v.extend_from_slice(bytes));
}

#[test]
fn bytes_go_out_once_in_order_through_partial_writes() {
    let mut out = OutBuf::default();
    let mut want = Vec::new();
    for i in 0..50u8 {
        let f = vec![b'a' + i % 26; 1 + usize::from(i) * 3];
        frame(&mut out, &f);
        want.extend_from_slice(&f);
    }
    let mut w = Trickle {
        got: Vec::new(),
        step: 7,
        room: 100,
    };
    assert_eq!(
        out.write_to(&mut w, false).unwrap(),
        100,
        "stops when the writer would block"
    );
    assert_eq!(out.len(), want.len() - 100);
    frame(&mut out, b"tail");
    want.extend_from_slice(b"tail");
    w.room = usize::MAX;
    out.write_to(&mut w, false).unwrap();
    assert_eq!(w.got, want);
    assert!(out.is_empty());
}

#[test]
fn consumed_bytes_are_moved_out_once_they_are_half_the_buffer() {
    let mut out = OutBuf::default();
    frame(&mut out, b"0123456789");
    out.consume(4);
    assert_eq!(out.pending(), b"456789");
    assert_eq!(out.mark(), 10, "not moved yet: offsets hold");
    out.consume(1);
    assert_eq!(out.pending(), b"56789");
    assert_eq!(out.mark(), 5, "half written: moved to the front");
    out.consume(99);
    assert!(out.is_empty());
    assert_eq!(out.mark(), 0);
}

#[test]
fn a_writer_that_takes_nothing_is_an_error() {
    struct Zero;
    impl Write for Zero {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Ok(0)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut out = OutBuf::default();
    frame(&mut out, b"x");
    let err = out.write_to(&mut Zero, false).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WriteZero);
    assert_eq!(out.pending(), b"x");
}

#[test]
#[cfg(feature = "broker")]
fn marks_insert_before_later_frames_and_truncate_unwritten_ones() {
    let mut out = OutBuf::default();
    frame(&mut out, b"A");
    let mark = out.mark();
    frame(&mut out, b"BB");
    out.insert_at(mark, |v| v.extend_from_slice(b"R"));
    assert_eq!(out.pending(), b"ARBB");
    assert_eq!(out.since(mark), b"RBB");
    // A mark already written: the frame stays at the end.
    out.consume(1);
    out.insert_at(0, |v| v.extend_from_slice(b"S"));
    assert_eq!(out.pending(), b"RBBS");
    // Truncating drops what was queued since the mark.
    let mark = out.mark();
    frame(&mut out, b"CC");
    out.truncate(mark);
    assert_eq!(out.take(), b"RBBS");
    assert!(out.is_empty());
}

#[test]
fn frames_go_one_per_write_however_they_were_encoded() {
    let frames = [
        Frame::new(Command::Message)
            .with_header("x", "y")
            .with_body(&b"a\0b"[..]),
        Frame::new(Command::Receipt).with_header("receipt-id", "1"),
        Frame::new(Command::Send).with_body("no length needed"),
    ];
    let mut out = OutBuf::default();
    let mut want = Vec::new();
    for f in &frames {
        let start = out.mark();
        out.push(|v| encode_frame(f, Version::V1_2, v)).unwrap();
        want.push(out.since(start).to_vec());
        out.push(encode_heartbeat);
        want.push(b"\n".to_vec());
    }
    // A failed encoding adds nothing, not even an empty frame.
    let bad = Frame::new(Command::Connect).with_header("a\nb", "c");
    assert!(out.push(|v| encode_frame(&bad, Version::V1_2, v)).is_err());
    let mut w = messages(2);
    assert_eq!(out.write_to(&mut w, true).unwrap(), want[0].len() + 1);
    w.room = usize::MAX;
    out.write_to(&mut w, true).unwrap();
    assert_eq!(w.got, want);
    assert!(out.first_frame().is_empty());
}

#[test]
fn frame_ends_hold_through_partial_writes_and_compaction() {
    let mut out = OutBuf::default();
    frame(&mut out, b"0123456789");
    frame(&mut out, b"abc");
    out.consume(4);
    assert_eq!(
        out.first_frame(),
        b"456789",
        "the rest of a frame partly written"
    );
    out.consume(3); // more than half: moved to the front
    assert_eq!(out.first_frame(), b"789");
    out.consume(3);
    frame(&mut out, b"de");
    let mut w = messages(usize::MAX);
    out.write_to(&mut w, true).unwrap();
    assert_eq!(w.got, [&b"abc"[..], b"de"]);
}

#[test]
#[cfg(feature = "broker")]
fn an_inserted_or_truncated_frame_keeps_the_ends_right() {
    let mut out = OutBuf::default();
    frame(&mut out, b"A");
    let mark = out.mark();
    frame(&mut out, b"BB");
    frame(&mut out, b"CCC");
    out.insert_at(mark, |v| v.extend_from_slice(b"R"));
    let held = out.mark();
    frame(&mut out, b"DD");
    out.truncate(held);
    frame(&mut out, b"E");
    let mut w = messages(usize::MAX);
    out.write_to(&mut w, true).unwrap();
    assert_eq!(w.got, [&b"A"[..], b"R", b"BB", b"CCC", b"E"]);
}
