//! Plain TCP: name resolution, connecting within a deadline, socket options.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use crate::error::{Error, Timeout};

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
