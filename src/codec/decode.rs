//! The incremental decoder: bytes in, [`Item`]s out.

use std::io::{self, Read};

use super::head::{line_too_long, next_line, Head, WholeHead, NO_COLON};
use super::Limits;
use crate::error::ProtocolError;
use crate::frame::{Command, Frame, Headers, Version};

/// What the decoder found in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A complete frame.
    Frame(Frame),
    /// An EOL between frames: a heart-beat (brokers also send one after each frame's NUL).
    HeartBeat,
}

#[derive(Debug)]
enum State {
    /// Between frames.
    Idle,
    /// Reading the command line.
    Command,
    /// Reading header lines.
    Head(Head),
    /// Reading a body whose length `content-length` gave; `body` fills up to `len`.
    Sized {
        command: Command,
        headers: Headers,
        body: Vec<u8>,
        len: usize,
    },
    /// Reading a body that ends at the first NUL; `scanned` bytes of it hold no NUL.
    Unsized {
        command: Command,
        headers: Headers,
        scanned: usize,
    },
}

/// What one step of the decoder gave.
enum Step {
    Item(Item),
    NeedMore,
    Continue,
}

/// An incremental STOMP decoder, fed any split of the input (one byte at a time works).
///
/// It never allocates more than [`Limits`] allow: a line longer than `max_header_line`, more
/// than `max_headers` headers or a body larger than `max_body` is a [`ProtocolError`] as soon as
/// it is seen. After an error the decoder's state is undefined: drop the connection.
#[derive(Debug)]
pub struct Decoder {
    /// Input lives in `buf[pos..end]`; `buf[end..]` is spare room for the next read, kept
    /// (zeroed once) so that reading does not clear 64 KiB each time.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// The last [`Decoder::read_from`] got data but less than it had room for.
    short_read: bool,
    state: State,
    version: Version,
    limits: Limits,
    /// Header lines and bytes of the last frame's head.
    last_head: (usize, usize),
    /// `buf[pos..no_backslash_until]` holds no backslash.
    no_backslash_until: usize,
    /// The lines of the last head parsed in one pass (kept for their room).
    whole: WholeHead,
    /// The room the next read offers (grows while reads fill it).
    chunk: usize,
}

const READ_CHUNK: usize = 64 * 1024;

/// The room a new decoder's first read offers: an idle connection (a broker may hold
/// thousands) costs this much, and reads that fill their room double it up to `READ_CHUNK`.
const FIRST_READ_CHUNK: usize = 4 * 1024;

/// What a sized body reserves before its bytes arrive.
const UNTRUSTED_RESERVE: usize = 64 * 1024;

/// Makes room for `incoming` more bytes of a body of `len`: once the body outgrows its first
/// reservation, the rest of the declared length is reserved at once (one move, no doubling).
fn grow_body(body: &mut Vec<u8>, len: usize, incoming: usize) {
    if body.len() + incoming > body.capacity() {
        body.reserve_exact(len - body.len());
    }
}

impl Decoder {
    /// A decoder that unescapes headers as `version` defines (CONNECT, STOMP and CONNECTED are
    /// never unescaped). Change it with [`Decoder::set_version`] once negotiated.
    pub fn new(version: Version, limits: Limits) -> Self {
        Decoder {
            buf: Vec::new(),
            pos: 0,
            end: 0,
            short_read: false,
            state: State::Idle,
            version,
            limits,
            last_head: (0, 0),
            no_backslash_until: 0,
            whole: WholeHead::default(),
            chunk: FIRST_READ_CHUNK,
        }
    }

    /// Sets the protocol version used to unescape headers from now on.
    pub fn set_version(&mut self, version: Version) {
        self.version = version;
    }

    /// The version used to unescape headers.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Appends bytes received from the peer.
    pub fn feed(&mut self, bytes: &[u8]) {
        if let State::Sized { body, len, .. } = &mut self.state {
            if self.pos == self.end {
                // Large bodies go straight to their final home: no second copy.
                let take = bytes.len().min(*len - body.len());
                grow_body(body, *len, take);
                body.extend_from_slice(&bytes[..take]);
                self.append(&bytes[take..]);
                return;
            }
        }
        self.compact();
        self.append(bytes);
    }

