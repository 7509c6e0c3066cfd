//! [`Frame`], [`Command`], [`Headers`] and [`Version`]: what travels on the wire.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

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

            /// Parses a command line (without its EOL).
            #[allow(non_upper_case_globals)]
            pub fn from_bytes(b: &[u8]) -> Option<Command> {
                // Byte literals: compared by length first, and no UTF-8 check (every command
                // is ASCII).
                $(const $variant: &[u8] = $name.as_bytes();)*
                match b {
                    $($variant => Some(Command::$variant),)*
                    _ => None,
                }
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
/// Names and values live in one string buffer, so a decoded frame costs one allocation for all
/// of its headers.
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
    buf: String,
    spans: Vec<Span>,
}

/// Where one header lies in [`Headers`]' buffer: name start and end, value start and end.
type Span = (u32, u32, u32, u32);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `n` headers of `bytes` total bytes.
    pub fn with_capacity(n: usize, bytes: usize) -> Self {
        Headers {
            buf: String::with_capacity(bytes),
            spans: Vec::with_capacity(n),
        }
    }

    /// No headers yet, with room for `n` and a buffer that starts as a copy of `raw`, so that
    /// [`Headers::push_raw`] can add headers that lie in it without copying them one by one.
    pub(crate) fn from_raw(raw: &str, n: usize) -> Self {
        Headers {
            buf: raw.to_owned(),
            spans: Vec::with_capacity(n),
        }
    }

    /// Appends the header whose name and value are at `name` and `value` in the text given
    /// to [`Headers::from_raw`].
    pub(crate) fn push_raw(&mut self, name: Range<usize>, value: Range<usize>) {
        debug_assert!(
            self.buf.get(name.clone()).is_some() && self.buf.get(value.clone()).is_some()
        );
        let span = (
            name.start as u32,
            name.end as u32,
            value.start as u32,
            value.end as u32,
        );
        self.spans.push(span);
    }

    /// Appends a header, keeping any earlier one of the same name.
    pub fn push(&mut self, name: &str, value: &str) {
        let start = self.buf.len() as u32;
        self.buf.push_str(name);
        let mid = self.buf.len() as u32;
        self.buf.push_str(value);
        self.spans.push((start, mid, mid, self.buf.len() as u32));
    }

    /// Appends a header whose name and value are written by `f` into the buffer. `f` returns the
    /// length of the name part. Used by the decoder to unescape in place.
    pub(crate) fn push_with<E>(
        &mut self,
        f: impl FnOnce(&mut String) -> Result<usize, E>,
    ) -> Result<(), E> {
        let start = self.buf.len();
        let name_len = f(&mut self.buf)?;
        let mid = (start + name_len) as u32;
        self.spans
            .push((start as u32, mid, mid, self.buf.len() as u32));
        Ok(())
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
        let before = self.spans.len();
        if self.spans.iter().all(|s| self.name_at(s) != name) {
            return false;
        }
        let old = std::mem::take(self);
        for (n, v) in old.iter() {
            if n != name {
                self.push(n, v);
            }
        }
        before != self.spans.len()
    }

    fn name_at(&self, s: &Span) -> &str {
        &self.buf[s.0 as usize..s.1 as usize]
    }

    fn value_at(&self, s: &Span) -> &str {
        &self.buf[s.2 as usize..s.3 as usize]
    }

    /// The value of the first header called `name`.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.spans
            .iter()
            .find(|s| same_name(self.name_at(s).as_bytes(), name.as_bytes()))
            .map(|s| self.value_at(s))
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter().filter(move |(n, _)| *n == name).map(|(_, v)| v)
    }

    /// True when a header called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// All headers in order, repeats included.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone + '_ {
        self.spans
            .iter()
            .map(|s| (self.name_at(s), self.value_at(s)))
    }

    /// Number of header lines, repeats included.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Total bytes of names and values.
    pub fn byte_len(&self) -> usize {
        let len = |s: &Span| (s.1 - s.0 + s.3 - s.2) as usize;
        self.spans.iter().map(len).sum()
    }
}

/// `a == b` for header names, which are short: up to 16 bytes are compared in two words
/// rather than by a call to `memcmp`.
#[inline]
fn same_name(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if !(8..=16).contains(&n) {
        return a == b;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8"));
    word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8)
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
        let shown = |(k, v): (&str, &str)| {
            (
                k.to_owned(),
                if k == header::PASSCODE { "***" } else { v }.to_owned(),
            )
        };
        f.debug_list().entries(self.iter().map(shown)).finish()
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
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    command: Command,
    headers: Headers,
    body: Vec<u8>,
}

impl Frame {
    /// A frame with no headers and an empty body.
    pub fn new(command: Command) -> Self {
        Frame {
            command,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// A frame from its parts.
    pub fn from_parts(command: Command, headers: Headers, body: Vec<u8>) -> Self {
        Frame {
            command,
            headers,
            body,
        }
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push(name, value);
        self
    }

    /// Sets the body (builder style).
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
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
        &mut self.headers
    }

    /// The value of the first header called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The `destination` header.
    pub fn destination(&self) -> Option<&str> {
        self.get(header::DESTINATION)
    }

    /// The `subscription` header of a MESSAGE.
    pub fn subscription(&self) -> Option<&str> {
        self.get(header::SUBSCRIPTION)
    }

    /// The `message-id` header of a MESSAGE.
    pub fn message_id(&self) -> Option<&str> {
        self.get(header::MESSAGE_ID)
    }

    /// The `content-type` header.
    pub fn content_type(&self) -> Option<&str> {
        self.get(header::CONTENT_TYPE)
    }

    /// True when the broker flagged this MESSAGE as a redelivery (`redelivered:true`).
    pub fn is_redelivered(&self) -> bool {
        self.get(header::REDELIVERED) == Some("true")
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, taken out of the frame.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// Splits the frame into command, headers and body.
    pub fn into_parts(self) -> (Command, Headers, Vec<u8>) {
        (self.command, self.headers, self.body)
    }

    /// The body as text, decoded with the `charset` of `content-type` (UTF-8 when none is
    /// given). UTF-8, US-ASCII and ISO-8859-1 are understood.
    ///
    /// # Errors
    /// [`Error::Body`] when the bytes are not valid in that charset or the charset is unknown.
    pub fn text(&self) -> Result<Cow<'_, str>, Error> {
        let charset = self.content_type().and_then(charset_of).unwrap_or("utf-8");
        match charset.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => std::str::from_utf8(&self.body)
                .map(Cow::Borrowed)
                .map_err(|e| Error::body_caused("body is not valid UTF-8", e)),
            "us-ascii" | "ascii" => {
                if self.body.is_ascii() {
                    Ok(Cow::Borrowed(
                        std::str::from_utf8(&self.body).expect("ascii is utf-8"),
                    ))
                } else {
                    Err(Error::body("body is not valid US-ASCII"))
                }
            }
            "iso-8859-1" | "latin1" | "latin-1" => {
                Ok(Cow::Owned(self.body.iter().map(|&b| b as char).collect()))
            }
            other => Err(Error::body(format!("unsupported charset {other:?}"))),
        }
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
        serde_json::from_slice(&self.body).map_err(|e| Error::body_caused("invalid JSON body", e))
    }
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
        let body = String::from_utf8_lossy(&self.body[..self.body.len().min(200)]);
        f.debug_struct("Frame")
            .field("command", &self.command)
            .field("headers", &self.headers)
            .field("body", &body)
            .field("body_len", &self.body.len())
            .finish()
    }
}
