//! Errors: one `#[non_exhaustive]` [`Error`], with the detail in sub-enums and in
//! [`ContextError`], and [`ErrorChain`] to print an error with all its causes.
//!
//! Every error from a layer below stompy (`std::io`, rustls, tungstenite, serde_json) stays
//! reachable through [`std::error::Error::source`]. As the Rust convention asks, an error's
//! own message does not repeat its source's: `Error::Io` displays "i/o error", and the
//! `io::Error` is its source. [`Error::report`] prints the whole chain on one line.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// Anything that can go wrong in stompy.
///
/// A clean close is not an error: [`StompClient::recv`](crate::StompClient::recv) returns
/// `Ok(None)` for it.
///
/// Its `Display` says what failed, without the cause: the cause is
/// [`source`](std::error::Error::source) (and its sources in turn). Print
/// [`Error::report`] to show them all, or hand the error to an error reporter (`anyhow`,
/// `eyre`) that walks the chain.
///
/// ```
/// use std::error::Error as _;
/// let e = stompy::Error::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
/// assert_eq!(e.to_string(), "i/o error");
/// assert_eq!(e.report().to_string(), "i/o error: connection refused");
/// assert!(e.source().unwrap().downcast_ref::<std::io::Error>().is_some());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The network or operating system failed. Displays "i/o error"; the `io::Error` is the
    /// [`source`](std::error::Error::source).
    Io(io::Error),
    /// The peer sent bytes that are not valid STOMP. Displays "protocol error"; the
    /// [`ProtocolError`] is the [`source`](std::error::Error::source).
    Protocol(ProtocolError),
    /// The broker sent an ERROR frame.
    Broker(Box<BrokerError>),
    /// A wait ran past its deadline.
    Timeout(Timeout),
    /// The operation needs a connection and there is none (closed, or never opened).
    NotConnected(String),
    /// The caller asked for something the negotiated protocol version or state forbids.
    Invalid(String),
    /// A message body could not be encoded or decoded as text or JSON. The `serde_json` or
    /// UTF-8 error, when there is one, is the [`source`](std::error::Error::source).
    Body(Box<ContextError>),
    /// The TLS layer failed (certificate, handshake, configuration). The `rustls::Error`
    /// (or the `io::Error` of a failed read), when there is one, is the
    /// [`source`](std::error::Error::source).
    Tls(Box<ContextError>),
    /// The WebSocket layer failed. The `tungstenite::Error`, when there is one, is the
    /// [`source`](std::error::Error::source).
    WebSocket(Box<ContextError>),
    /// The connection was lost and re-established; an open transaction did not survive it.
    TransactionLost(String),
    /// The broker closed the connection without an ERROR frame and without being asked to
    /// (no DISCONNECT): a crash, a restart, a network cut. Seen as
    /// [`StompClient::close_reason`](crate::StompClient::close_reason) after `recv` returned
    /// `Ok(None)`, and by listeners.
    ConnectionClosed,
    /// The connection that asked for this receipt is gone (or it was never asked for on the
    /// current one): the RECEIPT will not come, and the frame may or may not have reached the
    /// broker. Confirmed sends never end a wait this way: they are sent again after a
    /// reconnect, and their receipt is asked for again.
    ReceiptLost(String),
    /// Confirmed sends are still waiting for their receipts (see
    /// [`StompClient::take_unconfirmed`](crate::StompClient::take_unconfirmed)).
    Unconfirmed {
        /// How many.
        count: usize,
    },
    /// Every address in the failover list was tried and none accepted the connection. The
    /// last attempt's error is the [`source`](std::error::Error::source).
    ConnectFailed {
        /// How many connection attempts were made.
        attempts: u32,
        /// The last attempt's error.
        last: Box<Error>,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(_) => f.write_str("i/o error"),
            Error::Protocol(_) => f.write_str("protocol error"),
            Error::Broker(b) => write!(f, "broker error: {b}"),
            Error::Timeout(t) => write!(f, "timed out: {t}"),
            Error::NotConnected(s) => write!(f, "not connected: {s}"),
            Error::Invalid(s) => write!(f, "invalid request: {s}"),
            Error::Body(c) => write!(f, "body error: {c}"),
            Error::Tls(c) => write!(f, "tls error: {c}"),
            Error::WebSocket(c) => write!(f, "websocket error: {c}"),
            Error::TransactionLost(id) => {
                write!(
                    f,
                    "connection was re-established; transaction {id} was lost"
                )
            }
            Error::ConnectionClosed => {
                f.write_str("the broker closed the connection without DISCONNECT or ERROR")
            }
            Error::ReceiptLost(id) => {
                write!(f, "receipt {id:?} will not come: its connection was lost")
            }
            Error::Unconfirmed { count } => {
                write!(f, "{count} confirmed sends are still unconfirmed")
            }
            Error::ConnectFailed { attempts, .. } => {
                write!(f, "could not connect to any broker ({attempts} attempts)")
            }
        }
    }
}