    fn append(&mut self, bytes: &[u8]) {
        self.buf.truncate(self.end);
        self.buf.extend_from_slice(bytes);
        self.end = self.buf.len();
    }

    /// Reads once from `r` straight into the decoder's buffer. Returns what `read` returned:
    /// `Ok(0)` means the peer closed.
    pub fn read_from<R: Read + ?Sized>(&mut self, r: &mut R) -> io::Result<usize> {
        self.compact();
        if self.buf.len() < self.end + self.chunk {
            self.buf.resize(self.end + self.chunk, 0);
        }
        let room = self.buf.len() - self.end;
        let res = r.read(&mut self.buf[self.end..]);
        let n = *res.as_ref().unwrap_or(&0);
        self.end += n;
        self.short_read = n > 0 && n < room;
        if n == room {
            self.chunk = (self.chunk * 2).min(READ_CHUNK); // a busy peer: read more at once
        }
        res
    }

    /// True when the last [`Decoder::read_from`] returned data but filled less than the room it
    /// offered: on a plain socket, that read emptied the receive queue.
    pub(crate) fn last_read_was_short(&self) -> bool {
        self.short_read
    }

    /// Bytes received but not yet returned as items (0 between frames with nothing pending).
    pub fn buffered(&self) -> usize {
        let body = match &self.state {
            State::Sized { body, .. } => body.len(),
            _ => 0,
        };
        self.end - self.pos + body
    }

    /// Bytes of memory the decoder holds (its buffer and any partial body), for checking
    /// that a peer cannot make it reserve more than it sent.
    #[cfg(test)]
    pub(crate) fn reserved(&self) -> usize {
        let body = match &self.state {
            State::Sized { body, .. } => body.capacity(),
            _ => 0,
        };
        self.buf.capacity() + body
    }

