//! [`TlsStream`]: a rustls connection over a [`Sock`]. A client runs its handshake within the
//! connect deadline ([`TlsStream::connect`]); the broker wraps a server connection with
//! [`TlsStream::new`], whose handshake the event loop drives through the same non-blocking
//! reads and writes as the data after it.

use rustls::{AlertDescription, CertificateError, ClientConnection, Connection};
use std::io::{self, ErrorKind, Read, Write};

use super::sock::Sock;
use super::tls::TlsConfig;
use crate::error::Error;

/// A TLS connection (client or server side) over the socket.
pub(crate) struct TlsStream {
    conn: Connection,
    sock: Sock,
}

impl TlsStream {
    /// Runs the TLS handshake with `host` (the name checked unless `cfg` overrides it) on a
    /// socket in handshake mode.
    ///
    /// # Errors
    /// [`Error::Tls`] for a refused certificate or any other handshake failure,
    /// [`Error::Timeout`] when the deadline passes.
    pub(crate) fn connect(sock: Sock, host: &str, cfg: &TlsConfig) -> Result<TlsStream, Error> {
        let name = cfg.server_name_for(host)?;
        let conn = ClientConnection::new(cfg.rustls_config()?, name)
            .map_err(|e| Error::tls_caused("cannot start a tls connection", e))?;
        let mut tls = TlsStream::new(conn.into(), sock);
        tls.handshake().map_err(|e| handshake_error(e, host))?;
        log::debug!(
            "tls handshake with {host}: {:?}, {:?}",
            tls.conn.handshake_kind(),
            tls.conn.negotiated_cipher_suite().map(|s| s.suite())
        );
        Ok(tls)
    }

    /// `conn` (either side's) over `sock`. No I/O happens here: on a non-blocking socket the
    /// handshake advances with each [`Read::read`] and [`TlsStream::flush_tls`], and a failed
    /// one surfaces as an error from them (after the alert was sent, if the socket took it).
    pub(crate) fn new(conn: Connection, sock: Sock) -> TlsStream {
        TlsStream { conn, sock }
    }

    fn handshake(&mut self) -> io::Result<()> {
        while self.conn.is_handshaking() {
            if self.conn.wants_write() {
                self.conn.write_tls(&mut self.sock)?;
                continue;
            }
            if self.conn.read_tls(&mut self.sock)? == 0 {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "server closed the connection during the handshake",
                ));
            }
            self.process()?;
        }
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.sock)?;
        }
        Ok(())
    }

    /// Processes received records; on a fatal error tries to send the alert rustls queued.
    fn process(&mut self) -> io::Result<()> {
        if let Err(e) = self.conn.process_new_packets() {
            let _ = self.conn.write_tls(&mut self.sock);
            return Err(io::Error::new(ErrorKind::InvalidData, e));
        }
        Ok(())
    }

    pub(crate) fn sock_mut(&mut self) -> &mut Sock {
        &mut self.sock
    }

    /// TLS records waiting for the socket.
    pub(crate) fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Writes pending TLS records; `Ok(true)` when none is left, `Ok(false)` when the socket
    /// is full.
    pub(crate) fn flush_tls(&mut self) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Sends `close_notify` as far as the socket takes it now.
    pub(crate) fn close(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush_tls();
    }
}

impl Read for TlsStream {
    /// Plaintext when there is some; `WouldBlock` when the socket has nothing more; `Ok(0)` at
    /// the end of the stream (with or without `close_notify`: STOMP frames carry their own
    /// ends, so a truncated frame is still detected above this layer).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            let n = self.conn.read_tls(&mut self.sock)?;
            self.process()?;
            if n > 0 && self.conn.wants_write() {
                // A key update or alert to answer: best effort now, the rest on flush.
                self.flush_tls()?;
            }
        }
    }
}

impl Write for TlsStream {
    /// Accepts plaintext once earlier records are on the socket; `WouldBlock` while they are
    /// not, so buffering stays bounded.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.flush_tls()? {
            return Err(ErrorKind::WouldBlock.into());
        }
        let n = self.conn.writer().write(buf)?;
        if n == 0 && !buf.is_empty() {
            return Err(ErrorKind::WouldBlock.into());
        }
        self.flush_tls()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.flush_tls()? {
            self.sock.flush()
        } else {
            Err(ErrorKind::WouldBlock.into())
        }
    }
}

/// An [`Error`] for a failed handshake: a timeout, or [`Error::Tls`] with the rustls error
/// (or the I/O failure) as its source.
fn handshake_error(e: io::Error, host: &str) -> Error {
    if e.kind() == ErrorKind::TimedOut {
        return Error::Timeout(crate::Timeout::Connect(std::time::Duration::ZERO));
    }
    match super::take_inner::<rustls::Error>(e) {
        Ok(tls) => tls_error(&format!("handshake with {host} failed"), tls),
        Err(io) => Error::tls_caused(format!("handshake with {host} failed"), io),
    }
}

/// [`Error::Tls`] for `e`: `context`, with a hint at the setting that fixes the usual cases,
/// and `e` as the source.
pub(crate) fn tls_error(context: &str, e: rustls::Error) -> Error {
    match hint(&e) {
        Some(hint) => Error::tls_caused(format!("{context} ({hint})"), e),
        None => Error::tls_caused(context, e),
    }
}

/// What to do about the usual rustls errors.
fn hint(e: &rustls::Error) -> Option<&'static str> {
    use rustls::Error as E;
    Some(match e {
        E::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server's certificate is not signed by a trusted root; trust its CA with TlsConfig::ca_file"
        }
        E::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "connect by a name the certificate lists, or set TlsConfig::server_name",
        E::AlertReceived(AlertDescription::CertificateRequired) => {
            "the server requires a client certificate; set one with TlsConfig::client_cert"
        }
        E::AlertReceived(
            AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown,
        ) => "the server refused the client certificate",
        E::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            "does the server speak TLS on this port?"
        }
        _ => return None,
    })
}
