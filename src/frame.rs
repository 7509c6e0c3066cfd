//! [`Frame`], [`Command`], [`Headers`] and [`Version`]: what travels on the wire.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use bytes::Bytes;

use crate::error::{Error, ProtocolError};

/// A STOMP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// STOMP 1.0: no header escaping, no NACK, no heart-beats.
    V1_0,
    /// STOMP 1.1: escaping of `\\`, `\n`, `:`; NACK; heart-beats.
    V1_1,
    /// STOMP 1.2: adds `\r` escaping, `\r\n` line ends and the `ack` header.
    V1_2,
}

impl Version {
    /// Every version, oldest first.
    pub const ALL: [Version; 3] = [Version::V1_0, Version::V1_1, Version::V1_2];

    /// The version as written in `accept-version` / `version` headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_0 => "1.0",
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Version {
    type Err = ProtocolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "1.0" => Ok(Version::V1_0),
            "1.1" => Ok(Version::V1_1),
            "1.2" => Ok(Version::V1_2),
            other => Err(ProtocolError::UnsupportedVersion(other.to_string())),
        }
    }
}

macro_rules! commands {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// A STOMP command (the first line of a frame).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Command {
            $(#[doc = $doc] $variant,)*
        }

        impl Command {
            /// Every command.
            pub const ALL: &'static [Command] = &[$(Command::$variant,)*];

            /// The command as written on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(Command::$variant => $name,)* }
            }

        }
    };
}

commands! {
    Connect => "CONNECT", "Client opens a session.";
    Stomp => "STOMP", "Client opens a session (1.1+ spelling).";
    Connected => "CONNECTED", "Server accepts a session.";
    Send => "SEND", "Client sends a message to a destination.";
    Subscribe => "SUBSCRIBE", "Client subscribes to a destination.";
    Unsubscribe => "UNSUBSCRIBE", "Client ends a subscription.";
    Ack => "ACK", "Client acknowledges a message.";
    Nack => "NACK", "Client rejects a message (1.1+).";
    Begin => "BEGIN", "Client starts a transaction.";
    Commit => "COMMIT", "Client commits a transaction.";
    Abort => "ABORT", "Client rolls back a transaction.";
    Disconnect => "DISCONNECT", "Client ends the session.";
    Message => "MESSAGE", "Server delivers a message.";
    Receipt => "RECEIPT", "Server confirms a frame that asked for a receipt.";
    Error => "ERROR", "Server reports an error.";
}

impl Command {
    /// Parses a command line (without its EOL).
    #[inline]
    pub fn from_bytes(b: &[u8]) -> Option<Command> {
        // The first byte and the length tell commands apart; one compare confirms.
        use Command::*;
        let candidate = match (b.first()?, b.len()) {
            (b'M', 7) => Message,
            (b'S', 4) => Send,
            (b'A', 3) => Ack,
            (b'R', 7) => Receipt,
            (b'E', 5) => Error,
            (b'N', 4) => Nack,
            (b'C', 7) => Connect,
            (b'C', 9) => Connected,
            (b'C', 6) => Commit,
            (b'S', 5) => Stomp,
            (b'S', 9) => Subscribe,
            (b'U', 11) => Unsubscribe,
            (b'A', 5) => Abort,
            (b'B', 5) => Begin,
            (b'D', 10) => Disconnect,
            _ => return None,
        };
        same_name(candidate.as_str().as_bytes(), b).then_some(candidate)
    }

    /// True for commands whose headers are never escaped (CONNECT, STOMP, CONNECTED).
    pub fn is_unescaped(self) -> bool {
        matches!(self, Command::Connect | Command::Stomp | Command::Connected)
    }

    /// True for the frames a client sends.
    pub fn is_client(self) -> bool {
        !matches!(
            self,
            Command::Connected | Command::Message | Command::Receipt | Command::Error
        )
    }

