//! The incremental decoder: bytes in, [`Item`]s out.
//!
//! Received bytes go into one buffer, and a complete frame is split off it without a copy: the
//! frame's headers and body are views of that buffer ([`Frame`] says what keeping one holds).
//! A frame whose head is wholly buffered is split in one pass; one that arrives in pieces is read
//! line by line. Both give the same frames and the same errors, whatever the chunking.

use std::fmt;
use std::io::{self, Read};

use bytes::{Buf, Bytes, BytesMut};

use super::head::{next_line, Head};
use super::swar::bytes_equal_to;
use super::Limits;
use crate::error::ProtocolError;
use crate::frame::{Command, Frame, FrameRef, Headers, HeadersRef, Index, Version, INDEX_BLOCK};

/// What the decoder found in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A complete frame.
    Frame(Frame),
    /// An EOL between frames: a heart-beat (brokers also send one after each frame's NUL).
    HeartBeat,
}

/// What [`Decoder::decode_ref`] found in the input: a frame borrowed from the decoder's
/// buffer, or a heart-beat.
#[derive(Debug, Clone, Copy)]
pub enum ItemRef<'a> {
    /// A complete frame, valid until the next call on the decoder.
    Frame(FrameRef<'a>),
    /// An EOL between frames: a heart-beat.
    HeartBeat,
}

/// Where the frame the decoder found last lies in its buffer, until the next call that reads
/// or decodes: what [`Decoder::take`] copies out and [`Decoder::view`] lends. The decoder keeps
/// it, so that what is handed up through the layers is a command, not five positions.
#[derive(Debug, Clone, Copy)]
struct Located {
    command: Command,
    /// Where the frame starts in the buffer; the rest is relative to it.
    at: usize,
    /// Where the header lines start (after the command line).
    from: usize,
    body: usize,
    body_end: usize,
    /// Where the first `subscription`'s value is, if the head was indexed in one pass (which
    /// looks for it on the way).
    subscription: FoundSpan,
}

/// Where a header's value is that [`Head::index_plain`] looked up on the way, in one word: its
/// start and end, or that there is no such header, or that it was not looked up. One word,
/// written and read whole: a record written as two halves and read as one word (as an
/// `Option<Option<(u32, u32)>>` is) waits for both stores to land, on every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FoundSpan(u64);

impl FoundSpan {
    /// Not looked up.
    const UNKNOWN: FoundSpan = FoundSpan(u64::MAX);
    /// Looked up, and there is none.
    const ABSENT: FoundSpan = FoundSpan(u64::MAX - 1);

    /// The value at `start..end`, or none.
    #[inline]
    fn of(span: Option<(u32, u32)>) -> Self {
        span.map_or(Self::ABSENT, |(start, end)| {
            FoundSpan(u64::from(start) | (u64::from(end) << 32))
        })
    }

    /// `None` when not looked up; `Some(None)` when there is none.
    #[inline]
    fn get(self) -> Option<Option<(usize, usize)>> {
        match self {
            Self::UNKNOWN => None,
            Self::ABSENT => Some(None),
            FoundSpan(w) => Some(Some(((w as u32) as usize, (w >> 32) as usize))),
        }
    }
}

/// What the decoder found: a heart-beat, or a frame with this command (which
/// [`Decoder::view`] lends and [`Decoder::take`] makes).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Found {
    Frame(Command),
    HeartBeat,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Between frames.
    Idle,
    /// Reading the command line.
    Command,
    /// Reading header lines one by one; the next starts at `pos`.
    Lines,
    /// The head ends at `body`, where the body starts: `len` bytes when `content-length` gave
    /// it, else up to the first NUL (`scanned` bytes of it hold none). `checked`: the head is
    /// known to be UTF-8.
    Body {
        body: usize,
        len: Option<usize>,
        scanned: usize,
        checked: bool,
    },
}

