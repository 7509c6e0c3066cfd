//! Transports: bytes in and out over mio. Plain TCP, TLS (rustls) over it, and WebSocket
//! (tungstenite) over either. A client's handshakes run blocking within the connect deadline;
//! after them every layer reads and writes without blocking, and says `WouldBlock` when it
//! needs the socket. The embedded broker uses the same layers on accepted sockets; the server
//! handshakes are its own (`broker::link`, `broker::ws_accept`) and advance without blocking.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use crate::error::{Error, Timeout};

mod address;
pub(crate) mod sock;
mod tcp;
#[cfg(feature = "tls")]
pub(crate) mod tls;
#[cfg(feature = "tls")]
pub(crate) mod tls_stream;
#[cfg(feature = "websocket")]
pub(crate) mod ws;

pub use address::{Address, Scheme};
use tcp::{connect_tcp, into_mio};
pub(crate) use tcp::{resolve, SocketOptions};
#[cfg(feature = "tls")]
pub use tls::TlsConfig;

#[cfg(feature = "tls")]
use tls_stream::TlsStream;
#[cfg(feature = "websocket")]
use ws::WsStream;

/// One connection's byte stream, registered with a mio `Poll` through [`Stream::tcp_mut`].
pub(crate) enum Stream {
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream>),
    #[cfg(feature = "websocket")]
    Ws(Box<WsStream>),
}

impl Stream {
    /// The underlying socket, for mio registration.
    pub(crate) fn tcp_mut(&mut self) -> &mut TcpStream {
        match self {
            Stream::Tcp(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.sock_mut().tcp_mut(),
            #[cfg(feature = "websocket")]
            Stream::Ws(w) => w.sock_mut().tcp_mut(),
        }
    }

    /// True when each write goes out as a message of its own (WebSocket): its writer gives
    /// it one STOMP frame at a time.
    pub(crate) fn frame_per_write(&self) -> bool {
        match self {
            #[cfg(feature = "websocket")]
            Stream::Ws(_) => true,
            _ => false,
        }
    }

    /// Bytes accepted by a layer (TLS, WebSocket) but not yet on the socket.
    pub(crate) fn wants_write(&self) -> bool {
        match self {
            Stream::Tcp(_) => false,
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.wants_write(),
            #[cfg(feature = "websocket")]
            Stream::Ws(w) => w.wants_write(),
        }
    }

    /// Pushes layered bytes to the socket; `Ok(true)` when nothing is left, `Ok(false)` when
    /// the socket is full.
    pub(crate) fn flush_layers(&mut self) -> io::Result<bool> {
        match self {
            Stream::Tcp(_) => Ok(true),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.flush_tls(),
            #[cfg(feature = "websocket")]
            Stream::Ws(w) => w.flush_ws(),
        }
    }

    /// Closes the layers as far as the socket takes it now (TLS `close_notify`, WebSocket
    /// Close), then the socket.
    pub(crate) fn shutdown(&mut self) {
        self.close_layers(true);
        let _ = self.tcp_mut().shutdown(std::net::Shutdown::Both);
    }

    /// Closes the layers as far as the socket takes it now, leaving the socket open. A
    /// WebSocket Close says 1000 (normal) when `normal`, else 1008 (policy violation: the
    /// STOMP peer was refused with an ERROR).
    pub(crate) fn close_layers(&mut self, normal: bool) {
        match self {
            Stream::Tcp(_) => {}
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.close(),
            #[cfg(feature = "websocket")]
            Stream::Ws(w) => w.close(normal),
        }
        #[cfg(not(feature = "websocket"))]
        let _ = normal;
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.read(buf),
            #[cfg(feature = "websocket")]
            Stream::Ws(w) => w.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.write(buf),
            #[cfg(feature = "websocket")]
            Stream::Ws(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.flush(),
            #[cfg(feature = "websocket")]
            Stream::Ws(w) => w.flush(),
        }
    }
}

/// An [`Error`] for an I/O error from a [`Stream`]: TLS and WebSocket failures carried inside
/// it become [`Error::Tls`] and [`Error::WebSocket`], with the rustls or tungstenite error as
/// their source.
pub(crate) fn io_error(e: io::Error) -> Error {
    #[cfg(feature = "tls")]
    let e = match take_inner::<rustls::Error>(e) {
        Ok(tls) => return tls_stream::tls_error("connection failed", tls),
        Err(e) => e,
    };
    #[cfg(feature = "websocket")]
    let e = match take_inner::<tungstenite::Error>(e) {
        Ok(ws) => return ws::ws_failure(ws),
        Err(e) => e,
    };
    Error::Io(e)
}

/// The error of type `T` inside an I/O error (a layer's error passed up through `Read` or
/// `Write`), if it is one; else the I/O error, unchanged.
#[cfg(any(feature = "tls", feature = "websocket"))]
fn take_inner<T: std::error::Error + Send + Sync + 'static>(e: io::Error) -> Result<T, io::Error> {
    if !e.get_ref().is_some_and(|inner| inner.is::<T>()) {
        return Err(e);
    }
    let kind = e.kind();
    match e.into_inner().map(|inner| inner.downcast::<T>()) {
        Some(Ok(inner)) => Ok(*inner),
        Some(Err(other)) => Err(io::Error::new(kind, other)),
        None => Err(kind.into()),
    }
}

