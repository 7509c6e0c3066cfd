//! [`OutBuf`]: encoded bytes waiting for the peer, for a client session and a broker
//! connection alike.

use std::io::{self, ErrorKind, Write};

/// Bytes queued for the peer: frames are appended at the end and written from the front.
/// Written bytes are skipped, and moved out only once they are half the buffer: a socket that
/// takes a little at a time does not cost a copy of the rest per write.
///
/// Offsets ([`OutBuf::mark`]) count from the start of the buffer; they stay valid until the
/// next write or [`OutBuf::consume`] moves the bytes.
#[derive(Debug, Default)]
pub(crate) struct OutBuf {
    buf: Vec<u8>,
    /// `buf[..pos]` was written already.
    pos: usize,
}

impl OutBuf {
    /// The bytes not yet written.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// How many bytes are not yet written.
    pub(crate) fn len(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when everything was written.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends what `encode` writes (a frame or a heart-beat): an encoder that fails must
    /// leave the buffer as it found it.
    pub(crate) fn push<R>(&mut self, encode: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        encode(&mut self.buf)
    }

    /// Where the next frame will start.
    pub(crate) fn mark(&self) -> usize {
        self.buf.len()
    }

    /// What was queued from `mark` (an [`OutBuf::mark`]) on.
    pub(crate) fn since(&self, mark: usize) -> &[u8] {
        &self.buf[mark.max(self.pos)..]
    }

    /// Drops the first `n` bytes of [`OutBuf::pending`]: they were written.
    pub(crate) fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    /// Drops everything, written or not.
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.pos = 0;
    }

    /// Writes pending bytes to `w` until all are written or `w` would block; returns how many
    /// went (`WouldBlock` is not an error: the rest waits for the next call).
    ///
    /// # Errors
    /// What `w` returned, other than `WouldBlock` and `Interrupted`; `WriteZero` when it took
    /// nothing.
    pub(crate) fn write_to(&mut self, w: &mut dyn Write) -> io::Result<usize> {
        let mut total = 0;
        let res = loop {
            if self.pos + total == self.buf.len() {
                break Ok(total);
            }
            match w.write(&self.buf[self.pos + total..]) {
                Ok(0) => break Err(ErrorKind::WriteZero.into()),
                Ok(n) => total += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(total),
                Err(e) => break Err(e),
            }
        };
        self.consume(total);
        res
    }

    /// Appends what `encode` writes, then moves it back to `mark` (an [`OutBuf::mark`] taken
    /// earlier, where a frame started) when `mark` is not yet written: it then goes out before
    /// everything queued since `mark`, after everything queued before.
    #[cfg(feature = "broker")]
    pub(crate) fn insert_at<R>(
        &mut self,
        mark: usize,
        encode: impl FnOnce(&mut Vec<u8>) -> R,
    ) -> R {
        let at = self.buf.len();
        let res = encode(&mut self.buf);
        if (self.pos..at).contains(&mark) {
            let len = self.buf.len() - at;
            self.buf[mark..].rotate_right(len);
        }
        res
    }

    /// Drops what was queued from `mark` (an [`OutBuf::mark`]) on and is not yet written.
    #[cfg(feature = "broker")]
    pub(crate) fn truncate(&mut self, mark: usize) {
        self.buf.truncate(mark.max(self.pos));
    }

    /// Takes all pending bytes.
    #[cfg(test)]
    pub(crate) fn take(&mut self) -> Vec<u8> {
        let out = self.pending().to_vec();
        self.clear();
        out
    }
}