    /// True for commands that may carry a body (SEND, MESSAGE, ERROR).
    pub fn allows_body(self) -> bool {
        matches!(self, Command::Send | Command::Message | Command::Error)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Command {
    type Err = ProtocolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Command::from_bytes(s.as_bytes()).ok_or_else(|| ProtocolError::UnknownCommand(s.into()))
    }
}

/// Well-known header names, so that code does not spell them by hand.
pub mod header {
    #![allow(missing_docs)]
    pub const ACCEPT_VERSION: &str = "accept-version";
    pub const ACK: &str = "ack";
    pub const CONTENT_LENGTH: &str = "content-length";
    pub const CONTENT_TYPE: &str = "content-type";
    pub const DESTINATION: &str = "destination";
    pub const HEART_BEAT: &str = "heart-beat";
    pub const HOST: &str = "host";
    pub const ID: &str = "id";
    pub const LOGIN: &str = "login";
    pub const MESSAGE: &str = "message";
    pub const MESSAGE_ID: &str = "message-id";
    pub const PASSCODE: &str = "passcode";
    pub const RECEIPT: &str = "receipt";
    pub const RECEIPT_ID: &str = "receipt-id";
    pub const REDELIVERED: &str = "redelivered";
    pub const SERVER: &str = "server";
    pub const SESSION: &str = "session";
    pub const SUBSCRIPTION: &str = "subscription";
    pub const TRANSACTION: &str = "transaction";
    pub const VERSION: &str = "version";
}

/// Ordered frame headers. Lookup returns the **first** occurrence of a name, as the spec
/// requires; repeated headers stay readable through [`Headers::get_all`] and [`Headers::iter`].
///
/// The headers of a received frame are not copied: they are read in place, in the buffer the
/// frame arrived in (see [`Frame`] for what that holds). Headers built with [`Headers::push`]
/// live in one string of their own.
///
/// ```
/// use stompy::Headers;
/// let mut h = Headers::new();
/// h.push("foo", "1");
/// h.push("foo", "2");
/// assert_eq!(h.get("foo"), Some("1"));
/// assert_eq!(h.get_all("foo").collect::<Vec<_>>(), ["1", "2"]);
/// ```
#[derive(Clone, Default)]
pub struct Headers {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// A received head, indexed in one pass: `buf` holds the [`Index`] of `blocks` blocks,
    /// then the header lines (`len` bytes, checked as UTF-8 by the decoder), then maybe the
    /// frame's body: one allocation, of the frame's size, for all of it.
    Shared { buf: Bytes, blocks: u32, len: u32 },
    /// Headers written one by one.
    Owned { text: String, spans: Vec<Span> },
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Owned {
            text: String::new(),
            spans: Vec::new(),
        }
    }
}

/// Where one header lies in the text of [`Headers`]: the name is `start..colon`, the value
/// `colon + 1..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) colon: u32,
    pub(crate) end: u32,
}

impl Span {
    #[inline]
    fn name(self) -> std::ops::Range<usize> {
        self.start as usize..self.colon as usize
    }

    #[inline]
    fn value(self) -> std::ops::Range<usize> {
        self.colon as usize + 1..self.end as usize
    }
}

/// The index of a head read in one pass, for each 64-byte block of its header lines: where the
/// LFs are, and each line's first colon (bit `i` of a block's masks stands for its byte `i`).
/// Headers are found by walking these bits, a few instructions per line; nothing is split or
/// copied when the frame is decoded.
#[derive(Clone, Copy)]
pub(crate) struct Index<'a> {
    /// Per block, two little-endian `u64`s: the LFs, then the first colons.
    packed: &'a [[u8; 8]],
}

/// Bytes of the index of one block.
pub(crate) const INDEX_BLOCK: usize = 16;

impl<'a> Index<'a> {
    /// The index whose masks are `packed`, two per block (as the decoder writes them).
    #[inline]
    pub(crate) fn new(packed: &'a [[u8; 8]]) -> Self {
        Index { packed }
    }

    /// Mask `which` (0: LFs, 1: first colons) of `block`.
    #[inline]
    fn mask(self, block: usize, which: usize) -> Option<u64> {
        self.packed
            .get(block * 2 + which)
            .map(|m| u64::from_le_bytes(*m))
    }

