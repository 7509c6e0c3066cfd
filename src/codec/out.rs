//! [`OutBuf`]: encoded bytes waiting for the peer, for a client session and a broker
//! connection alike, with the end of each frame in them.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Write};

/// Bytes queued for the peer: frames are appended at the end and written from the front.
/// Written bytes are skipped, and moved out only once they are half the buffer: a socket that
/// takes a little at a time does not cost a copy of the rest per write.
///
/// Each [`OutBuf::push`] appends one frame (or heart-beat), and the buffer keeps where each
/// one ends: a transport that sends every write as a message of its own (WebSocket) is given
/// [`OutBuf::first_frame`] at a time, and nothing parses the bytes again to find it.
///
/// Keeping the ends costs a little per frame: a buffer whose bytes go to a stream
/// ([`OutBuf::set_frame_ends`] off) keeps none, and writes all it holds at once.
///
/// Offsets ([`OutBuf::mark`]) count from the start of the buffer; they stay valid until the
/// next write or [`OutBuf::consume`] moves the bytes.
#[derive(Debug)]
pub(crate) struct OutBuf {
    buf: Vec<u8>,
    /// `buf[..pos]` was written already.
    pos: usize,
    /// Where each frame not yet wholly written ends, in order: each after `pos`, the last at
    /// `buf.len()`. Empty when `keep_ends` is off.
    ends: VecDeque<usize>,
    keep_ends: bool,
}

impl Default for OutBuf {
    fn default() -> Self {
        OutBuf {
            buf: Vec::new(),
            pos: 0,
            ends: VecDeque::new(),
            keep_ends: true,
        }
    }
}

impl OutBuf {
    /// Whether the end of each frame is kept, for [`OutBuf::first_frame`] (on by default).
    /// Turned on over pending bytes, those go as one frame.
    pub(crate) fn set_frame_ends(&mut self, on: bool) {
        if on && !self.keep_ends && !self.is_empty() {
            self.ends.push_back(self.buf.len());
        }
        if !on {
            self.ends.clear();
        }
        self.keep_ends = on;
    }

    /// True when the end of each frame is kept.
    pub(crate) fn keeps_frame_ends(&self) -> bool {
        self.keep_ends
    }

    /// The bytes not yet written.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// The bytes not yet written, up to the end of the first frame (or heart-beat) in them
    /// (all of them when frame ends are not kept).
    pub(crate) fn first_frame(&self) -> &[u8] {
        let end = self.ends.front().copied().unwrap_or(self.buf.len());
        &self.buf[self.pos..end]
    }

    /// How many bytes are not yet written.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when everything was written.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends what `encode` writes: one frame, or one heart-beat. An encoder that fails must
    /// leave the buffer as it found it.
    pub(crate) fn push<R>(&mut self, encode: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        if !self.keep_ends {
            return encode(&mut self.buf);
        }
        let start = self.buf.len();
        let res = encode(&mut self.buf);
        if self.buf.len() > start {
            self.ends.push_back(self.buf.len());
        }
        res
    }

    /// Appends one frame made of `head`, `body` and the NUL that ends it.
    #[inline]
    pub(crate) fn push_frame(&mut self, head: &[u8], body: &[u8]) {
        let buf = &mut self.buf;
        buf.reserve(head.len() + body.len() + 1);
        buf.extend_from_slice(head);
        buf.extend_from_slice(body);
        buf.push(0);
        if self.keep_ends {
            self.ends.push_back(buf.len());
        }
    }

    /// Where the next frame will start.
    #[cfg(any(test, feature = "broker"))]
    pub(crate) fn mark(&self) -> usize {
        self.buf.len()
    }

    /// What was queued from `mark` (an [`OutBuf::mark`]) on.
    #[cfg(test)]
    pub(crate) fn since(&self, mark: usize) -> &[u8] {
        &self.buf[mark.max(self.pos)..]
    }

    /// Drops the first `n` bytes of [`OutBuf::pending`]: they were written.
    pub(crate) fn consume(&mut self, n: usize) {
        self.advance(n);
        self.compact();
    }

    /// Drops everything, written or not.
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.pos = 0;
        self.ends.clear();
    }

    /// Writes pending bytes to `w` until all are written or `w` would block; returns how many
    /// went (`WouldBlock` is not an error: the rest waits for the next call). With
    /// `frame_per_write` each write is one [`OutBuf::first_frame`], for a `w` that sends every
    /// write as a message of its own; otherwise it is all that is pending.
    ///
    /// # Errors
    /// What `w` returned, other than `WouldBlock` and `Interrupted`; `WriteZero` when it took
    /// nothing.
    pub(crate) fn write_to(
        &mut self,
        w: &mut dyn Write,
        frame_per_write: bool,
    ) -> io::Result<usize> {
        let mut total = 0;
        let res = loop {
            let bytes = if frame_per_write {
                self.first_frame()
            } else {
                self.pending()
            };
            if bytes.is_empty() {
                break Ok(total);
            }
            match w.write(bytes) {
                Ok(0) => break Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    total += n;
                    self.advance(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(total),
                Err(e) => break Err(e),
            }
        };
        self.compact();
        res
    }

    /// Moves the written position `n` bytes on (no further than the end).
    fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
        while self.ends.front().is_some_and(|&end| end <= self.pos) {
            self.ends.pop_front();
        }
    }

    /// Moves written bytes out: all of them when nothing else is left, else once they are
    /// half the buffer.
    fn compact(&mut self) {
        if self.pos == self.buf.len() {
            self.clear();
        } else if self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            for end in &mut self.ends {
                *end -= self.pos;
            }
            self.pos = 0;
        }
    }

    /// Appends what `encode` writes (one frame), then moves it back to `mark` (an
    /// [`OutBuf::mark`] taken earlier) when `mark` is not yet written: it then goes out before
    /// everything queued since `mark`, after everything queued before.
    #[cfg(feature = "broker")]
    pub(crate) fn insert_at<R>(
        &mut self,
        mark: usize,
        encode: impl FnOnce(&mut Vec<u8>) -> R,
    ) -> R {
        let at = self.buf.len();
        let res = self.push(encode);
        let len = self.buf.len() - at;
        if len > 0 && (self.pos..at).contains(&mark) {
            self.buf[mark..].rotate_right(len);
            if !self.keep_ends {
                return res;
            }
            // It ends at `mark + len` now, and each frame queued after `mark` `len` later.
            self.ends.pop_back();
            let i = self.ends.partition_point(|&end| end <= mark);
            for end in self.ends.range_mut(i..) {
                *end += len;
            }
            self.ends.insert(i, mark + len);
        }
        res
    }

    /// Drops what was queued from `mark` (an [`OutBuf::mark`]) on and is not yet written.
    #[cfg(feature = "broker")]
    pub(crate) fn truncate(&mut self, mark: usize) {
        let cut = mark.max(self.pos);
        self.buf.truncate(cut);
        while self.ends.back().is_some_and(|&end| end > cut) {
            self.ends.pop_back();
        }
        if self.keep_ends && cut > self.pos && self.ends.back() != Some(&cut) {
            // Cut inside a frame (a mark never is): what is left of it goes as one.
            self.ends.push_back(cut);
        }
    }

    /// Takes all pending bytes.
    #[cfg(test)]
    pub(crate) fn take(&mut self) -> Vec<u8> {
        let out = self.pending().to_vec();
        self.clear();
        out
    }
}
