//! Errors: one `#[non_exhaustive]` [`Error`], with the detail in sub-enums.

use std::fmt;
use std::io;
use std::time::Duration;

/// Anything that can go wrong in stompy.
///
/// A clean close is not an error: [`StompClient::recv`](crate::StompClient::recv) returns
/// `Ok(None)` for it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The network or operating system failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The peer sent bytes that are not valid STOMP.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The broker sent an ERROR frame.
    #[error("broker error: {0}")]
    Broker(Box<BrokerError>),
    /// A wait ran past its deadline.
    #[error("timed out: {0}")]
    Timeout(Timeout),
    /// The operation needs a connection and there is none (closed, or never opened).
    #[error("not connected: {0}")]
    NotConnected(String),
    /// The caller asked for something the negotiated protocol version or state forbids.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A message body could not be decoded as text or JSON.
    #[error("body error: {0}")]
    Body(String),
    /// The TLS layer failed (certificate, handshake, configuration).
    #[error("tls error: {0}")]
    Tls(String),
    /// The WebSocket layer failed.
    #[error("websocket error: {0}")]
    WebSocket(String),
    /// The connection was lost and re-established; an open transaction did not survive it.
    #[error("connection was re-established; transaction {0} was lost")]
    TransactionLost(String),
    /// The broker closed the connection without an ERROR frame and without being asked to
    /// (no DISCONNECT): a crash, a restart, a network cut. Seen as
    /// [`StompClient::close_reason`](crate::StompClient::close_reason) after `recv` returned
    /// `Ok(None)`, and by listeners.
    #[error("the broker closed the connection without DISCONNECT or ERROR")]
    ConnectionClosed,
    /// The connection that asked for this receipt is gone (or it was never asked for on the
    /// current one): the RECEIPT will not come, and the frame may or may not have reached the
    /// broker. Confirmed sends never end a wait this way: they are sent again after a
    /// reconnect, and their receipt is asked for again.
    #[error("receipt {0:?} will not come: its connection was lost")]
    ReceiptLost(String),
    /// Confirmed sends are still waiting for their receipts (see
    /// [`StompClient::take_unconfirmed`](crate::StompClient::take_unconfirmed)).
    #[error("{count} confirmed sends are still unconfirmed")]
    Unconfirmed {
        /// How many.
        count: usize,
    },
    /// Every address in the failover list was tried and none accepted the connection.
    #[error("could not connect to any broker ({attempts} attempts); last error: {last}")]
    ConnectFailed {
        /// How many connection attempts were made.
        attempts: u32,
        /// The last attempt's error.
        last: Box<Error>,
    },
}

impl Error {
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
        assert_eq!(
            e.to_string(),
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
        assert!(Error::Tls("bad cert".into()).is_permanent());
        assert!(!Error::Io(io::Error::other("x")).is_permanent());
    }
}
