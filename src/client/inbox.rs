//! What arrives while the application waits for something else: frames kept in order for the
//! next `recv`, and RECEIPTs kept for a later receipt wait.

use std::collections::VecDeque;

use crate::error::{Error, ProtocolError};
use crate::frame::Frame;
use crate::session::ReceiptSet;

/// Bytes a held frame accounts for.
fn held_size(f: &Frame) -> usize {
    f.body().len() + f.headers().byte_len() + 64
}

/// See the [module docs](self).
#[derive(Debug)]
pub(super) struct Inbox {
    frames: VecDeque<Frame>,
    bytes: usize,
    /// Past this many bytes, holding another frame is a [`ProtocolError::Backlog`].
    max_bytes: usize,
    /// RECEIPTs that arrived and nobody has waited for yet.
    receipts: ReceiptSet,
}

impl Inbox {
    pub(super) fn new(max_bytes: usize, max_receipts: usize) -> Self {
        Inbox {
            frames: VecDeque::new(),
            bytes: 0,
            max_bytes,
            receipts: ReceiptSet::new(max_receipts),
        }
    }

    /// Keeps a frame for `recv`, even past the bound.
    ///
    /// # Errors
    /// [`ProtocolError::Backlog`] when the frames held now exceed the bound: the application
    /// must receive them before waiting longer. The frame is kept.
    pub(super) fn push(&mut self, f: Frame) -> Result<(), Error> {
        self.bytes += held_size(&f);
        self.frames.push_back(f);
        if self.bytes > self.max_bytes {
            let (bytes, max) = (self.bytes, self.max_bytes);
            return Err(ProtocolError::Backlog { bytes, max }.into());
        }
        Ok(())
    }

    /// The oldest frame held.
    #[inline]
    pub(super) fn pop(&mut self) -> Option<Frame> {
        match self.frames.is_empty() {
            true => None,
            false => self.pop_held(),
        }
    }

    #[inline(never)]
    fn pop_held(&mut self) -> Option<Frame> {
        let f = self.frames.pop_front()?;
        self.bytes -= held_size(&f);
        Some(f)
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Keeps only the frames for which `keep` holds.
    pub(super) fn retain(&mut self, keep: impl Fn(&Frame) -> bool) {
        self.frames.retain(keep);
        self.bytes = self.frames.iter().map(held_size).sum();
    }

    /// Remembers that the RECEIPT for `id` arrived.
    pub(super) fn add_receipt(&mut self, id: &str) {
        self.receipts.insert(id);
    }

    /// True (once) when the RECEIPT for `id` arrived.
    pub(super) fn take_receipt(&mut self, id: &str) -> bool {
        self.receipts.remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Command;

    fn msg(body: &str) -> Frame {
        Frame::new(Command::Message).with_body(body)
    }

    #[test]
    fn frames_come_back_in_order_and_the_bytes_add_up() {
        let mut inbox = Inbox::new(1 << 20, 16);
        for b in ["a", "b", "c"] {
            inbox.push(msg(b)).unwrap();
        }
        inbox.retain(|f| f.body() != b"b");
        let got: Vec<_> = std::iter::from_fn(|| inbox.pop()).collect();
        assert_eq!(got, [msg("a"), msg("c")]);
        assert!(inbox.is_empty() && inbox.bytes == 0);
    }

    #[test]
    fn past_the_bound_a_frame_is_kept_and_the_wait_is_told() {
        let mut inbox = Inbox::new(100, 16);
        inbox.push(msg("small")).unwrap();
        let err = inbox.push(msg(&"x".repeat(100))).unwrap_err();
        assert!(matches!(
            err,
            Error::Protocol(ProtocolError::Backlog { max: 100, .. })
        ));
        assert_eq!(std::iter::from_fn(|| inbox.pop()).count(), 2);
    }

    #[test]
    fn a_receipt_is_taken_once() {
        let mut inbox = Inbox::new(100, 16);
        inbox.add_receipt("r1");
        assert!(inbox.take_receipt("r1") && !inbox.take_receipt("r1"));
        assert!(!inbox.take_receipt("r2"));
    }
}
