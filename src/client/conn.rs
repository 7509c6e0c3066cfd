//! One open connection: a transport stream registered with its own mio `Poll`, and the loop
//! that moves bytes between it and the session.

use std::fmt;
use std::io::{self, ErrorKind, Write};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::ClientConfig;
use crate::error::{Error, ProtocolError};
use crate::session::{Event, Session};
use crate::transport::{self, Address, Stream};

/// Output above this many bytes makes a send wait for the broker to read.
pub(super) const HIGH_WATER: usize = 4 * 1024 * 1024;

/// Output a batching client lets build up before it writes.
pub(super) const BATCH_BYTES: usize = 64 * 1024;

const TOKEN: Token = Token(0);

/// What [`Conn::pump`] came back with.
#[derive(Debug)]
pub(super) enum Pumped {
    Event(Event),
    Deadline,
    Closed,
}

pub(super) struct Conn {
    poll: Poll,
    events: Events,
    stream: Stream,
    /// A plain TCP read came back short: the socket's receive queue was empty then, and new
    /// data will wake `poll` (edge-triggered), so reading again before polling would only
    /// return `WouldBlock`.
    drained: bool,
    /// `poll` reported the peer's end closed (or an error): a read would not block, so a
    /// short read proves nothing.
    peer_closed: bool,
    /// When the last bytes were read.
    read_at: Instant,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn").finish_non_exhaustive()
    }
}

impl Conn {
    /// Opens the transport to `addr` (TCP, then TLS and WebSocket handshakes as the scheme
    /// asks) within the connect timeout, tried over every resolved IP address.
    pub(super) fn open(addr: &Address, cfg: &ClientConfig) -> Result<Conn, Error> {
        let deadline = Instant::now() + cfg.connect_timeout;
        let mut opts = cfg.transport.clone();
        // Room for the headers of a frame whose body is as large as allowed.
        opts.max_ws_message = cfg.session.limits.max_body.saturating_add(1024 * 1024);
        let mut last = None;
        for ip in transport::resolve(&addr.host_port())? {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match transport::open(addr, ip, left, &opts) {
                Ok(stream) => return Conn::register(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(Error::Timeout(crate::Timeout::Connect(cfg.connect_timeout))))
    }

    fn register(mut stream: Stream) -> Result<Conn, Error> {
        let poll = Poll::new()?;
        poll.registry().register(
            stream.tcp_mut(),
            TOKEN,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(Conn {
            poll,
            events: Events::with_capacity(4),
            stream,
            drained: false,
            peer_closed: false,
            read_at: Instant::now(),
        })
    }

    pub(super) fn close(&mut self) {
        let _ = self.poll.registry().deregister(self.stream.tcp_mut());
        self.stream.shutdown();
    }

    /// Writes as much queued output as the socket takes now.
    pub(super) fn write_some(&mut self, session: &mut Session) -> Result<(), Error> {
        while session.wants_write() {
            match self.stream.write(session.output()) {
                Ok(0) => return Err(io::Error::from(ErrorKind::WriteZero).into()),
                Ok(n) => session.consume_output(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(transport::io_error(e)),
            }
        }
        match self.stream.flush_layers() {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(transport::io_error(e)),
        }
    }

    /// Reads once. `Ok(Some(n))` bytes arrived, `Ok(None)` nothing now, `Err` on failure;
    /// `Ok(Some(0))` is end of stream.
    fn read_some(&mut self, session: &mut Session) -> Result<Option<usize>, Error> {
        loop {
            match session.decoder_mut().read_from(&mut self.stream) {
                Ok(n) => {
                    if n > 0 {
                        self.read_at = Instant::now();
                        session.on_received(self.read_at);
                        self.drained = matches!(self.stream, Stream::Tcp(_))
                            && !self.peer_closed
                            && session.decoder_mut().last_read_was_short();
                    }
                    return Ok(Some(n));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(transport::io_error(e)),
            }
        }
    }

    /// Drives the connection until the session has an event, `deadline` passes or the peer
    /// closes. Heart-beats are sent and checked on the way.
    pub(super) fn pump(
        &mut self,
        session: &mut Session,
        deadline: Option<Instant>,
    ) -> Result<Pumped, Error> {
        // Without a drain level, pump_inner never answers None.
        Ok(self
            .pump_inner(session, deadline, None)?
            .unwrap_or(Pumped::Deadline))
    }

    /// Like [`Conn::pump`], but also returns `Ok(None)` as soon as at most `level` bytes of
    /// output are queued (0: all written, transport layers included).
    pub(super) fn pump_until_drained(
        &mut self,
        session: &mut Session,
        level: usize,
        deadline: Instant,
    ) -> Result<Option<Pumped>, Error> {
        self.pump_inner(session, Some(deadline), Some(level))
    }

    fn drained_to(&self, session: &Session, level: Option<usize>) -> bool {
        level.is_some_and(|l| session.output().len() <= l && (l > 0 || !self.stream.wants_write()))
    }

    fn pump_inner(
        &mut self,
        session: &mut Session,
        deadline: Option<Instant>,
        drain_to: Option<usize>,
    ) -> Result<Option<Pumped>, Error> {
        loop {
            // Frames decoded from buffered input are stamped with the time their bytes were
            // read: one clock read per socket read, not per frame.
            if let Some(ev) = session.poll_event(self.read_at)? {
                return Ok(Some(Pumped::Event(ev)));
            }
            self.write_some(session)?;
            if self.drained_to(session, drain_to) {
                return Ok(None);
            }
            // After a short read the socket was empty: go straight to `poll`, which returns at
            // once if anything arrived since. Heart-beat checks and deadlines wait until after
            // that poll, so silence is never judged on a socket that was not looked at.
            let skip_read = self.drained;
            if !skip_read {
                match self.read_some(session)? {
                    Some(0) if session.is_between_frames() => return Ok(Some(Pumped::Closed)),
                    Some(0) => return Err(ProtocolError::Truncated(session.buffered()).into()),
                    Some(_) => continue,
                    None => {}
                }
            }
            let now = Instant::now();
            if !skip_read {
                session.handle_timeout(now)?;
                if session.wants_write() || self.stream.wants_write() {
                    self.write_some(session)?;
                    if self.drained_to(session, drain_to) {
                        return Ok(None);
                    }
                }
                if deadline.is_some_and(|d| now >= d) {
                    return Ok(Some(Pumped::Deadline));
                }
            }
            let wake = match (deadline, session.poll_timeout()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let timeout =
                wake.map(|w| w.saturating_duration_since(now) + Duration::from_micros(100));
            match self.poll.poll(&mut self.events, timeout) {
                Ok(()) => {
                    if self
                        .events
                        .iter()
                        .any(|e| e.is_read_closed() || e.is_error())
                    {
                        self.peer_closed = true;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(transport::io_error(e)),
            }
            self.drained = false;
        }
    }
}