    /// The header lines of `text`, in order: the k-th first colon and the k-th LF are line
    /// k's, so two cursors over the masks walk them, a few instructions per line.
    #[inline]
    fn spans(self, text: &'a [u8]) -> Lines<'a> {
        Lines {
            index: self,
            text,
            colons: (0, self.mask(0, 1).unwrap_or(0)),
            newlines: (0, self.mask(0, 0).unwrap_or(0)),
            start: 0,
        }
    }

    /// The first header of `text` called `name`: a line's first colon `name.len()` bytes after
    /// the line's start. No loop runs per line: shifting each block's line starts (from its
    /// LFs) by the name's length and masking the first colons with them leaves only the lines
    /// whose name has that length, and only those are compared.
    ///
    /// A candidate's `name.len()` bytes before its colon start a line, but the colon may be on
    /// a later, shorter line: then those bytes hold an LF, and a name without one does not
    /// match them. A name with an LF matches no header of an indexed head.
    ///
    /// Always inlined: callers name a constant header, and with its length known the shifts,
    /// the compare and the LF test fold (about 80 instructions less per lookup; the code grows
    /// by a few KiB).
    #[inline(always)]
    fn find(self, text: &[u8], name: &[u8]) -> Option<Span> {
        let len = name.len();
        if name.contains(&b'\n') {
            return None;
        }
        // The line starts of the block before (for a name reaching back into it), and whether
        // a line starts at bit 0 of the next block.
        let (mut starts_before, mut starts_in) = (0u64, 1u64);
        for (block, masks) in self.packed.chunks_exact(2).enumerate() {
            let lfs = u64::from_le_bytes(masks[0]);
            let starts = (lfs << 1) | starts_in;
            let ahead = match len {
                0 => starts,
                1..64 => (starts << len) | (starts_before >> (64 - len)),
                _ => !0, // every first colon, checked one by one
            };
            let mut colons = u64::from_le_bytes(masks[1]) & ahead;
            while colons != 0 {
                let bit = colons.trailing_zeros();
                colons &= colons - 1;
                let colon = block * 64 + bit as usize;
                let Some(start) = colon.checked_sub(len) else {
                    continue;
                };
                // Shorter names start a line by construction of `ahead`.
                let at_line_start = len < 64 || start == 0 || text[start - 1] == b'\n';
                if !at_line_start || !same_name(&text[start..colon], name) {
                    continue;
                }
                // The LF that ends the line: in this block's bits when it is there.
                let after = lfs & (!1u64 << bit);
                let lf = match after {
                    0 => self.next_lf((block + 1) * 64)?,
                    _ => block * 64 + after.trailing_zeros() as usize,
                };
                let end = if text[lf - 1] == b'\r' { lf - 1 } else { lf };
                let span = |at: usize| at as u32;
                return Some(Span {
                    start: span(start),
                    colon: span(colon),
                    end: span(end),
                });
            }
            (starts_before, starts_in) = (starts, lfs >> 63);
        }
        None
    }

    /// The first LF of the header lines at or after byte `from`.
    #[inline]
    fn next_lf(self, from: usize) -> Option<usize> {
        let mut block = from / 64;
        let mut lfs = self.mask(block, 0)? & (!0u64 << (from % 64));
        while lfs == 0 {
            block += 1;
            lfs = self.mask(block, 0)?;
        }
        Some(block * 64 + lfs.trailing_zeros() as usize)
    }

    /// Header lines: one first colon each.
    fn lines(self) -> usize {
        self.packed
            .iter()
            .skip(1)
            .step_by(2)
            .map(|m| u64::from_le_bytes(*m).count_ones() as usize)
            .sum()
    }
}

/// The lines of an [`Index`]: for the colons and the LFs, the block being walked and its bits
/// not walked yet.
#[derive(Clone)]
struct Lines<'a> {
    index: Index<'a>,
    text: &'a [u8],
    colons: (usize, u64),
    newlines: (usize, u64),
    start: usize,
}

impl Lines<'_> {
    /// The next bit of mask `which`, whose cursor is `at`.
    #[inline]
    fn next_bit(index: Index<'_>, which: usize, at: &mut (usize, u64)) -> Option<usize> {
        while at.1 == 0 {
            at.0 += 1;
            at.1 = index.mask(at.0, which)?;
        }
        let bit = at.1.trailing_zeros() as usize;
        at.1 &= at.1 - 1;
        Some(at.0 * 64 + bit)
    }
}

impl Iterator for Lines<'_> {
    type Item = Span;

    #[inline]
    fn next(&mut self) -> Option<Span> {
        let colon = Self::next_bit(self.index, 1, &mut self.colons)?;
        let lf = Self::next_bit(self.index, 0, &mut self.newlines)?;
        let end = if self.text[lf - 1] == b'\r' {
            lf - 1
        } else {
            lf
        };
        let span = Span {
            start: self.start as u32,
            colon: colon as u32,
            end: end as u32,
        };
        self.start = lf + 1;
        Some(span)
    }
}

/// A name or value of a received head. The decoder checked the head as UTF-8 and spans are cut
/// at ASCII bytes (colon, CR, LF), so the check cannot fail: it only proves it to the compiler
/// without `unsafe`, and costs a pass over the few bytes the application reads.
#[inline]
fn as_text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// The span of the first header called `name` among `spans` of `text`.
#[inline]
fn find(text: &[u8], mut spans: impl Iterator<Item = Span>, name: &[u8]) -> Option<Span> {
    spans.find(|s| {
        let (start, colon) = (s.start as usize, s.colon as usize);
        colon - start == name.len() && same_name(&text[start..colon], name)
    })
}

/// The headers of a frame, borrowed: from a [`Headers`] ([`Headers::as_ref`]), or straight from
/// the buffer a frame was read into ([`FrameRef::headers`]). Every way of reading headers is
/// here; [`Headers`] reads through it.
///
/// ```
/// use stompy::Headers;
/// let h: Headers = [("a", "1"), ("b", "2"), ("a", "3")].into_iter().collect();
/// let r = h.as_ref();
/// assert_eq!((r.get("a"), r.len()), (Some("1"), 3));
/// assert_eq!(r.get_all("a").collect::<Vec<_>>(), ["1", "3"]);
/// ```
#[derive(Clone, Copy)]
pub struct HeadersRef<'a> {
    repr: RefRepr<'a>,
}