/// The line at the start of `data` when its LF is within its first 16 bytes, as
/// [`next_line`] gives it: a command line, found without a call to a search.
#[inline]
fn short_line(data: &[u8]) -> Option<(usize, usize)> {
    for at in [0, 8] {
        let word = data.get(at..at + 8)?;
        let newlines = bytes_equal_to(u64::from_le_bytes(word.try_into().ok()?), b'\n');
        if newlines != 0 {
            let nl = at + newlines.trailing_zeros() as usize / 8;
            let len = match nl > 0 && data[nl - 1] == b'\r' {
                true => nl - 1,
                false => nl,
            };
            return Some((len, nl + 1));
        }
    }
    None
}

/// What one step of the decoder gave.
enum Step {
    Item(Found),
    NeedMore,
    Continue,
}

/// An incremental STOMP decoder, fed any split of the input (one byte at a time works).
///
/// It never allocates more than [`Limits`] allow: a line longer than `max_header_line`, more
/// than `max_headers` headers or a body larger than `max_body` is a [`ProtocolError`] as soon as
/// it is seen. After an error the decoder's state is undefined: drop the connection.
pub struct Decoder {
    /// Input lives in `buf[start..end]`, the frame being read starting at `start` (positions
    /// below are relative to it); `buf[end..]` is room for the next read, zeroed once and kept so
    /// that reading does not clear it each time.
    buf: BytesMut,
    start: usize,
    end: usize,
    /// Where the next header line starts, in [`State::Lines`].
    pos: usize,
    /// The last [`Decoder::read_from`] got data but less than it had room for.
    short_read: bool,
    state: State,
    head: Head,
    /// The frame found last.
    found: Located,
    version: Version,
    limits: Limits,
    /// The room the next read offers (grows while reads fill it).
    chunk: usize,
    /// The most room a read offers.
    read_max: usize,
    /// The size of the allocation `buf` lives in: a body left there keeps all of it.
    buf_alloc: usize,
}

/// What the decoder shows of itself: never the bytes (a CONNECT frame holds a passcode).
impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("version", &self.version)
            .field("limits", &self.limits)
            .field("buffered", &self.buffered())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// The most one read takes, by default. Large reads matter on a fast stream: each read's frames
/// are handed out before the next system call, and auto-ACKs of the frames of one read go out
/// in one write.
const READ_CHUNK: usize = 256 * 1024;

/// The most one read takes on a client's connection ([`Decoder::with_read_max`]): a process
/// has one or a few, and on a fast stream reads of 512 KiB cost about 8 ns less CPU per
/// 100-byte MESSAGE than reads of 256 KiB, all of it in the kernel (1 MiB saves no more), for
/// 0.25 MiB more memory while the stream lasts.
pub(crate) const ONE_PEER_READ_CHUNK: usize = 512 * 1024;

/// The room a new decoder's first read offers: an idle connection (a broker may hold
/// thousands) costs this much, and reads that fill their room double it up to `READ_CHUNK`.
const FIRST_READ_CHUNK: usize = 4 * 1024;

/// Bytes of read room cleared at once.
const ZEROING_STEP: usize = 2 * 1024;

/// The largest body copied with its head, into the frame's one allocation. A larger one is
/// copied on its own unless it fills at least `1 / KEEP_BUFFER_MAX` of the read buffer: then it
/// stays where it was read, and the frame keeps that buffer, at most `KEEP_BUFFER_MAX` times
/// its body.
pub(crate) const COPY_BODY_MAX: usize = 8 * 1024;

/// The most a frame whose body stays in the read buffer keeps, in times its body.
pub(crate) const KEEP_BUFFER_MAX: usize = 8;

/// Body bytes a sized body must bring before the rest of its declared length is reserved.
const UNTRUSTED_RESERVE: usize = 64 * 1024;

