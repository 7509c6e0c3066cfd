//! Plain TCP: name resolution, connecting within a deadline, socket options.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use crate::error::{ContextError, Error, Timeout};

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
        .map_err(|e| in_context(e, format!("cannot resolve {addr:?}")))?
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
        _ => in_context(e, format!("connect to {addr}")),
    })?;
    stream.set_nodelay(opts.nodelay)?;
    if let Some(idle) = opts.keepalive {
        set_keepalive(&stream, idle)?;
    }
    Ok(stream)
}

/// An [`Error::Io`] of `e`'s kind that says what was being done, with `e` (and its OS error
/// code) as the source of its `io::Error`: "i/o error: connect to 127.0.0.1:61613: Connection
/// refused (os error 111)".
fn in_context(e: io::Error, context: String) -> Error {
    Error::Io(io::Error::new(
        e.kind(),
        ContextError::with_source(context, e),
    ))
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

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_refused_connection_keeps_its_os_error_in_the_chain() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = connect_tcp(addr, Duration::from_secs(2), &SocketOptions::default()).unwrap_err();
        let Error::Io(io) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
        let os = io
            .source()
            .and_then(|s| s.downcast_ref::<io::Error>())
            .unwrap();
        assert!(os.raw_os_error().is_some(), "{os:?}");
        assert_eq!(
            err.report().to_string(),
            format!("i/o error: connect to {addr}: {os}")
        );
    }

    #[test]
    fn a_name_that_does_not_resolve_says_which() {
        let err = resolve("no-such-host.invalid:61613").unwrap_err();
        let chain = err.report().to_string();
        assert!(
            chain.starts_with("i/o error: cannot resolve \"no-such-host.invalid:61613\": "),
            "{chain}"
        );
    }
}