#[derive(Clone, Copy)]
enum RefRepr<'a> {
    /// A head indexed in one pass: the index, and the header lines it indexes (checked as
    /// UTF-8 by the decoder).
    Indexed { index: Index<'a>, text: &'a [u8] },
    /// Headers whose spans point into a text.
    Spans { text: &'a str, spans: &'a [Span] },
}

impl<'a> HeadersRef<'a> {
    /// Headers indexed by `index`, whose lines are `text` (UTF-8, as the decoder checked).
    #[inline]
    pub(crate) fn indexed(index: Index<'a>, text: &'a [u8]) -> Self {
        debug_assert!(std::str::from_utf8(text).is_ok());
        HeadersRef {
            repr: RefRepr::Indexed { index, text },
        }
    }

    /// Headers whose `spans` point into `text`.
    #[inline]
    pub(crate) fn spans_of(text: &'a str, spans: &'a [Span]) -> Self {
        HeadersRef {
            repr: RefRepr::Spans { text, spans },
        }
    }

    #[inline]
    fn text_bytes(self) -> &'a [u8] {
        match self.repr {
            RefRepr::Indexed { text, .. } => text,
            RefRepr::Spans { text, .. } => text.as_bytes(),
        }
    }

    /// `range` of the text, as text.
    #[inline]
    fn text_at(self, range: std::ops::Range<usize>) -> &'a str {
        match self.repr {
            RefRepr::Indexed { text, .. } => as_text(&text[range]),
            RefRepr::Spans { text, .. } => &text[range],
        }
    }

    /// The spans, in order.
    #[inline]
    fn spans(self) -> impl Iterator<Item = Span> + Clone + 'a {
        let (index, text, owned): (Index<'a>, &'a [u8], &'a [Span]) = match self.repr {
            RefRepr::Indexed { index, text } => (index, text, &[]),
            RefRepr::Spans { spans, .. } => (Index::new(&[]), &[], spans),
        };
        index.spans(text).chain(owned.iter().copied())
    }

    #[inline(always)]
    fn find(self, name: &[u8]) -> Option<Span> {
        match self.repr {
            RefRepr::Indexed { index, text } => index.find(text, name),
            RefRepr::Spans { text, spans } => find(text.as_bytes(), spans.iter().copied(), name),
        }
    }

    /// The value of the first header called `name`.
    #[inline]
    pub fn get(self, name: &str) -> Option<&'a str> {
        self.find(name.as_bytes()).map(|s| self.text_at(s.value()))
    }

    /// The value of the first header called `name`, as bytes: for comparing it, without the
    /// proof of UTF-8 that [`HeadersRef::get`] makes.
    #[inline]
    pub(crate) fn get_bytes(self, name: &str) -> Option<&'a [u8]> {
        self.find(name.as_bytes())
            .map(|s| &self.text_bytes()[s.value()])
    }

    /// The values (as bytes) of the first headers called `names`, found in one walk over the
    /// headers.
    pub(crate) fn get_bytes_each<const N: usize>(self, names: [&str; N]) -> [Option<&'a [u8]>; N] {
        let mut found = [None; N];
        let mut missing = N;
        let text = self.text_bytes();
        for s in self.spans() {
            let name = &text[s.name()];
            for (want, slot) in names.iter().zip(found.iter_mut()) {
                if slot.is_none() && same_name(name, want.as_bytes()) {
                    *slot = Some(&text[s.value()]);
                    missing -= 1;
                }
            }
            if missing == 0 {
                break;
            }
        }
        found
    }

    /// Every value of `name`, in order.
    pub fn get_all(self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter().filter(move |(n, _)| *n == name).map(|(_, v)| v)
    }

    /// True when a header called `name` is present.
    pub fn contains(self, name: &str) -> bool {
        self.find(name.as_bytes()).is_some()
    }

    /// All headers in order, repeats included.
    pub fn iter(self) -> impl Iterator<Item = (&'a str, &'a str)> + Clone + 'a {
        self.spans()
            .map(move |s| (self.text_at(s.name()), self.text_at(s.value())))
    }

    /// Number of header lines, repeats included.
    pub fn len(self) -> usize {
        match self.repr {
            RefRepr::Indexed { index, .. } => index.lines(),
            RefRepr::Spans { spans, .. } => spans.len(),
        }
    }

    /// True when there are no headers.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Total bytes of names and values.
    pub fn byte_len(self) -> usize {
        self.spans().map(|s| (s.end - s.start - 1) as usize).sum()
    }

    /// The headers, copied into a [`Headers`] of their own.
    pub fn to_headers(self) -> Headers {
        let mut own = Headers::with_capacity(self.len(), self.byte_len());
        own.extend(self.iter());
        own
    }
}

