//! [`WsStream`]: STOMP over WebSocket with tungstenite. A client's handshake offers the STOMP
//! subprotocols and runs within the connect deadline; the broker runs the server's handshake
//! (`broker::ws_accept`) and wraps what it gives with [`WsStream::new`]. After the handshake
//! the stream reads and writes bytes like a socket, except that each write goes out as one
//! message (text when it is UTF-8, binary otherwise): its writer gives it one STOMP frame at a
//! time (`Stream::frame_per_write`; the output buffer knows where its frames end), as RabbitMQ
//! and ActiveMQ send them, so that a peer that reads one frame per message loses nothing. The
//! payloads of incoming text and binary messages are read in order, however the peer split or
//! joined its frames.

use std::io::{self, ErrorKind, Read, Write};

use tungstenite::client::ClientRequestBuilder;
use tungstenite::handshake::HandshakeError;
use tungstenite::http::Uri;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Bytes, Message, Utf8Bytes, WebSocket};

use super::sock::Sock;
use super::Base as Inner;
use crate::error::Error;

/// The STOMP subprotocols offered in `Sec-WebSocket-Protocol`, lowest version first.
pub(crate) const SUBPROTOCOLS: [&str; 3] = ["v10.stomp", "v11.stomp", "v12.stomp"];

/// A WebSocket connection, either side's, with a byte-stream face.
pub(crate) struct WsStream {
    ws: WebSocket<Inner>,
    /// The message being read, and how much of it was handed out.
    input: Bytes,
    pos: usize,
    /// Written messages not yet all on the socket, which was full.
    unflushed: bool,
    /// Messages queued since the last flush (written together by the next one).
    queued: bool,
    /// The peer closed (Close frame, or the connection ended).
    closed: bool,
}

impl WsStream {
    /// Runs the WebSocket handshake for `url` (`ws://host:port/path`) over `inner`, offering
    /// the STOMP subprotocols. Messages larger than `max_message` bytes are refused.
    ///
    /// # Errors
    /// [`Error::WebSocket`] when the server refuses the upgrade or answers badly,
    /// [`Error::Timeout`] when the deadline passes, [`Error::Tls`] for a TLS failure.
    pub(crate) fn connect(inner: Inner, url: &str, max_message: usize) -> Result<WsStream, Error> {
        let uri: Uri = url
            .parse()
            .map_err(|e| Error::websocket_caused(format!("invalid url {url:?}"), e))?;
        let request = SUBPROTOCOLS
            .iter()
            .fold(ClientRequestBuilder::new(uri), |r, p| {
                r.with_sub_protocol(*p)
            });
        let config = WebSocketConfig::default()
            .max_message_size(Some(max_message))
            .max_frame_size(Some(max_message));
        match tungstenite::client::client_with_config(request, inner, Some(config)) {
            Ok((ws, response)) => {
                log::debug!(
                    "websocket {url}: subprotocol {:?}",
                    response.headers().get("Sec-WebSocket-Protocol")
                );
                Ok(WsStream::new(ws))
            }
            Err(HandshakeError::Interrupted(_)) => Err(connect_timeout()),
            Err(HandshakeError::Failure(e)) => Err(handshake_error(e, url)),
        }
    }

    /// The stream after a handshake, either side's.
    pub(crate) fn new(ws: WebSocket<Inner>) -> WsStream {
        WsStream {
            ws,
            input: Bytes::new(),
            pos: 0,
            unflushed: false,
            queued: false,
            closed: false,
        }
    }

    pub(crate) fn sock_mut(&mut self) -> &mut Sock {
        self.ws.get_mut().sock_mut()
    }

    /// Messages (or the TLS records under them) waiting for the socket.
    pub(crate) fn wants_write(&self) -> bool {
        self.unflushed || self.queued || self.ws.get_ref().wants_write()
    }

