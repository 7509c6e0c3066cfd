//! The output buffer: what is queued goes out once, in order, however the writer splits it.

use std::io::{self, Write};

use crate::codec::OutBuf;

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
        out.write_to(&mut w).unwrap(),
        100,
        "stops when the writer would block"
    );
    assert_eq!(out.len(), want.len() - 100);
    frame(&mut out, b"tail");
    want.extend_from_slice(b"tail");
    w.room = usize::MAX;
    out.write_to(&mut w).unwrap();
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
    let err = out.write_to(&mut Zero).unwrap_err();
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