    /// True when the decoder is between frames (a close now loses nothing).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    fn compact(&mut self) {
        if self.pos == self.end {
            self.no_backslash_until = 0;
            self.pos = 0;
            self.end = 0;
        } else if self.pos > 0 && self.pos >= self.end / 2 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.no_backslash_until = self.no_backslash_until.saturating_sub(self.pos);
            self.end -= self.pos;
            self.pos = 0;
        }
    }

    /// Returns the next item, or `Ok(None)` when more bytes are needed.
    ///
    /// # Errors
    /// A [`ProtocolError`] when the input is not valid STOMP or breaks a limit. The error is
    /// final: the stream cannot be resynchronised.
    pub fn decode(&mut self) -> Result<Option<Item>, ProtocolError> {
        loop {
            let step = match self.state {
                State::Idle => self.between_frames(),
                State::Command => self.command_line()?,
                State::Head(_) => self.header_line()?,
                State::Sized { .. } => self.sized_body()?,
                State::Unsized { .. } => self.unsized_body()?,
            };
            match step {
                Step::Item(item) => return Ok(Some(item)),
                Step::NeedMore => return Ok(None),
                Step::Continue => {}
            }
        }
    }

    /// Between frames: an EOL is a heart-beat, anything else starts a command line.
    fn between_frames(&mut self) -> Step {
        let rest = &self.buf[self.pos..self.end];
        let eol = match (rest.first(), rest.get(1)) {
            (None, _) | (Some(b'\r'), None) => return Step::NeedMore,
            (Some(b'\n'), _) => 1,
            (Some(b'\r'), Some(b'\n')) => 2,
            // Anything else, a stray CR included, starts a command line.
            _ => {
                self.state = State::Command;
                return Step::Continue;
            }
        };
        self.pos += eol;
        Step::Item(Item::HeartBeat)
    }

    fn command_line(&mut self) -> Result<Step, ProtocolError> {
        let rest = &self.buf[self.pos..self.end];
        let Some((len, consumed)) = next_line(rest, self.limits.max_header_line)? else {
            return Ok(Step::NeedMore);
        };
        let line = &rest[..len];
        let command = Command::from_bytes(line).ok_or_else(|| {
            ProtocolError::UnknownCommand(String::from_utf8_lossy(line).into_owned())
        })?;
        self.pos += consumed;
        let escapes = !command.is_unescaped() && self.version != Version::V1_0;
        let trims = !command.is_unescaped() && self.version == Version::V1_0;
        let head = |headers| Head {
            command,
            headers,
            content_length: None,
            escapes,
            trims,
        };
        // Tried once per frame, when its command line is complete: a head that has not ended
        // yet is scanned once here, then read line by line as it arrives.
        let mut whole = std::mem::take(&mut self.whole);
        whole.reset();
        let step = whole
            .split(&self.buf[self.pos..self.end])
            .then(|| self.whole_head(head(Headers::new()), &whole));
        self.whole = whole;
        if let Some(step) = step {
            return step;
        }
        // Consecutive frames tend to look alike: room for as many headers as the last one had
        // makes one allocation where growing would make several.
        let (lines, bytes) = self.last_head;
        self.state = State::Head(head(Headers::with_capacity(lines, bytes)));
        Ok(Step::Continue)
    }

    /// Parses a head wholly buffered at `pos` in one pass: one UTF-8 check and one backslash
    /// scan for all of its lines. A head that is not UTF-8 is read line by line instead, so
    /// that errors come in the order of its lines.
    fn whole_head(&mut self, mut head: Head, whole: &WholeHead) -> Result<Step, ProtocolError> {
        let bytes = &self.buf[self.pos..self.pos + whole.consumed];
        let Ok(text) = std::str::from_utf8(bytes) else {
            let (lines, bytes) = self.last_head;
            head.headers = Headers::with_capacity(lines, bytes);
            self.state = State::Head(head);
            return Ok(Step::Continue);
        };
        // One copy of the whole head: headers without escapes are spans of it.
        head.headers = Headers::from_raw(text, whole.lines().len());
        let backslash = head.escapes && whole.backslash;
        let Limits {
            max_header_line,
            max_headers,
            ..
        } = self.limits;
        // Without escapes or padding, each header is two spans of the copied head.
        let plain = !backslash && !head.trims;
        for &(start, len, colon) in whole.lines() {
            if len > max_header_line {
                return Err(line_too_long(max_header_line));
            }
            head.check_count(max_headers)?;
            if plain && colon != NO_COLON {
                head.push_span(text, start, colon, len);
                continue;
            }
            let line = &text[start..start + len];
            let unescape = backslash && memchr::memchr(b'\\', line.as_bytes()).is_some();
            head.push_text(line, Some(start), Some(colon), unescape, self.version)?;
        }
        self.pos += whole.consumed;
        if let Some(frame) = self.whole_frame(&mut head)? {
            return Ok(Step::Item(Item::Frame(frame)));
        }
        self.end_head(head)?;
        Ok(Step::Continue)
    }

    /// The frame of `head` when its sized body and NUL are buffered already: built at once,
    /// with no trip through the body states. `None` leaves `head` to [`Decoder::end_head`].
    fn whole_frame(&mut self, head: &mut Head) -> Result<Option<Frame>, ProtocolError> {
        let len = match head.content_length {
            Some(Ok(len)) if len <= self.limits.max_body as u64 => len as usize,
            _ => return Ok(None),
        };
        let rest = &self.buf[self.pos..self.end];
        if rest.len() <= len {
            return Ok(None);
        }
        if rest[len] != 0 {
            return Err(ProtocolError::MissingNul);
        }
        let body = rest[..len].to_vec();
        self.pos += len + 1;
        self.state = State::Idle;
        self.last_head = (head.headers.len(), head.headers.byte_len());
        let headers = std::mem::take(&mut head.headers);
        Ok(Some(Frame::from_parts(head.command, headers, body)))
    }

    /// After the blank line: remembers the head's size and moves on to its body.
    fn end_head(&mut self, head: Head) -> Result<(), ProtocolError> {
        self.last_head = (head.headers.len(), head.headers.byte_len());
        self.state = body_state(head, self.limits.max_body)?;
        Ok(())
    }

    fn header_line(&mut self) -> Result<Step, ProtocolError> {
        let rest = &self.buf[self.pos..self.end];
        let Some((len, consumed)) = next_line(rest, self.limits.max_header_line)? else {
            return Ok(Step::NeedMore);
        };
        let (start, end) = (self.pos, self.pos + len);
        let escapes = matches!(&self.state, State::Head(h) if h.escapes);
        let unescape = escapes && self.has_backslash(start, end);
        self.pos += consumed;
        let State::Head(head) = &mut self.state else {
            unreachable!()
        };
        if len > 0 {
            let line = &self.buf[start..end];
            head.push_line(line, unescape, self.version, self.limits.max_headers)?;
            return Ok(Step::Continue);
        }
        // Blank line: the head is complete.
        let State::Head(head) = std::mem::replace(&mut self.state, State::Idle) else {
            unreachable!()
        };
        self.end_head(head)?;
        Ok(Step::Continue)
    }

    /// True when `buf[start..end]` holds a backslash, `start` being `pos`. Each buffered byte is
    /// scanned about once, rather than once per header line.
    fn has_backslash(&mut self, start: usize, end: usize) -> bool {
        if end <= self.no_backslash_until {
            return false;
        }
        let from = start.max(self.no_backslash_until);
        match memchr::memchr(b'\\', &self.buf[from..self.end]) {
            Some(i) => {
                self.no_backslash_until = from + i;
                from + i < end
            }
            None => {
                self.no_backslash_until = self.end;
                false
            }
        }
    }

    fn sized_body(&mut self) -> Result<Step, ProtocolError> {
        let State::Sized { body, len, .. } = &mut self.state else {
            unreachable!()
        };
        let want = *len - body.len();
        let rest = &self.buf[self.pos..self.end];
        if rest.len() <= want {
            grow_body(body, *len, rest.len());
            body.extend_from_slice(rest);
            self.pos = self.end;
            return Ok(Step::NeedMore);
        }
        grow_body(body, *len, want);
        body.extend_from_slice(&rest[..want]);
        if rest[want] != 0 {
            return Err(ProtocolError::MissingNul);
        }
        self.pos += want + 1;
        let State::Sized {
            command,
            headers,
            body,
            ..
        } = std::mem::replace(&mut self.state, State::Idle)
        else {
            unreachable!()
        };
        Ok(Step::Item(Item::Frame(Frame::from_parts(
            command, headers, body,
        ))))
    }

    fn unsized_body(&mut self) -> Result<Step, ProtocolError> {
        let State::Unsized { scanned, .. } = &mut self.state else {
            unreachable!()
        };
        let rest = &self.buf[self.pos..self.end];
        // Look no further than one byte past the limit, so that the outcome does not depend on
        // how much arrived at once.
        let max = self.limits.max_body;
        let window = &rest[..rest.len().min(max.saturating_add(1))];
        let Some(i) = memchr::memchr(0, &window[*scanned..]).map(|i| i + *scanned) else {
            if window.len() > max {
                return Err(ProtocolError::BodyTooLarge {
                    size: window.len() as u64,
                    max,
                });
            }
            *scanned = window.len();
            return Ok(Step::NeedMore);
        };
        let body = rest[..i].to_vec();
        self.pos += i + 1;
        let State::Unsized {
            command, headers, ..
        } = std::mem::replace(&mut self.state, State::Idle)
        else {
            unreachable!()
        };
        Ok(Step::Item(Item::Frame(Frame::from_parts(
            command, headers, body,
        ))))
    }
}

/// What to read after the blank line that ends the head.
fn body_state(head: Head, max_body: usize) -> Result<State, ProtocolError> {
    let Head {
        command,
        headers,
        content_length,
        ..
    } = head;
    let Some(len) = content_length.transpose()? else {
        return Ok(State::Unsized {
            command,
            headers,
            scanned: 0,
        });
    };
    if len > max_body as u64 {
        return Err(ProtocolError::BodyTooLarge {
            size: len,
            max: max_body,
        });
    }
    let len = len as usize;
    Ok(State::Sized {
        command,
        headers,
        // Trust the declared length only once the body really comes: a peer that announces
        // a large body and sends nothing costs little.
        body: Vec::with_capacity(len.min(UNTRUSTED_RESERVE)),
        len,
    })
}