impl StdError for Error {
    /// The `io::Error`, [`ProtocolError`], the lower layer's error of a [`ContextError`]
    /// (not the `ContextError` itself, whose message the variant displays), or the last
    /// error of [`Error::ConnectFailed`].
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Protocol(p) => Some(p),
            Error::Body(c) | Error::Tls(c) | Error::WebSocket(c) => c.source(),
            Error::ConnectFailed { last, .. } => Some(&**last),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(p: ProtocolError) -> Self {
        Error::Protocol(p)
    }
}

impl Error {
    /// The error with all its causes on one line, for people to read: "context: cause:
    /// cause". See [`ErrorChain`].
    ///
    /// ```
    /// let io = std::io::Error::other("connection reset by peer");
    /// let e = stompy::Error::from(io);
    /// assert_eq!(format!("{}", e.report()), "i/o error: connection reset by peer");
    /// ```
    pub fn report(&self) -> ErrorChain<'_> {
        ErrorChain::new(self)
    }

    /// The ERROR frame's details, when this error came from the broker.
    pub fn broker_error(&self) -> Option<&BrokerError> {
        match self {
            Error::Broker(b) => Some(b),
            Error::ConnectFailed { last, .. } => last.broker_error(),
            _ => None,
        }
    }

    /// True for a connection failure that retrying will not cure: the broker refused the
    /// CONNECT (bad login), the certificate or TLS settings are wrong, the WebSocket upgrade
    /// was refused, the settings are invalid, or no common protocol version exists. Connect
    /// rounds stop early when every address failed this way.
    pub fn is_permanent(&self) -> bool {
        match self {
            Error::Broker(_) | Error::Tls(_) | Error::WebSocket(_) | Error::Invalid(_) => true,
            Error::Protocol(ProtocolError::UnsupportedVersion(_)) => true,
            Error::ConnectFailed { last, .. } => last.is_permanent(),
            _ => false,
        }
    }

    /// True when the connection cannot be used after this error (I/O, protocol, heart-beat
    /// or write timeout). An ERROR frame, a receive or receipt timeout and a refused request
    /// leave the connection usable.
    pub fn is_fatal(&self) -> bool {
        match self {
            Error::Io(_)
            | Error::Tls(_)
            | Error::WebSocket(_)
            | Error::ConnectFailed { .. }
            | Error::ConnectionClosed => true,
            Error::Protocol(p) => !matches!(
                p,
                ProtocolError::Unexpected(_) | ProtocolError::Backlog { .. }
            ),
            Error::Timeout(t) => matches!(t, Timeout::HeartBeat(_) | Timeout::Write(_)),
            _ => false,
        }
    }

    /// True for a timeout of any kind.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout(_))
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Error {
        Error::Invalid(msg.into())
    }

    /// An [`Error::Tls`] with no lower error.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn tls(context: impl Into<String>) -> Error {
        Error::Tls(Box::new(ContextError::new(context)))
    }

    /// An [`Error::Tls`] caused by `source`.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn tls_caused(context: impl Into<String>, source: impl Into<BoxError>) -> Error {
        Error::Tls(Box::new(ContextError::with_source(context, source)))
    }

    /// An [`Error::WebSocket`] caused by `source`.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub(crate) fn websocket_caused(
        context: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Error {
        Error::WebSocket(Box::new(ContextError::with_source(context, source)))
    }

    /// The same error with `prefix: ` before its context (for TLS, WebSocket and body
    /// errors; others are returned as they are).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn context_prefixed(self, prefix: impl fmt::Display) -> Error {
        let prefixed = |mut c: Box<ContextError>| {
            c.context = format!("{prefix}: {}", c.context);
            c
        };
        match self {
            Error::Tls(c) => Error::Tls(prefixed(c)),
            Error::WebSocket(c) => Error::WebSocket(prefixed(c)),
            Error::Body(c) => Error::Body(prefixed(c)),
            other => other,
        }
    }

    /// An [`Error::Body`] with no lower error.
    pub(crate) fn body(context: impl Into<String>) -> Error {
        Error::Body(Box::new(ContextError::new(context)))
    }

    /// An [`Error::Body`] caused by `source`.
    pub(crate) fn body_caused(context: impl Into<String>, source: impl Into<BoxError>) -> Error {
        Error::Body(Box::new(ContextError::with_source(context, source)))
    }
}

