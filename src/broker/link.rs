//! [`Link`]: one accepted connection's byte stream, as its listener dictates: plain TCP, TLS,
//! WebSocket or WebSocket over TLS. The streams are the client's own (`crate::transport`) over
//! a non-blocking socket; the server's side of each handshake is here (TLS) and in
//! [`super::ws_accept`] (WebSocket): every handshake advances as the event loop reads and
//! flushes, and never blocks it.

use std::io::{self, ErrorKind, Read, Write};
use std::net::Shutdown;
#[cfg(feature = "tls")]
use std::sync::Arc;

use mio::net::TcpStream;

use super::listener::ListenerKind;
#[cfg(feature = "websocket")]
use super::ws_accept::WsAccept;
#[cfg(any(feature = "tls", feature = "websocket"))]
use crate::transport::sock::Sock;
#[cfg(feature = "tls")]
use crate::transport::tls_stream::TlsStream;
#[cfg(feature = "websocket")]
use crate::transport::Base;
use crate::transport::Stream;

/// What every connection of the broker is set up with.
#[derive(Clone, Default)]
pub(crate) struct Setup {
    /// The server configuration of TLS listeners.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// The largest WebSocket message accepted.
    #[cfg(feature = "websocket")]
    pub(crate) max_ws_message: usize,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup").finish_non_exhaustive()
    }
}

/// An accepted connection's stream.
pub(crate) enum Link {
    /// Ready for STOMP bytes (a TLS handshake still runs inside the first reads).
    Open(Stream),
    /// The WebSocket upgrade is under way.
    #[cfg(feature = "websocket")]
    Upgrading(Box<WsAccept>),
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self {
            Link::Open(Stream::Tcp(_)) => "Tcp",
            #[cfg(feature = "tls")]
            Link::Open(Stream::Tls(_)) => "Tls",
            #[cfg(feature = "websocket")]
            Link::Open(Stream::Ws(_)) => "WebSocket",
            #[cfg(feature = "websocket")]
            Link::Upgrading(_) => "Upgrading",
        };
        f.write_str(what)
    }
}

impl Link {
    /// Wraps a connection accepted by a `kind` listener. No I/O happens here.
    ///
    /// # Errors
    /// When TLS cannot start (the listener was bound without TLS settings, which
    /// `BrokerBuilder` prevents, or rustls refuses).
    #[cfg_attr(
        not(any(feature = "tls", feature = "websocket")),
        allow(unused_variables)
    )]
    pub(crate) fn accept(tcp: TcpStream, kind: ListenerKind, setup: &Setup) -> io::Result<Link> {
        Ok(match kind {
            ListenerKind::Tcp => Link::Open(Stream::Tcp(tcp)),
            #[cfg(feature = "tls")]
            ListenerKind::Tls => Link::Open(Stream::Tls(Box::new(tls(tcp, setup)?))),
            #[cfg(feature = "websocket")]
            ListenerKind::WebSocket => {
                let base = Base::Plain(Sock::new(tcp, None));
                Link::Upgrading(Box::new(WsAccept::start(base, setup.max_ws_message)))
            }
            #[cfg(all(feature = "tls", feature = "websocket"))]
            ListenerKind::WebSocketTls => {
                let base = Base::Tls(Box::new(tls(tcp, setup)?));
                Link::Upgrading(Box::new(WsAccept::start(base, setup.max_ws_message)))
            }
        })
    }

    /// The socket, for mio; `None` once a WebSocket upgrade failed.
    pub(crate) fn tcp_mut(&mut self) -> Option<&mut TcpStream> {
        match self {
            Link::Open(s) => Some(s.tcp_mut()),
            #[cfg(feature = "websocket")]
            Link::Upgrading(a) => a.sock_mut().map(Sock::tcp_mut),
        }
    }

    /// True for plain TCP, where a short read means the socket is empty.
    pub(crate) fn is_plain_tcp(&self) -> bool {
        matches!(self, Link::Open(Stream::Tcp(_)))
    }

    /// True while the WebSocket upgrade runs: it may wait for the socket to take its answer,
    /// so a writable socket is a reason to [`Read::read`] too.
    pub(crate) fn is_upgrading(&self) -> bool {
        match self {
            Link::Open(_) => false,
            #[cfg(feature = "websocket")]
            Link::Upgrading(_) => true,
        }
    }

    /// True when each write goes out as a message of its own (WebSocket, upgraded or not
    /// yet): its writer gives it one STOMP frame at a time.
    pub(crate) fn frame_per_write(&self) -> bool {
        match self {
            Link::Open(s) => s.frame_per_write(),
            #[cfg(feature = "websocket")]
            Link::Upgrading(_) => true,
        }
    }

    /// Bytes accepted by a layer but not yet on the socket.
    pub(crate) fn wants_write(&self) -> bool {
        match self {
            Link::Open(s) => s.wants_write(),
            #[cfg(feature = "websocket")]
            Link::Upgrading(a) => a.wants_write(),
        }
    }

    /// Pushes layered bytes to the socket; `Ok(true)` when nothing is left.
    pub(crate) fn flush_layers(&mut self) -> io::Result<bool> {
        match self {
            Link::Open(s) => s.flush_layers(),
            #[cfg(feature = "websocket")]
            Link::Upgrading(a) => a.flush_tls(),
        }
    }

    /// Ends the layers (TLS `close_notify`, WebSocket Close: 1000 when `normal`, 1008 after
    /// an ERROR) and the socket's sending side.
    pub(crate) fn close_write(&mut self, normal: bool) {
        match self {
            Link::Open(s) => s.close_layers(normal),
            #[cfg(feature = "websocket")]
            Link::Upgrading(_) => {}
        }
        if let Some(tcp) = self.tcp_mut() {
            let _ = tcp.shutdown(Shutdown::Write);
        }
    }

    /// Advances the WebSocket upgrade; true once the link is open.
    fn upgrade(&mut self) -> io::Result<bool> {
        #[cfg(feature = "websocket")]
        if let Link::Upgrading(a) = self {
            return match a.advance()? {
                Some(ws) => {
                    *self = Link::Open(Stream::Ws(Box::new(ws)));
                    Ok(true)
                }
                None => Ok(false),
            };
        }
        Ok(true)
    }
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.upgrade()? {
            return Err(ErrorKind::WouldBlock.into());
        }
        match self {
            Link::Open(s) => s.read(buf),
            #[cfg(feature = "websocket")]
            Link::Upgrading(_) => Err(ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.upgrade()? {
            return Err(ErrorKind::WouldBlock.into());
        }
        match self {
            Link::Open(s) => s.write(buf),
            #[cfg(feature = "websocket")]
            Link::Upgrading(_) => Err(ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Link::Open(s) => s.flush(),
            #[cfg(feature = "websocket")]
            Link::Upgrading(_) => Ok(()),
        }
    }
}

/// TLS over an accepted socket, with the listeners' server configuration.
#[cfg(feature = "tls")]
fn tls(tcp: TcpStream, setup: &Setup) -> io::Result<TlsStream> {
    let config = setup.tls.clone().ok_or_else(|| {
        io::Error::new(
            ErrorKind::InvalidInput,
            "a TLS listener without TLS settings",
        )
    })?;
    let conn = rustls::ServerConnection::new(config).map_err(|e| {
        let e = crate::Error::tls_caused("cannot start a tls connection", e);
        io::Error::new(ErrorKind::InvalidInput, e.to_string())
    })?;
    Ok(TlsStream::new(conn.into(), Sock::new(tcp, None)))
}