/// Settings of the transport layers, for every connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct TransportOptions {
    pub(crate) socket: SocketOptions,
    /// TLS settings for addresses without their own.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<TlsConfig>,
    /// The settings for TLS addresses when neither they nor the client have any: the
    /// defaults, kept (and shared by clones) so that their rustls configuration is built once.
    #[cfg(feature = "tls")]
    pub(crate) default_tls: TlsConfig,
    /// The largest WebSocket message accepted.
    pub(crate) max_ws_message: usize,
}

/// Opens the transport `addr.scheme` asks for, to the resolved `ip`, within `timeout`: TCP,
/// then the TLS and WebSocket handshakes.
pub(crate) fn open(
    addr: &Address,
    ip: SocketAddr,
    timeout: Duration,
    opts: &TransportOptions,
) -> Result<Stream, Error> {
    let deadline = Instant::now() + timeout;
    check_scheme(addr)?;
    let tcp = connect_tcp(ip, timeout, &opts.socket)?;
    if addr.scheme == Scheme::Tcp {
        return Ok(Stream::Tcp(into_mio(tcp)?));
    }
    let sock = sock::Sock::handshaking(tcp, deadline)?;
    layered(addr, sock, opts).map_err(|e| match e {
        Error::Timeout(Timeout::Connect(_)) => Error::Timeout(Timeout::Connect(timeout)),
        e => e,
    })
}

/// TLS settings on a plain address would be ignored: refuse them rather than connect in the
/// clear. Refuse also the schemes whose feature is not compiled in.
fn check_scheme(addr: &Address) -> Result<(), Error> {
    #[cfg(feature = "tls")]
    if addr.tls.is_some() && !addr.scheme.is_tls() {
        return Err(Error::invalid(format!(
            "{addr} has TLS settings but a plain scheme; use stomp+ssl:// or wss://"
        )));
    }
    if addr.scheme.is_tls() && !cfg!(feature = "tls") {
        return Err(Error::invalid(format!(
            "{addr} needs TLS, which this build lacks (feature `tls`)"
        )));
    }
    if addr.scheme.is_websocket() && !cfg!(feature = "websocket") {
        return Err(Error::invalid(format!(
            "{addr} needs WebSocket, which this build lacks (feature `websocket`)"
        )));
    }
    Ok(())
}

/// Runs TLS if the scheme asks for it.
#[cfg_attr(not(feature = "tls"), allow(unused_variables))]
fn secure(addr: &Address, sock: sock::Sock, opts: &TransportOptions) -> Result<Base, Error> {
    #[cfg(feature = "tls")]
    if addr.scheme.is_tls() {
        let cfg = addr
            .tls
            .as_ref()
            .or(opts.tls.as_ref())
            .unwrap_or(&opts.default_tls);
        let tls = TlsStream::connect(sock, &addr.host, cfg)?;
        return Ok(Base::Tls(Box::new(tls)));
    }
    Ok(Base::Plain(sock))
}

/// TLS and WebSocket handshakes as the scheme asks, then non-blocking mode.
fn layered(addr: &Address, sock: sock::Sock, opts: &TransportOptions) -> Result<Stream, Error> {
    let mut base = secure(addr, sock, opts)?;
    #[cfg(feature = "websocket")]
    if addr.scheme.is_websocket() {
        let mut ws = WsStream::connect(base, &ws_url(addr), opts.max_ws_message)?;
        ws.sock_mut().finish_handshake()?;
        return Ok(Stream::Ws(Box::new(ws)));
    }
    base.sock_mut().finish_handshake()?;
    Ok(match base {
        Base::Plain(sock) => Stream::Tcp(sock.into_tcp()),
        #[cfg(feature = "tls")]
        Base::Tls(tls) => Stream::Tls(tls),
    })
}

/// The stream under WebSocket, or the whole stream without it: the socket, or TLS over it.
pub(crate) enum Base {
    Plain(sock::Sock),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream>),
}

impl Base {
    pub(crate) fn sock_mut(&mut self) -> &mut sock::Sock {
        match self {
            Base::Plain(s) => s,
            #[cfg(feature = "tls")]
            Base::Tls(t) => t.sock_mut(),
        }
    }

    /// TLS records waiting for the socket.
    #[cfg(feature = "websocket")]
    pub(crate) fn wants_write(&self) -> bool {
        match self {
            Base::Plain(_) => false,
            #[cfg(feature = "tls")]
            Base::Tls(t) => t.wants_write(),
        }
    }
}

impl Read for Base {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Base::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Base::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Base {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Base::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Base::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Base::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Base::Tls(t) => t.flush(),
        }
    }
}

/// The URL of the WebSocket upgrade request.
#[cfg(feature = "websocket")]
fn ws_url(addr: &Address) -> String {
    let scheme = if addr.scheme.is_tls() { "wss" } else { "ws" };
    let path = if addr.path.is_empty() {
        "/"
    } else {
        &addr.path
    };
    format!("{scheme}://{}{path}", addr.host_port())
}
