//! Transports: bytes in and out over mio. Plain TCP here; TLS and WebSocket wrap the same
//! mio `TcpStream`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use crate::client::ClientConfig;
use crate::error::{Error, Timeout};

mod address;
#[cfg(feature = "tls")]
mod tls;

pub use address::{Address, Scheme};
#[cfg(feature = "tls")]
pub use tls::TlsConfig;

/// One connection's byte stream, registered with a mio `Poll` through [`Stream::tcp_mut`].
pub(crate) enum Stream {
    Tcp(TcpStream),
}

impl Stream {
    /// The underlying socket, for mio registration.
    pub(crate) fn tcp_mut(&mut self) -> &mut TcpStream {
        match self {
            Stream::Tcp(s) => s,
        }
    }

    /// Bytes accepted by a layer (TLS, WebSocket) but not yet on the socket.
    pub(crate) fn wants_write(&self) -> bool {
        false
    }

    /// Pushes layered bytes to the socket; `Ok(true)` when nothing is left.
    pub(crate) fn flush_layers(&mut self) -> io::Result<bool> {
        Ok(true)
    }

    pub(crate) fn shutdown(&mut self) {
        let _ = self.tcp_mut().shutdown(std::net::Shutdown::Both);
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
        }
    }
}

/// Socket options applied to every connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct SocketOptions {
    pub(crate) nodelay: bool,
    pub(crate) keepalive: Option<Duration>,
    pub(crate) bind: Option<SocketAddr>,
}

/// Resolves `addr` ("host:port", "[v6]:port") to socket addresses.
pub(crate) fn resolve(addr: &str) -> Result<Vec<SocketAddr>, Error> {
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| {
            Error::Io(io::Error::new(
                e.kind(),
                format!("cannot resolve {addr:?}: {e}"),
            ))
        })?
        .collect();
    if addrs.is_empty() {
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{addr:?} resolves to no address"),
        )));
    }
    Ok(addrs)
}

/// Opens a TCP connection to `addr` within `timeout`, as a blocking std stream.
pub(crate) fn connect_tcp(
    addr: SocketAddr,
    timeout: Duration,
    opts: &SocketOptions,
) -> Result<std::net::TcpStream, Error> {
    let started = Instant::now();
    let stream = match opts.bind {
        None => std::net::TcpStream::connect_timeout(&addr, timeout),
        Some(local) => connect_bound(addr, local, timeout),
    }
    .map_err(|e| match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            Error::Timeout(Timeout::Connect(started.elapsed()))
        }
        _ => Error::Io(io::Error::new(e.kind(), format!("connect to {addr}: {e}"))),
    })?;
    stream.set_nodelay(opts.nodelay)?;
    if let Some(idle) = opts.keepalive {
        set_keepalive(&stream, idle)?;
    }
    Ok(stream)
}

fn connect_bound(
    addr: SocketAddr,
    local: SocketAddr,
    timeout: Duration,
) -> io::Result<std::net::TcpStream> {
    let domain = socket2::Domain::for_address(addr);
    let sock = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    sock.bind(&local.into())?;
    sock.connect_timeout(&addr.into(), timeout)?;
    Ok(sock.into())
}

fn set_keepalive(stream: &std::net::TcpStream, idle: Duration) -> io::Result<()> {
    let sock = socket2::SockRef::from(stream);
    sock.set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(idle))
}

/// Makes a connected blocking stream non-blocking and hands it to mio.
pub(crate) fn into_mio(stream: std::net::TcpStream) -> io::Result<TcpStream> {
    stream.set_nonblocking(true)?;
    Ok(TcpStream::from_std(stream))
}

/// Opens the transport `addr.scheme` asks for, to the resolved `ip`, within `timeout`.
pub(crate) fn open(
    addr: &Address,
    ip: SocketAddr,
    timeout: Duration,
    cfg: &ClientConfig,
) -> Result<Stream, Error> {
    let tcp = connect_tcp(ip, timeout, &cfg.socket)?;
    match addr.scheme {
        Scheme::Tcp => Ok(Stream::Tcp(into_mio(tcp)?)),
        other => Err(Error::invalid(format!(
            "{other:?} transport is not available yet"
        ))),
    }
}