impl Decoder {
    /// A decoder that unescapes headers as `version` defines (CONNECT, STOMP and CONNECTED are
    /// never unescaped). Change it with [`Decoder::set_version`] once negotiated.
    pub fn new(version: Version, limits: Limits) -> Self {
        Decoder {
            buf: BytesMut::new(),
            start: 0,
            end: 0,
            pos: 0,
            short_read: false,
            state: State::Idle,
            head: Head::default(),
            found: Located {
                command: Command::Message,
                at: 0,
                from: 0,
                body: 0,
                body_end: 0,
                subscription: FoundSpan::UNKNOWN,
            },
            version,
            limits,
            chunk: FIRST_READ_CHUNK,
            read_max: READ_CHUNK,
            buf_alloc: 0,
        }
    }

    /// Lets reads grow to `max` bytes (256 KiB by default) while they fill the room they are
    /// offered.
    pub(crate) fn with_read_max(mut self, max: usize) -> Self {
        self.read_max = max.max(FIRST_READ_CHUNK);
        self
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
        self.drop_consumed();
        self.buf.truncate(self.end);
        let at = self.buf.as_ptr();
        if let Some(rest) = self.trusted_body_rest(bytes.len()) {
            self.buf.reserve(rest);
        }
        self.buf.extend_from_slice(bytes);
        self.end = self.buf.len();
        self.note_allocation(at);
    }

    /// Records the size of the read buffer's allocation when growing it moved it (`at`: where
    /// it was). It then starts at its allocation, so its capacity is the allocation's size.
    fn note_allocation(&mut self, at: *const u8) {
        if !std::ptr::eq(self.buf.as_ptr(), at) {
            self.buf_alloc = self.buf.capacity();
        }
    }

    /// Reads once from `r` straight into the decoder's buffer. Returns what `read` returned:
    /// `Ok(0)` means the peer closed.
    pub fn read_from<R: Read + ?Sized>(&mut self, r: &mut R) -> io::Result<usize> {
        self.drop_consumed();
        let room = self
            .trusted_body_rest(self.chunk)
            .map_or(self.chunk, |rest| rest.max(self.chunk));
        if self.buf.len() < self.end + room {
            if self.buf.capacity() < self.end + room {
                // A new buffer (or the old one reclaimed) gets the data, not the spare room.
                self.buf.truncate(self.end);
                let at = self.buf.as_ptr();
                self.buf.reserve(room);
                self.note_allocation(at);
            }
            // Cleared a few KiB at a time: glibc clears larger blocks with `rep stosb`, which
            // is no faster here and which callgrind counts byte by byte.
            while self.buf.len() < self.end + room {
                let to = (self.buf.len() + ZEROING_STEP).min(self.end + room);
                self.buf.resize(to, 0);
            }
        }
        let res = r.read(&mut self.buf[self.end..self.end + room]);
        let n = *res.as_ref().unwrap_or(&0);
        self.end += n;
        self.short_read = n > 0 && n < room;
        if n == room {
            self.chunk = (self.chunk * 2).min(self.read_max); // a busy peer: read more at once
        }
        res
    }

    /// The bytes still to come of a sized body being read, once it has brought
    /// [`UNTRUSTED_RESERVE`] bytes (with the `incoming` ones): then they may be reserved at once.
    /// A peer that announces a large body and sends little costs little.
    fn trusted_body_rest(&self, incoming: usize) -> Option<usize> {
        let State::Body {
            body,
            len: Some(len),
            ..
        } = self.state
        else {
            return None;
        };
        let frame_end = body + len + 1;
        let (arrived, len) = (self.buffered() - body, self.buffered());
        (arrived + incoming > UNTRUSTED_RESERVE && frame_end > len).then(|| frame_end - len)
    }

    /// True when the last [`Decoder::read_from`] returned data but filled less than the room it
    /// offered: on a plain socket, that read emptied the receive queue.
    pub(crate) fn last_read_was_short(&self) -> bool {
        self.short_read
    }