/// `passcode` values show as `***`: a CONNECT frame can be logged without its secret.
impl fmt::Debug for HeadersRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |(k, v): (&str, &str)| {
            (
                k.to_owned(),
                if k == header::PASSCODE { "***" } else { v }.to_owned(),
            )
        };
        f.debug_list().entries(self.iter().map(shown)).finish()
    }
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `n` headers of `bytes` total bytes.
    pub fn with_capacity(n: usize, bytes: usize) -> Self {
        Headers {
            repr: Repr::Owned {
                text: String::with_capacity(bytes + n),
                spans: Vec::with_capacity(n),
            },
        }
    }

    /// Headers read in place: `buf` holds the index of `blocks` blocks, then the header lines
    /// it indexes (`len` bytes, checked as UTF-8), then anything.
    pub(crate) fn shared(buf: Bytes, blocks: usize, len: usize) -> Self {
        let h = Headers {
            repr: Repr::Shared {
                buf,
                blocks: blocks as u32,
                len: len as u32,
            },
        };
        debug_assert!(std::str::from_utf8(h.as_ref().text_bytes()).is_ok());
        h
    }

    /// The buffer shared headers live in (empty for others).
    #[inline]
    fn shared_buf(&self) -> &[u8] {
        match &self.repr {
            Repr::Shared { buf, .. } => buf,
            Repr::Owned { .. } => &[],
        }
    }

    /// A handle on `range` of the buffer shared headers live in (empty for others).
    fn shared_slice(&self, range: std::ops::Range<usize>) -> Bytes {
        match &self.repr {
            Repr::Shared { buf, .. } if range.end <= buf.len() => buf.slice(range),
            _ => Bytes::new(),
        }
    }

    /// Headers whose `spans` point into `text`, written by the decoder.
    pub(crate) fn owned(text: String, spans: Vec<Span>) -> Self {
        Headers {
            repr: Repr::Owned { text, spans },
        }
    }

    /// The headers, borrowed: what reads them (every reading method here goes through it).
    #[inline]
    pub fn as_ref(&self) -> HeadersRef<'_> {
        match &self.repr {
            Repr::Shared { buf, blocks, len } => {
                let at = *blocks as usize * INDEX_BLOCK;
                let (packed, _) = buf[..at].as_chunks::<8>();
                HeadersRef::indexed(Index::new(packed), &buf[at..at + *len as usize])
            }
            Repr::Owned { text, spans } => HeadersRef::spans_of(text, spans),
        }
    }

    /// The text and spans, made the headers' own first: mutation copies a received head once.
    fn owned_mut(&mut self) -> (&mut String, &mut Vec<Span>) {
        if let Repr::Shared { .. } = &self.repr {
            *self = self.as_ref().to_headers();
        }
        match &mut self.repr {
            Repr::Owned { text, spans } => (text, spans),
            Repr::Shared { .. } => unreachable!("made owned above"),
        }
    }

    /// Appends a header, keeping any earlier one of the same name.
    pub fn push(&mut self, name: &str, value: &str) {
        let (text, spans) = self.owned_mut();
        let start = text.len() as u32;
        text.push_str(name);
        let colon = text.len() as u32;
        text.push(':');
        text.push_str(value);
        let end = text.len() as u32;
        spans.push(Span { start, colon, end });
    }

    /// Sets `name` to `value`: replaces every existing occurrence with one, or appends.
    pub fn set(&mut self, name: &str, value: &str) {
        if self.get(name) == Some(value) && self.get_all(name).count() == 1 {
            return;
        }
        self.remove(name);
        self.push(name, value);
    }

    /// Removes every occurrence of `name`; returns whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        if !self.contains(name) {
            return false;
        }
        let old = std::mem::take(self);
        for (n, v) in old.iter() {
            if n != name {
                self.push(n, v);
            }
        }
        true
    }

    /// Copies received headers into a string of their own, so that they no longer hold the
    /// buffer their frame was decoded into. Headers that were not received are left alone.
    pub fn detach(&mut self) {
        if matches!(self.repr, Repr::Shared { .. }) {
            *self = self.as_ref().to_headers();
        }
    }

    /// The value of the first header called `name`.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.as_ref().get(name)
    }

    /// The value of the first header called `name`, as bytes (see [`HeadersRef::get_bytes`]).
    #[inline]
    pub(crate) fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        self.as_ref().get_bytes(name)
    }

    /// The values (as bytes) of the first headers called `names`, found in one walk.
    pub(crate) fn get_bytes_each<const N: usize>(&self, names: [&str; N]) -> [Option<&[u8]>; N] {
        self.as_ref().get_bytes_each(names)
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.as_ref().get_all(name)
    }

    /// True when a header called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.as_ref().contains(name)
    }

    /// All headers in order, repeats included.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone + '_ {
        self.as_ref().iter()
    }

    /// Number of header lines, repeats included.
    pub fn len(&self) -> usize {
        self.as_ref().len()
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total bytes of names and values.
    pub fn byte_len(&self) -> usize {
        self.as_ref().byte_len()
    }
}