/// Any error, as a lower layer returns it.
type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What stompy was doing when a lower layer failed, and that layer's error: the payload of
/// [`Error::Tls`], [`Error::WebSocket`] and [`Error::Body`].
///
/// Its `Display` is the context alone ("handshake with localhost failed"); the lower layer's
/// error (a `rustls::Error`, `tungstenite::Error`, `serde_json::Error`, `io::Error`...) is
/// its [`source`](std::error::Error::source), and the source of the [`Error`] that carries
/// it. Cloning shares the source.
///
/// ```
/// use std::error::Error as _;
/// use stompy::{ContextError, Error};
/// let json = serde_json::from_str::<u32>("x").unwrap_err();
/// let e = Error::Body(Box::new(ContextError::with_source("invalid JSON body", json)));
/// assert_eq!(e.to_string(), "body error: invalid JSON body");
/// assert!(e.source().unwrap().is::<serde_json::Error>());
/// assert_eq!(
///     e.report().to_string(),
///     "body error: invalid JSON body: expected value at line 1 column 1"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct ContextError {
    context: String,
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl ContextError {
    /// An error with a message and no lower error.
    pub fn new(context: impl Into<String>) -> Self {
        ContextError {
            context: context.into(),
            source: None,
        }
    }

    /// What was being done (`context`) when `source` happened.
    pub fn with_source(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        ContextError {
            context: context.into(),
            source: Some(Arc::from(source.into())),
        }
    }

    /// What was being done, without the cause.
    pub fn context(&self) -> &str {
        &self.context
    }
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)
    }
}

impl StdError for ContextError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        let source: &(dyn StdError + 'static) = self.source.as_deref()?;
        Some(source)
    }
}

/// Prints an error and its chain of [`source`](std::error::Error::source)s on one line,
/// separated by `": "`: "i/o error: connect to 127.0.0.1:61613: Connection refused (os error
/// 111)". Made by [`Error::report`], or by [`ErrorChain::new`] for any error.
///
/// A cause whose message the previous one already ends with is left out: some libraries both
/// print their cause and return it as the source, and it is shown once.
///
/// ```
/// use stompy::ErrorChain;
/// let e = std::io::Error::other("disk full");
/// assert_eq!(ErrorChain::new(&e).to_string(), "disk full");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(&'a (dyn StdError + 'static));

impl<'a> ErrorChain<'a> {
    /// The chain of `error`.
    pub fn new(error: &'a (dyn StdError + 'static)) -> Self {
        ErrorChain(error)
    }
}

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last = self.0.to_string();
        f.write_str(&last)?;
        let mut next = self.0.source();
        while let Some(e) = next {
            let msg = e.to_string();
            if !msg.is_empty() && !last.ends_with(&msg) {
                write!(f, ": {msg}")?;
            }
            last = msg;
            next = e.source();
        }
        Ok(())
    }
}