    /// Bytes received but not yet returned as items (0 between frames with nothing pending).
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// The input: what was received and not yet returned, from the frame being read on.
    #[inline]
    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Drops the bytes of items returned from the buffer (kept until the next read: one move
    /// per read rather than per frame). What is left of the input (a frame cut off by the last
    /// read, usually) moves to the front, and the room after it stays as it is: already
    /// cleared, so the next read need not clear it again.
    fn drop_consumed(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Bytes of memory the decoder holds, for checking that a peer cannot make it reserve more
    /// than it sent.
    #[cfg(test)]
    pub(crate) fn reserved(&self) -> usize {
        self.buf.capacity()
    }

    /// Gives back the memory kept for frames to come when nothing is buffered: for a broker's
    /// idle connections (thousands of them), which then cost their read buffer and little
    /// more. The next frame finds room again.
    #[cfg(feature = "broker")]
    pub(crate) fn release_idle(&mut self) {
        if self.buffered() == 0 {
            self.head = Head::default();
        }
    }

    /// True when the decoder is between frames (a close now loses nothing).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    /// Returns the next item, or `Ok(None)` when more bytes are needed.
    ///
    /// # Errors
    /// A [`ProtocolError`] when the input is not valid STOMP or breaks a limit. The error is
    /// final: the stream cannot be resynchronised.
    pub fn decode(&mut self) -> Result<Option<Item>, ProtocolError> {
        Ok(match self.find()? {
            None => None,
            Some(Found::HeartBeat) => Some(Item::HeartBeat),
            Some(Found::Frame(_)) => Some(Item::Frame(self.take())),
        })
    }

    /// Like [`Decoder::decode`], but the frame is lent, not made: a view of the decoder's
    /// buffer, valid until the next call on the decoder. Nothing is copied or allocated for it,
    /// and it is checked as a decoded frame is (the same frames and the same errors, whatever
    /// the chunking).
    ///
    /// ```
    /// use stompy::codec::{Decoder, ItemRef};
    /// use stompy::{Limits, Version};
    /// let mut d = Decoder::new(Version::V1_2, Limits::default());
    /// d.feed(b"MESSAGE\ndestination:/queue/a\ncontent-length:2\n\nhi\0");
    /// let Some(ItemRef::Frame(f)) = d.decode_ref()? else { panic!() };
    /// assert_eq!((f.destination(), f.body()), (Some("/queue/a"), &b"hi"[..]));
    /// # Ok::<(), stompy::ProtocolError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Decoder::decode`].
    pub fn decode_ref(&mut self) -> Result<Option<ItemRef<'_>>, ProtocolError> {
        Ok(match self.find()? {
            None => None,
            Some(Found::HeartBeat) => Some(ItemRef::HeartBeat),
            Some(Found::Frame(_)) => Some(ItemRef::Frame(self.view())),
        })
    }

    /// The next item, a frame given by where it lies: [`Decoder::view`] lends it,
    /// [`Decoder::take`] makes a [`Frame`] of it. Either must come before the next call that
    /// reads or decodes.
    #[inline]
    pub(crate) fn find(&mut self) -> Result<Option<Found>, ProtocolError> {
        if matches!(self.state, State::Idle) {
            if let Some(command) = self.whole_frame() {
                return Ok(Some(Found::Frame(command)));
            }
        }
        self.find_stepwise()
    }

    /// The frame at the front of the input when all of it is buffered and plain: its command
    /// line, its head indexed in one pass, its body and NUL, read in one go. `None` for anything
    /// else (an EOL, a frame cut off, a head to read line by line, any error): the step by
    /// step reading then starts over on the same input, so that frames and errors are the same
    /// whichever path read them, and whatever the chunking.
    #[inline]
    fn whole_frame(&mut self) -> Option<Command> {
        let data = &self.buf[self.start..self.end];
        // A client reads MESSAGEs above all: one compare of a word tells.
        const MESSAGE_LINE: u64 = u64::from_le_bytes(*b"MESSAGE\n");
        let (command, consumed) = match data.first_chunk().map(|w| u64::from_le_bytes(*w)) {
            Some(MESSAGE_LINE) if self.limits.max_header_line >= 7 => (Command::Message, 8),
            _ => {
                let (len, consumed) =
                    short_line(data).filter(|&(len, _)| len <= self.limits.max_header_line)?;
                (Command::from_bytes(&data[..len])?, consumed)
            }
        };
        self.head.start(command, self.version);
        let body = self.head.index_plain(data, consumed, &self.limits)?;
        let max = self.limits.max_body;
        let plain = self.head.plain;
        let body_end = match plain.content_length {
            Some(len) if len <= max as u64 => {
                let end = body + len as usize;
                (data.get(end) == Some(&0)).then_some(end)?
            }
            None => self.nul_after(body, 0).ok()?,
            Some(_) => return None,
        };
        if !self.head.checked && std::str::from_utf8(&data[consumed..body]).is_err() {
            return None;
        }
        let at = |x: u32| consumed as u32 + x;
        let subscription = FoundSpan::of(plain.subscription.map(|(v, end)| (at(v), at(end))));
        Some(self.record_found(command, consumed, body, body_end, subscription))
    }

    /// The NUL that ends an unsized body starting at `body`, looked for from `scanned` on and
    /// no further than one byte past the body limit, so that the outcome does not depend on how
    /// much arrived at once. `Err`: none there, and how far the body was looked at.
    #[inline]
    fn nul_after(&self, body: usize, scanned: usize) -> Result<usize, usize> {
        let rest = &self.data()[body..];
        let window = &rest[..rest.len().min(self.limits.max_body.saturating_add(1))];
        match memchr::memchr(0, &window[scanned..]) {
            Some(i) => Ok(body + scanned + i),
            None => Err(window.len()),
        }
    }

    /// Records the frame found (`command`, its header lines from `from`, its body from `body`
    /// to its NUL at `body_end`, relative to the input's start) and consumes it.
    #[inline]
    fn record_found(
        &mut self,
        command: Command,
        from: usize,
        body: usize,
        body_end: usize,
        subscription: FoundSpan,
    ) -> Command {
        self.found = Located {
            command,
            at: self.start,
            from,
            body,
            body_end,
            subscription,
        };
        self.consume(body_end + 1);
        command
    }

    /// [`Decoder::find`] a step at a time: what is not [`Decoder::whole_frame`].
    #[inline(never)]
    fn find_stepwise(&mut self) -> Result<Option<Found>, ProtocolError> {
        loop {
            let step = match self.state {
                State::Idle => self.between_frames(),
                State::Command => self.command_line()?,
                State::Lines => self.header_line()?,
                State::Body { .. } => self.body()?,
            };
            match step {
                Step::Item(item) => return Ok(Some(item)),
                Step::NeedMore => return Ok(None),
                Step::Continue => {}
            }
        }
    }

    /// Between frames: an EOL is a heart-beat, anything else starts a command line.
    #[inline]
    fn between_frames(&mut self) -> Step {
        let data = self.data();
        let eol = match (data.first(), data.get(1)) {
            (None, _) | (Some(b'\r'), None) => return Step::NeedMore,
            (Some(b'\n'), _) => 1,
            (Some(b'\r'), Some(b'\n')) => 2,
            // Anything else, a stray CR included, starts a command line.
            _ => {
                self.state = State::Command;
                return Step::Continue;
            }
        };
        self.consume(eol);
        Step::Item(Found::HeartBeat)
    }

    /// Drops `n` bytes from the front of the input.
    fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// The command line; then the head in one pass when it is buffered, else line by line.
    #[inline]
    fn command_line(&mut self) -> Result<Step, ProtocolError> {
        let data = &self.buf[self.start..self.end];
        let max_line = self.limits.max_header_line;
        let line = match short_line(data).filter(|&(len, _)| len <= max_line) {
            Some(line) => Some(line),
            None => next_line(data, max_line)?,
        };
        let Some((len, consumed)) = line else {
            return Ok(Step::NeedMore);
        };
        let line = &data[..len];
        let command = Command::from_bytes(line).ok_or_else(|| {
            ProtocolError::UnknownCommand(String::from_utf8_lossy(line).into_owned())
        })?;
        self.head.start(command, self.version);
        match self.head.index_plain(data, consumed, &self.limits) {
            Some(end) => {
                self.head.content_length = self.head.plain.content_length.map(Ok);
                self.end_head(end, self.head.checked)
            }
            None => {
                self.pos = consumed;
                self.state = State::Lines;
                Ok(Step::Continue)
            }
        }
    }

    fn header_line(&mut self) -> Result<Step, ProtocolError> {
        let rest = &self.data()[self.pos..];
        let Some((len, consumed)) = next_line(rest, self.limits.max_header_line)? else {
            return Ok(Step::NeedMore);
        };
        let start = self.pos;
        self.pos += consumed;
        if len > 0 {
            let max = self.limits.max_headers;
            self.head.push_line(
                &self.buf[self.start..self.end],
                start,
                len,
                self.version,
                max,
            )?;
            return Ok(Step::Continue);
        }
        // Blank line: the head is complete, each line checked as it came. Its headers get a
        // text of their own (an index is made only in one pass).
        if self.head.owned.is_none() {
            self.head.own_text(&self.buf[self.start..self.end]);
        }
        self.end_head(self.pos, true)
    }

    /// After the blank line ending at `end`: on to the body, and the frame when it is all here.
    #[inline]
    fn end_head(&mut self, end: usize, checked: bool) -> Result<Step, ProtocolError> {
        let max = self.limits.max_body;
        let len = match self.head.content_length.take() {
            None => None,
            Some(Ok(len)) if len <= max as u64 => Some(len as usize),
            Some(Ok(len)) => {
                let e = ProtocolError::BodyTooLarge { size: len, max };
                return Err(self.head_error(end, e));
            }
            Some(Err(e)) => return Err(self.head_error(end, e)),
        };
        self.state = State::Body {
            body: end,
            len,
            scanned: 0,
            checked,
        };
        self.body()
    }

    /// `e`, unless the head before `end` is not UTF-8: errors come in the order of the input,
    /// and a head read in one pass is checked only as a whole.
    fn head_error(&self, end: usize, e: ProtocolError) -> ProtocolError {
        match std::str::from_utf8(&self.data()[..end]) {
            Ok(_) => e,
            Err(_) => ProtocolError::InvalidUtf8,
        }
    }

    /// The frame, once its body and NUL are here.
    #[inline]
    fn body(&mut self) -> Result<Step, ProtocolError> {
        let State::Body {
            body,
            len,
            scanned,
            checked,
        } = self.state
        else {
            unreachable!("body() is called in the Body state")
        };
        let body_end = match len {
            Some(len) if self.buffered() > body + len => {
                if self.data()[body + len] != 0 {
                    return Err(self.head_error(body, ProtocolError::MissingNul));
                }
                body + len
            }
            Some(_) => return self.wait_for_body(body, scanned, checked),
            None => match self.nul_after(body, scanned) {
                Ok(end) => end,
                Err(looked) if looked > self.limits.max_body => {
                    let (size, max) = (looked as u64, self.limits.max_body);
                    let e = ProtocolError::BodyTooLarge { size, max };
                    return Err(self.head_error(body, e));
                }
                Err(looked) => return self.wait_for_body(body, looked, checked),
            },
        };
        // A head indexed in one pass and not all ASCII is checked as a whole, once.
        let from = self.head.from;
        let indexed = self.head.owned.is_none();
        if indexed && !checked && std::str::from_utf8(&self.data()[from..body]).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        self.state = State::Idle;
        let command =
            self.record_found(self.head.command, from, body, body_end, FoundSpan::UNKNOWN);
        Ok(Step::Item(Found::Frame(command)))
    }

    /// The body is not all here: checks the head now (so that a bad head is reported whether or
    /// not its body ever comes) and waits.
    fn wait_for_body(
        &mut self,
        body: usize,
        scanned: usize,
        checked: bool,
    ) -> Result<Step, ProtocolError> {
        if !checked && std::str::from_utf8(&self.data()[..body]).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        if let State::Body {
            scanned: s,
            checked: c,
            ..
        } = &mut self.state
        {
            (*s, *c) = (scanned, true);
        }
        Ok(Step::NeedMore)
    }

    /// The frame found last, lent: its head and body as they lie in the buffer.
    #[inline]
    pub(crate) fn view(&self) -> FrameRef<'_> {
        let f = self.found;
        let frame = &self.buf[f.at..];
        let headers = match &self.head.owned {
            Some(text) => HeadersRef::spans_of(text, &self.head.spans),
            None => HeadersRef::indexed(Index::new(&self.head.masks), &frame[f.from..f.body]),
        };
        FrameRef::new(f.command, headers, &frame[f.body..f.body_end])
    }