/// `a == b` for header names and ids, which are short: up to 16 bytes are compared byte by byte
/// or in two words rather than by a call to `memcmp`.
#[inline]
pub(crate) fn same_name(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        // Short names (`id`, `ack`) byte by byte, with no call either.
        0..4 => a.iter().zip(b).all(|(x, y)| x == y),
        4..8 => {
            let word =
                |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4"));
            word(a, 0) == word(b, 0) && word(a, n - 4) == word(b, n - 4)
        }
        8..=16 => {
            let word =
                |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8"));
            word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8)
        }
        _ => a == b,
    }
}

/// Equal when they hold the same headers in the same order, however their buffers are laid out.
impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

/// `passcode` values show as `***`: a CONNECT frame can be logged without its secret.
impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_ref().fmt(f)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut h = Headers::new();
        h.extend(iter);
        h
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Extend<(K, V)> for Headers {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.push(k.as_ref(), v.as_ref());
        }
    }
}

/// One STOMP frame: a command, ordered headers and a body.
///
/// ```
/// use stompy::{Command, Frame};
/// let f = Frame::new(Command::Send)
///     .with_header("destination", "/queue/a")
///     .with_header("content-type", "text/plain")
///     .with_body("hello");
/// assert_eq!(f.destination(), Some("/queue/a"));
/// assert_eq!(f.text()?, "hello");
/// # Ok::<(), stompy::Error>(())
/// ```
///
/// # Memory
///
/// A received frame is one allocation of its own size: the decoder copies its head (and its body
/// when up to 8 KiB) there, with the index of its headers. A larger body is copied into an
/// allocation of its own, unless it fills an eighth or more of the buffer it was read into (up
/// to 512 KiB on a client's connection, 256 KiB on the broker's, or as large as a large body
/// needs): then it stays there, and the frame keeps that buffer, at most 8 times its body. A
/// program that holds on to a few frames out of many holds what those frames are (and, for a
/// large body, at most 8 times it), never what was received around them. [`Frame::detach`]
/// copies a frame into allocations of its own size.
/// [`StompClient::recv_ref`](crate::StompClient::recv_ref) lends frames with no allocation at
/// all.
#[derive(Clone)]
pub struct Frame {
    command: Command,
    headers: Headers,
    body: Body,
}

/// Where a [`Frame`]'s body is.
#[derive(Clone)]
enum Body {
    /// In a buffer of its own, or shared with other frames.
    Bytes(Bytes),
    /// `len` bytes at `at` in the buffer the frame's shared headers live in: a small received
    /// body, copied with its head, so that the frame is one handle on that buffer.
    InHead { at: u32, len: u32 },
}

/// The range of a body of `len` bytes at `at`.
fn span_of(at: u32, len: u32) -> std::ops::Range<usize> {
    at as usize..at as usize + len as usize
}

impl PartialEq for Frame {
    fn eq(&self, other: &Self) -> bool {
        self.command == other.command
            && self.headers == other.headers
            && self.body() == other.body()
    }
}

impl Eq for Frame {}

impl Frame {
    /// A frame with no headers and an empty body.
    pub fn new(command: Command) -> Self {
        Frame {
            command,
            headers: Headers::new(),
            body: Body::Bytes(Bytes::new()),
        }
    }

    /// A frame from its parts.
    pub fn from_parts(command: Command, headers: Headers, body: Vec<u8>) -> Self {
        Self::from_shared_parts(command, headers, Bytes::from(body))
    }

    /// A frame from its parts, the body a [`Bytes`] (shared, not copied).
    pub fn from_shared_parts(command: Command, headers: Headers, body: Bytes) -> Self {
        Frame {
            command,
            headers,
            body: Body::Bytes(body),
        }
    }

    /// A received frame whose body is the `len` bytes at `at` in the buffer its shared
    /// `headers` live in ([`Headers::shared`]).
    pub(crate) fn with_body_in_head(
        command: Command,
        headers: Headers,
        at: usize,
        len: usize,
    ) -> Self {
        debug_assert!(headers.shared_buf().get(at..at + len).is_some());
        let (at, len) = (at as u32, len as u32);
        Frame {
            command,
            headers,
            body: Body::InHead { at, len },
        }
    }

    /// Gives the body a handle of its own on the headers' buffer, before the headers change.
    fn body_apart(&mut self) {
        if let Body::InHead { .. } = self.body {
            self.body = Body::Bytes(self.body_bytes());
        }
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers_mut().push(name, value);
        self
    }