/// A copy of `e` that keeps its kind, its OS error code and the messages of its causes (their
/// types are lost unless they are a [`ContextError`]): errors are not `Clone`.
pub(crate) fn copy_io(e: &io::Error) -> io::Error {
    if let Some(code) = e.raw_os_error() {
        return io::Error::from_raw_os_error(code);
    }
    match e.get_ref() {
        Some(inner) => match inner.downcast_ref::<ContextError>() {
            Some(c) => io::Error::new(e.kind(), c.clone()),
            None => io::Error::new(e.kind(), Copied::of(inner)),
        },
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

/// The messages of an error and its sources, copied.
#[derive(Debug)]
struct Copied {
    message: String,
    source: Option<Box<Copied>>,
}

impl Copied {
    fn of(e: &(dyn StdError + 'static)) -> Copied {
        Copied {
            message: e.to_string(),
            source: e.source().map(|s| Box::new(Copied::of(s))),
        }
    }
}

impl fmt::Display for Copied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Copied {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        let source: &(dyn StdError + 'static) = self.source.as_deref()?;
        Some(source)
    }
}

impl From<std::convert::Infallible> for Error {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

impl From<BrokerError> for Error {
    fn from(b: BrokerError) -> Self {
        Error::Broker(Box::new(b))
    }
}

/// Which wait expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timeout {
    /// Opening the TCP (or TLS, or WebSocket) connection.
    Connect(Duration),
    /// Waiting for the CONNECTED frame.
    Connected(Duration),
    /// Waiting for a RECEIPT.
    Receipt(Duration),
    /// The broker sent nothing (not even a heart-beat) for longer than allowed.
    HeartBeat(Duration),
    /// `recv_timeout` found no frame in time.
    Recv(Duration),
    /// The broker did not read what the client wrote in time.
    Write(Duration),
    /// Confirmed sends were not all confirmed in time (a full window, or
    /// [`wait_for_confirms`](crate::StompClient::wait_for_confirms)).
    Confirm(Duration),
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, d) = match self {
            Timeout::Connect(d) => ("connect", d),
            Timeout::Connected(d) => ("waiting for CONNECTED", d),
            Timeout::Receipt(d) => ("waiting for receipt", d),
            Timeout::HeartBeat(d) => ("no heart-beat from broker", d),
            Timeout::Recv(d) => ("no frame received", d),
            Timeout::Write(d) => ("broker not reading", d),
            Timeout::Confirm(d) => ("waiting for confirmed sends", d),
        };
        write!(f, "{what} after {d:?}")
    }
}

/// An ERROR frame from the broker: its `message` header, body and `receipt-id`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerError {
    /// The `message` header (empty when the broker sent none).
    pub message: String,
    /// The body, decoded lossily as UTF-8.
    pub body: String,
    /// The `receipt-id` header, when the error answers a frame that asked for a receipt.
    pub receipt_id: Option<String>,
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.message.is_empty() {
            "ERROR frame"
        } else {
            &self.message
        })?;
        let first_line = self.body.lines().next().unwrap_or("").trim();
        if !first_line.is_empty() && first_line != self.message {
            write!(f, ": {first_line}")?;
        }
        Ok(())
    }
}