    /// The value of the frame found last's first `subscription` header, when its head was
    /// indexed in one pass (`Some(None)`: it has none); `None` when it must be looked up.
    #[inline]
    pub(crate) fn found_subscription(&self) -> Option<Option<&[u8]>> {
        let f = &self.found;
        let frame = &self.buf[f.at..];
        f.subscription
            .get()
            .map(|at| at.map(|(v, end)| &frame[v..end]))
    }

    /// The frame found last, made a [`Frame`].
    ///
    /// A small frame is copied with its index into one allocation of its exact size: one handle
    /// for all of it (the body a range of it), no reference count shared with other frames (see
    /// `docs/ARCHITECTURE.md`), and the read buffer is free again at once. A larger body is copied
    /// on its own, or, when it fills an eighth of the read buffer or more, stays where it was
    /// read (only the head is copied): a kept frame never keeps more than [`KEEP_BUFFER_MAX`]
    /// times its body.
    pub(crate) fn take(&mut self) -> Frame {
        let Located {
            command,
            at,
            from,
            body,
            body_end,
            ..
        } = self.found;
        let small = body_end - body <= COPY_BODY_MAX;
        let headers = match self.head.owned.take() {
            Some(text) => {
                let spans = std::mem::take(&mut self.head.spans);
                Headers::owned(text, spans)
            }
            None => {
                let blocks = self.head.masks.len() / 2;
                let text = blocks * INDEX_BLOCK;
                let copy_end = if small { body_end } else { body };
                let need = text + copy_end - from;
                let mut own = Vec::with_capacity(need);
                own.extend_from_slice(self.head.masks.as_flattened());
                own.extend_from_slice(&self.buf[at + from..at + copy_end]);
                let headers = Headers::shared(Bytes::from(own), blocks, body - from);
                if small {
                    // One handle for the head and the body.
                    let at = text + body - from;
                    return Frame::with_body_in_head(command, headers, at, body_end - body);
                }
                headers
            }
        };
        let stays = (body_end - body).saturating_mul(KEEP_BUFFER_MAX) >= self.buf_alloc;
        let body_bytes = if small || !stays {
            Bytes::copy_from_slice(&self.buf[at + body..at + body_end])
        } else {
            // The frame is the last one consumed: split it off with what came before.
            let len = at + body_end + 1;
            debug_assert_eq!(self.start, len);
            let mut raw = self.buf.split_to(len);
            (self.start, self.end) = (0, self.end - len);
            raw.advance(at + body);
            raw.truncate(body_end - body);
            raw.freeze()
        };
        Frame::from_shared_parts(command, headers, body_bytes)
    }
}