    /// Sets the body (builder style).
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Body::Bytes(Bytes::from(body.into()));
        self
    }

    /// The command.
    pub fn command(&self) -> Command {
        self.command
    }

    /// All headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// All headers, for changing them.
    pub fn headers_mut(&mut self) -> &mut Headers {
        self.body_apart();
        &mut self.headers
    }

    /// The frame, borrowed: what reads it (the reading methods here go through it).
    #[inline]
    pub fn as_ref(&self) -> FrameRef<'_> {
        FrameRef {
            command: self.command,
            headers: self.headers.as_ref(),
            body: self.body(),
        }
    }

    /// The value of the first header called `name`.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The `destination` header.
    pub fn destination(&self) -> Option<&str> {
        self.as_ref().destination()
    }

    /// The `subscription` header of a MESSAGE.
    pub fn subscription(&self) -> Option<&str> {
        self.as_ref().subscription()
    }

    /// The value of the first header called `name`, as bytes (see [`HeadersRef::get_bytes`]).
    #[inline]
    pub(crate) fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers.get_bytes(name)
    }

    /// The `message-id` header of a MESSAGE.
    pub fn message_id(&self) -> Option<&str> {
        self.as_ref().message_id()
    }

    /// The `content-type` header.
    pub fn content_type(&self) -> Option<&str> {
        self.as_ref().content_type()
    }

    /// True when the broker flagged this MESSAGE as a redelivery (`redelivered:true`).
    pub fn is_redelivered(&self) -> bool {
        self.as_ref().is_redelivered()
    }

    /// The body bytes.
    #[inline]
    pub fn body(&self) -> &[u8] {
        match &self.body {
            Body::Bytes(b) => b,
            Body::InHead { at, len } => {
                let body = self.headers.shared_buf().get(span_of(*at, *len));
                body.unwrap_or_default()
            }
        }
    }

    /// The body as a [`Bytes`]: a cheap handle on the same memory (no copy), for passing the
    /// body on or keeping it without the frame.
    ///
    /// ```
    /// use stompy::{Command, Frame};
    /// let f = Frame::new(Command::Message).with_body("payload");
    /// let body = f.body_bytes();
    /// drop(f);
    /// assert_eq!(&body[..], b"payload");
    /// ```
    pub fn body_bytes(&self) -> Bytes {
        match &self.body {
            Body::Bytes(b) => b.clone(),
            Body::InHead { at, len } => self.headers.shared_slice(span_of(*at, *len)),
        }
    }

    /// The body, taken out of the frame (copied when the frame shares its read buffer).
    pub fn into_body(self) -> Vec<u8> {
        self.into_parts().2
    }

    /// Splits the frame into command, headers and body (the body copied when the frame shares
    /// its read buffer).
    pub fn into_parts(self) -> (Command, Headers, Vec<u8>) {
        let body = match self.body {
            Body::Bytes(b) => Vec::from(b),
            Body::InHead { .. } => self.body().to_vec(),
        };
        (self.command, self.headers, body)
    }

    /// Copies a received frame's headers and body into allocations of their own, so that
    /// keeping it does not keep the buffer it was read into (see [Memory](#memory)).
    ///
    /// ```
    /// use stompy::{Command, Frame};
    /// let mut f = Frame::new(Command::Message).with_header("a", "1").with_body("x");
    /// f.detach();
    /// assert_eq!((f.get("a"), f.body()), (Some("1"), &b"x"[..]));
    /// ```
    pub fn detach(&mut self) {
        let body = self.body();
        let body = match body.is_empty() {
            true => Bytes::new(),
            false => Bytes::copy_from_slice(body),
        };
        self.body = Body::Bytes(body);
        self.headers.detach();
    }

    /// The body as text, decoded with the `charset` of `content-type` (UTF-8 when none is
    /// given). UTF-8, US-ASCII and ISO-8859-1 are understood.
    ///
    /// # Errors
    /// [`Error::Body`] when the bytes are not valid in that charset or the charset is unknown.
    pub fn text(&self) -> Result<Cow<'_, str>, Error> {
        self.as_ref().text()
    }

    /// The body parsed as JSON.
    ///
    /// ```
    /// use stompy::{Command, Frame};
    /// let f = Frame::new(Command::Message).with_body(r#"{"n": 3}"#);
    /// let v: serde_json::Value = f.json()?;
    /// assert_eq!(v["n"], 3);
    /// # Ok::<(), stompy::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Body`] when the body is not JSON of that shape.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        self.as_ref().json()
    }
}

/// A received frame, borrowed from the buffer it was read into: what
/// [`StompClient::recv_ref`](crate::StompClient::recv_ref) and
/// [`Decoder::decode_ref`](crate::codec::Decoder::decode_ref) hand out, valid until the next
/// call on the client or decoder. Nothing is copied or counted to make one: it is the fastest
/// way to read frames, for loops that read each one and let it go. [`FrameRef::to_frame`]
/// makes a [`Frame`] of it, to keep.
///
/// Every [`Frame`] can be read as one too ([`Frame::as_ref`]).
///
/// ```
/// use stompy::{Command, Frame};
/// let f = Frame::new(Command::Message)
///     .with_header("destination", "/queue/a")
///     .with_body("hello");
/// let r = f.as_ref();
/// assert_eq!((r.destination(), r.body()), (Some("/queue/a"), &b"hello"[..]));
/// assert_eq!(r.to_frame(), f);
/// ```
#[derive(Clone, Copy)]
pub struct FrameRef<'a> {
    command: Command,
    headers: HeadersRef<'a>,
    body: &'a [u8],
}