/// Why bytes from the peer are not valid STOMP. Each limit error carries the size seen and the
/// limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A header line (or the command line) is longer than [`Limits::max_header_line`](crate::Limits).
    #[error("header line is too long: {len} > {max} bytes")]
    HeaderLineTooLong {
        /// Bytes seen so far in the line.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More headers than [`Limits::max_headers`](crate::Limits).
    #[error("too many headers: {count} > {max}")]
    TooManyHeaders {
        /// Headers seen.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The body is larger than [`Limits::max_body`](crate::Limits).
    #[error("body is too large: {size} > {max} bytes")]
    BodyTooLarge {
        /// Declared (content-length) or seen body size.
        size: u64,
        /// The limit.
        max: usize,
    },
    /// `content-length` is not a non-negative decimal number.
    #[error("invalid content-length: {0:?}")]
    InvalidContentLength(String),
    /// The body announced by `content-length` is not followed by a NUL octet.
    #[error("frame body is not terminated by NUL after content-length bytes")]
    MissingNul,
    /// The command line names no known command.
    #[error("unknown command: {0:?}")]
    UnknownCommand(String),
    /// A header line has no `:`.
    #[error("header line has no colon: {0:?}")]
    MalformedHeader(String),
    /// A backslash escape the protocol version does not define.
    #[error("undefined escape sequence {0:?} in header")]
    InvalidEscape(String),
    /// A header or command is not valid UTF-8.
    #[error("header is not valid UTF-8")]
    InvalidUtf8,
    /// A frame arrived that the client did not expect in its state.
    #[error("unexpected frame: {0}")]
    Unexpected(String),
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed in the middle of a frame ({0} bytes buffered)")]
    Truncated(usize),
    /// A heart-beat header is malformed.
    #[error("invalid heart-beat header: {0:?}")]
    InvalidHeartBeat(String),
    /// Frames arrived faster than the application received them while it waited for
    /// something else (a receipt, a slow write); they are kept, and the wait gives up so the
    /// application can receive them. Not fatal.
    #[error(
        "{bytes} bytes of frames are waiting to be received (limit {max}); receive them first"
    )]
    Backlog {
        /// Bytes held.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The broker picked a protocol version the client did not offer.
    #[error("unsupported protocol version: {0:?}")]
    UnsupportedVersion(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_stay_small_enough_to_return_cheaply() {
        assert!(
            std::mem::size_of::<Error>() <= 48,
            "{}",
            std::mem::size_of::<Error>()
        );
    }

    #[test]
    fn messages_carry_the_numbers_and_no_trailing_period() {
        let e = Error::from(ProtocolError::BodyTooLarge { size: 10, max: 4 });
        assert_eq!(e.to_string(), "protocol error");
        assert_eq!(
            e.report().to_string(),
            "protocol error: body is too large: 10 > 4 bytes"
        );
        let b = BrokerError {
            message: "bad".into(),
            body: "bad\nmore".into(),
            receipt_id: None,
        };
        assert_eq!(Error::from(b).to_string(), "broker error: bad");
        assert!(Error::Timeout(Timeout::Recv(Duration::from_secs(1))).is_timeout());
    }

    #[test]
    fn fatal_and_permanent_errors_are_told_apart() {
        assert!(Error::Io(io::Error::other("x")).is_fatal());
        assert!(!Error::Timeout(Timeout::Recv(Duration::ZERO)).is_fatal());
        assert!(Error::Timeout(Timeout::HeartBeat(Duration::ZERO)).is_fatal());
        assert!(!Error::Protocol(ProtocolError::Unexpected("x".into())).is_fatal());
        assert!(Error::tls("bad cert").is_permanent());
        assert!(!Error::Io(io::Error::other("x")).is_permanent());
    }

    /// The messages of an error and its sources, top first.
    fn chain(e: &(dyn StdError + 'static)) -> Vec<String> {
        let mut messages = vec![e.to_string()];
        let mut next = e.source();
        while let Some(e) = next {
            messages.push(e.to_string());
            next = e.source();
        }
        messages
    }

    #[test]
    fn every_cause_is_a_source_and_printed_once() {
        let refused = io::Error::from_raw_os_error(111);
        let io_msg = refused.to_string();
        let e = Error::Io(refused);
        assert_eq!(chain(&e), ["i/o error".to_owned(), io_msg.clone()]);
        assert_eq!(e.report().to_string(), format!("i/o error: {io_msg}"));

        let json = serde_json::from_slice::<u32>(b"x").unwrap_err();
        let e = Error::body_caused("invalid JSON body", json);
        assert_eq!(e.to_string(), "body error: invalid JSON body");
        let source = e.source().unwrap();
        assert!(source.is::<serde_json::Error>());
        assert_eq!(chain(&e).len(), 2);
        assert_eq!(
            e.report().to_string(),
            format!("body error: invalid JSON body: {source}")
        );

        let e = Error::tls("no trusted root certificates");
        assert!(e.source().is_none());
        assert_eq!(e.report().to_string(), e.to_string());

        let e = Error::ConnectFailed {
            attempts: 3,
            last: Box::new(Error::Io(io::Error::from_raw_os_error(111))),
        };
        assert_eq!(
            e.to_string(),
            "could not connect to any broker (3 attempts)"
        );
        assert_eq!(
            e.report().to_string(),
            format!("could not connect to any broker (3 attempts): i/o error: {io_msg}")
        );
        let last = e.source().unwrap().downcast_ref::<Error>().unwrap();
        assert!(matches!(last, Error::Io(io) if io.raw_os_error() == Some(111)));
    }

    /// An error that prints its source and also returns it, as some libraries do.
    #[derive(Debug)]
    struct Both(io::Error);

    impl fmt::Display for Both {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "IO error: {}", self.0)
        }
    }

    impl StdError for Both {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_already_printed_by_the_error_above_is_not_repeated() {
        let e = Error::websocket_caused("connection failed", Both(io::Error::other("reset")));
        assert_eq!(
            e.report().to_string(),
            "websocket error: connection failed: IO error: reset"
        );
    }

    #[test]
    fn copies_keep_the_os_error_and_the_messages_of_the_chain() {
        let os = copy_io(&io::Error::from_raw_os_error(111));
        assert_eq!(os.raw_os_error(), Some(111));
        let ctx = io::Error::new(
            io::ErrorKind::NotFound,
            ContextError::with_source("cannot resolve \"x:1\"", io::Error::other("no such host")),
        );
        let copy = copy_io(&ctx);
        assert_eq!(copy.kind(), io::ErrorKind::NotFound);
        assert_eq!(chain(&copy), chain(&ctx));
        let wrapped = io::Error::new(io::ErrorKind::InvalidData, Both(io::Error::other("x")));
        assert_eq!(chain(&copy_io(&wrapped)), chain(&wrapped));
        let simple = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(chain(&copy_io(&simple)), chain(&simple));
    }
}
