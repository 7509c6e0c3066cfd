//! [`Sock`]: the TCP socket under every layer. Blocking with a deadline while the TLS and
//! WebSocket handshakes run, non-blocking (driven by mio) after.

use std::io::{self, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;
use socket2::SockRef;

/// A connected TCP socket, in handshake mode (blocking, every call bounded by the connect
/// deadline) until [`Sock::finish_handshake`] makes it non-blocking for mio.
pub(crate) struct Sock {
    tcp: TcpStream,
    deadline: Option<Instant>,
}

impl Sock {
    /// Wraps a connected blocking stream; reads and writes fail with `TimedOut` once
    /// `deadline` has passed.
    pub(crate) fn handshaking(tcp: std::net::TcpStream, deadline: Instant) -> io::Result<Sock> {
        tcp.set_nonblocking(false)?;
        Ok(Sock::new(TcpStream::from_std(tcp), Some(deadline)))
    }

    /// Wraps a connected socket: in handshake mode until `deadline`, if there is one; without
    /// one (a server's accepted connection, already non-blocking) as it is.
    pub(crate) fn new(tcp: TcpStream, deadline: Option<Instant>) -> Sock {
        Sock { tcp, deadline }
    }

    /// Ends handshake mode: no more timeouts, non-blocking from now on.
    pub(crate) fn finish_handshake(&mut self) -> io::Result<()> {
        self.deadline = None;
        let sock = SockRef::from(&self.tcp);
        sock.set_read_timeout(None)?;
        sock.set_write_timeout(None)?;
        sock.set_nonblocking(true)
    }

    /// The socket itself, once the handshake is finished.
    pub(crate) fn into_tcp(self) -> TcpStream {
        self.tcp
    }

    /// The socket, for mio registration.
    #[cfg(any(feature = "tls", feature = "websocket"))]
    pub(crate) fn tcp_mut(&mut self) -> &mut TcpStream {
        &mut self.tcp
    }

    /// Sets the socket timeouts to the time left before the deadline.
    fn arm(&self) -> io::Result<()> {
        let Some(deadline) = self.deadline else {
            return Ok(());
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out());
        }
        let sock = SockRef::from(&self.tcp);
        sock.set_read_timeout(Some(left))?;
        sock.set_write_timeout(Some(left))
    }

    /// In handshake mode a socket timeout (`WouldBlock` on Unix) is the deadline passing.
    fn check<T>(&self, r: io::Result<T>) -> io::Result<T> {
        match r {
            Err(e) if self.deadline.is_some() && is_timeout(&e) => Err(timed_out()),
            r => r,
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "handshake deadline passed")
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        let r = self.tcp.read(buf);
        self.check(r)
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm()?;
        let r = self.tcp.write(buf);
        self.check(r)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}