impl<'a> FrameRef<'a> {
    /// A frame of these parts.
    #[inline]
    pub(crate) fn new(command: Command, headers: HeadersRef<'a>, body: &'a [u8]) -> Self {
        FrameRef {
            command,
            headers,
            body,
        }
    }

    /// The command.
    #[inline]
    pub fn command(self) -> Command {
        self.command
    }

    /// All headers.
    #[inline]
    pub fn headers(self) -> HeadersRef<'a> {
        self.headers
    }

    /// The value of the first header called `name`.
    #[inline]
    pub fn get(self, name: &str) -> Option<&'a str> {
        self.headers.get(name)
    }

    /// The value of the first header called `name`, as bytes (see [`HeadersRef::get_bytes`]).
    #[inline]
    pub(crate) fn get_bytes(self, name: &str) -> Option<&'a [u8]> {
        self.headers.get_bytes(name)
    }

    /// The `destination` header.
    pub fn destination(self) -> Option<&'a str> {
        self.get(header::DESTINATION)
    }

    /// The `subscription` header of a MESSAGE.
    pub fn subscription(self) -> Option<&'a str> {
        self.get(header::SUBSCRIPTION)
    }

    /// The `message-id` header of a MESSAGE.
    pub fn message_id(self) -> Option<&'a str> {
        self.get(header::MESSAGE_ID)
    }

    /// The `content-type` header.
    pub fn content_type(self) -> Option<&'a str> {
        self.get(header::CONTENT_TYPE)
    }

    /// True when the broker flagged this MESSAGE as a redelivery (`redelivered:true`).
    pub fn is_redelivered(self) -> bool {
        self.get(header::REDELIVERED) == Some("true")
    }

    /// The body bytes.
    #[inline]
    pub fn body(self) -> &'a [u8] {
        self.body
    }

    /// The body as text, as [`Frame::text`] decodes it.
    ///
    /// # Errors
    /// [`Error::Body`] when the bytes are not valid in that charset or the charset is unknown.
    pub fn text(self) -> Result<Cow<'a, str>, Error> {
        let body = self.body;
        let charset = self.content_type().and_then(charset_of).unwrap_or("utf-8");
        match charset.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => std::str::from_utf8(body)
                .map(Cow::Borrowed)
                .map_err(|e| Error::body_caused("body is not valid UTF-8", e)),
            "us-ascii" | "ascii" => {
                if body.is_ascii() {
                    Ok(Cow::Borrowed(
                        std::str::from_utf8(body).expect("ascii is utf-8"),
                    ))
                } else {
                    Err(Error::body("body is not valid US-ASCII"))
                }
            }
            "iso-8859-1" | "latin1" | "latin-1" => {
                Ok(Cow::Owned(body.iter().map(|&b| b as char).collect()))
            }
            other => Err(Error::body(format!("unsupported charset {other:?}"))),
        }
    }

    /// The body parsed as JSON.
    ///
    /// # Errors
    /// [`Error::Body`] when the body is not JSON of that shape.
    pub fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, Error> {
        serde_json::from_slice(self.body).map_err(|e| Error::body_caused("invalid JSON body", e))
    }

    /// The frame, copied into a [`Frame`] of its own (headers and body in allocations of their
    /// size, as [`Frame::detach`] leaves them).
    pub fn to_frame(self) -> Frame {
        Frame::from_shared_parts(
            self.command,
            self.headers.to_headers(),
            Bytes::copy_from_slice(self.body),
        )
    }
}

impl<'a> From<&'a Frame> for FrameRef<'a> {
    fn from(frame: &'a Frame) -> Self {
        frame.as_ref()
    }
}

impl fmt::Debug for FrameRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_frame(f, "FrameRef", *self)
    }
}

/// A frame as `Debug` shows it: its headers (no passcode) and the start of its body.
fn debug_frame(f: &mut fmt::Formatter<'_>, name: &str, frame: FrameRef<'_>) -> fmt::Result {
    let body = String::from_utf8_lossy(&frame.body[..frame.body.len().min(200)]);
    f.debug_struct(name)
        .field("command", &frame.command)
        .field("headers", &frame.headers)
        .field("body", &body)
        .field("body_len", &frame.body.len())
        .finish()
}

fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"'))
    })
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_frame(f, "Frame", self.as_ref())
    }
}