    /// Writes pending messages; `Ok(true)` when none is left, `Ok(false)` when the socket is
    /// full.
    pub(crate) fn flush_ws(&mut self) -> io::Result<bool> {
        self.queued = false;
        match self.ws.flush() {
            Ok(()) => {
                self.unflushed = false;
                Ok(true)
            }
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                self.unflushed = true;
                Ok(false)
            }
            Err(e) if is_closed(&e) => {
                self.unflushed = false;
                Ok(true)
            }
            Err(e) => Err(into_io(e)),
        }
    }

    /// Starts the closing handshake, as far as the socket takes it now, with status 1000
    /// (normal) or 1008 (policy violation).
    pub(crate) fn close(&mut self, normal: bool) {
        use tungstenite::protocol::frame::coding::CloseCode;
        use tungstenite::protocol::CloseFrame;
        if self.ws.can_write() {
            let code = if normal {
                CloseCode::Normal
            } else {
                CloseCode::Policy
            };
            let _ = self.ws.close(Some(CloseFrame {
                code,
                reason: "".into(),
            }));
        }
        let _ = self.flush_ws();
    }

    /// Reads the next data message into `input`; `Ok(false)` when the peer has closed.
    fn next_message(&mut self) -> io::Result<bool> {
        loop {
            if self.closed {
                return Ok(false);
            }
            match self.ws.read() {
                Ok(Message::Binary(b)) => self.input = b,
                Ok(Message::Text(t)) => self.input = t.into(),
                Ok(Message::Close(_)) => {
                    self.closed = true;
                    let _ = self.flush_ws();
                    continue;
                }
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e)) => return Err(e),
                Err(e) if is_closed(&e) => {
                    self.closed = true;
                    continue;
                }
                Err(e) => return Err(into_io(e)),
            }
            self.pos = 0;
            if !self.input.is_empty() {
                return Ok(true);
            }
        }
    }
}

impl Read for WsStream {
    /// Bytes of the current message, then of the next; `WouldBlock` when no message is
    /// complete, `Ok(0)` once the peer closed.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.input.len() && !self.next_message()? {
            return Ok(0);
        }
        let n = buf.len().min(self.input.len() - self.pos);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for WsStream {
    /// Queues all of `buf` (one frame, or a heart-beat) as one message, text when it is UTF-8,
    /// otherwise binary; `WouldBlock` while earlier messages wait for a full socket.
    /// [`Write::flush`] (or `flush_ws`) puts them on it.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.unflushed && !self.flush_ws()? {
            return Err(ErrorKind::WouldBlock.into());
        }
        let bytes = Bytes::copy_from_slice(buf);
        let message = match Utf8Bytes::try_from(bytes.clone()) {
            Ok(text) => Message::Text(text),
            Err(_) => Message::Binary(bytes),
        };
        // Queued: tungstenite writes its buffer out once it passes its write buffer size, and
        // the caller flushes after its last write (`flush_layers`), so a batch of frames costs
        // a system call per buffer, not per frame.
        match self.ws.write(message) {
            Ok(()) => self.queued = true,
            // The message is queued; the socket is full.
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                self.unflushed = true;
            }
            Err(e) => return Err(into_io(e)),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.flush_ws()? {
            Ok(())
        } else {
            Err(ErrorKind::WouldBlock.into())
        }
    }
}

/// The end of the connection, orderly or not: read as end of stream.
fn is_closed(e: &tungstenite::Error) -> bool {
    use tungstenite::error::ProtocolError;
    matches!(
        e,
        tungstenite::Error::ConnectionClosed
            | tungstenite::Error::AlreadyClosed
            | tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)
    )
}

/// A WebSocket protocol error as an I/O error the transport turns back into
/// [`Error::WebSocket`].
pub(crate) fn into_io(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        other => io::Error::new(ErrorKind::InvalidData, other),
    }
}

/// [`Error::WebSocket`] for a failure after the handshake, with `e` as the source and a hint
/// for the usual surprise.
pub(crate) fn ws_failure(e: tungstenite::Error) -> Error {
    let context = match e {
        tungstenite::Error::Utf8(_) => {
            "the server sent a text message that is not UTF-8 (a broker that sends STOMP frames \
             as text cannot carry binary bodies; RabbitMQ needs web_stomp.ws_frame = binary)"
        }
        _ => "connection failed",
    };
    Error::websocket_caused(context, e)
}

fn connect_timeout() -> Error {
    Error::Timeout(crate::Timeout::Connect(std::time::Duration::ZERO))
}

fn handshake_error(e: tungstenite::Error, url: &str) -> Error {
    match e {
        tungstenite::Error::Io(io) if io.kind() == ErrorKind::TimedOut => connect_timeout(),
        tungstenite::Error::Io(io) => super::io_error(io),
        e @ tungstenite::Error::Http(_) => {
            Error::websocket_caused(format!("{url}: server refused the upgrade"), e)
        }
        other => Error::websocket_caused(format!("{url}: handshake failed"), other),
    }
}
