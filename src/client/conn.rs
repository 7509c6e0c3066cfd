//! One open connection: a transport stream registered with its own mio `Poll`, and the loop
//! that moves bytes between it and the session.

use std::fmt;
use std::io::ErrorKind;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::ClientConfig;
use crate::clock::Anchor;
use crate::error::{Error, ProtocolError};
use crate::session::{Event, Polled, Session};
use crate::transport::{self, Address, Stream};

/// Output above this many bytes makes a send wait for the broker to read.
pub(super) const HIGH_WATER: usize = 4 * 1024 * 1024;

/// Output a batching client lets build up before it writes: on loopback, writes of 256 KiB
/// rather than 64 take a publisher from about half a raw socket's rate to most of it.
pub(super) const BATCH_BYTES: usize = 256 * 1024;

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
    /// Bytes written and read since the last [`Conn::take_bytes`].
    bytes: (u64, u64),
    /// A plain TCP read came back short: the socket's receive queue was empty then, and new
    /// data will wake `poll` (edge-triggered), so reading again before polling would only
    /// return `WouldBlock`.
    drained: bool,
    /// `poll` reported the peer's end closed (or an error): a read would not block, so a
    /// short read proves nothing.
    peer_closed: bool,
    /// When the last bytes were read, and the coarse clock anchored then (read per frame,
    /// where the fine one costs more).
    read_at: Anchor,
    /// When the last bytes were written.
    written_at: Instant,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn").finish_non_exhaustive()
    }
}

impl Conn {
    /// Opens the transport to `addr` (TCP, then TLS and WebSocket handshakes as the scheme
    /// asks) within the connect timeout, tried over every resolved IP address.
    pub(super) fn open(
        addr: &Address,
        cfg: &ClientConfig,
        overall: Option<Instant>,
    ) -> Result<Conn, Error> {
        let own = super::deadline_after(Instant::now(), cfg.connect_timeout);
        let deadline = overall.map_or(own, |o| o.min(own));
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
        let now = Instant::now();
        poll.registry().register(
            stream.tcp_mut(),
            TOKEN,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(Conn {
            poll,
            events: Events::with_capacity(4),
            stream,
            bytes: (0, 0),
            drained: false,
            peer_closed: false,
            read_at: Anchor::new(now),
            written_at: now,
        })
    }

    /// The time of the last read or write: a clock reading that costs nothing, for stamping
    /// queued frames (the heart-beat clock is set exactly when they are written).
    #[inline]
    pub(super) fn recent(&self) -> Instant {
        self.read_at.at().max(self.written_at)
    }

    /// Bytes (written, read) since the last call.
    pub(super) fn take_bytes(&mut self) -> (u64, u64) {
        std::mem::take(&mut self.bytes)
    }

    pub(super) fn close(&mut self) {
        let _ = self.poll.registry().deregister(self.stream.tcp_mut());
        self.stream.shutdown();
    }

    /// Writes as much queued output as the socket takes now.
    pub(super) fn write_some(&mut self, session: &mut Session) -> Result<(), Error> {
        let n = session
            .write_output(&mut self.stream)
            .map_err(transport::io_error)?;
        self.bytes.0 += n as u64;
        if n > 0 {
            // One clock read per write, not per frame: frames are queued with `recent()`.
            self.written_at = Instant::now();
            session.on_sent(self.written_at);
        }
        match self.stream.flush_layers() {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(transport::io_error(e)),
        }
    }

    /// True when each write goes out as a message of its own (WebSocket).
    pub(super) fn frame_per_write(&self) -> bool {
        self.stream.frame_per_write()
    }

    /// Reads once. `Ok(Some(n))` bytes arrived, `Ok(None)` nothing now, `Err` on failure;
    /// `Ok(Some(0))` is end of stream.
    fn read_some(&mut self, session: &mut Session) -> Result<Option<usize>, Error> {
        loop {
            match session.decoder_mut().read_from(&mut self.stream) {
                Ok(n) => {
                    if n > 0 {
                        self.read_at = Anchor::new(Instant::now());
                        session.on_received(self.read_at.at());
                        self.bytes.1 += n as u64;
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
    /// closes. Heart-beats are sent and checked on the way, also while frames wait in the
    /// buffer or bytes keep coming; what a call has read is decoded before its deadline counts.
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

    /// The next event (a heart-beat too) or error decoded from bytes already read, when
    /// nothing else is due first (a heart-beat to send): what [`Conn::pump`] would return at
    /// once, without its rounds, a MESSAGE left where it lies ([`Session::poll_found`]).
    /// `Ok(None)`: nothing buffered, or something due.
    #[inline]
    pub(super) fn buffered_event(
        &mut self,
        session: &mut Session,
    ) -> Result<Option<Polled>, Error> {
        if session.heart_beat().0.is_some() && session.heart_beat_due(self.read_at.now()) {
            return Ok(None);
        }
        session.poll_found(self.read_at.at())
    }

    fn pump_inner(
        &mut self,
        session: &mut Session,
        deadline: Option<Instant>,
        drain_to: Option<usize>,
    ) -> Result<Option<Pumped>, Error> {
        let beats_out = session.heart_beat().0.is_some();
        let mut have_read = false;
        loop {
            if beats_out && session.send_due_heart_beat(Instant::now()) {
                self.write_some(session)?;
            }
            // Frames decoded from buffered input are stamped with the time their bytes were
            // read: one clock read per socket read, not per frame.
            match session.poll_event(self.read_at.at())? {
                // Proof of life, which the session's clock saw when the bytes came. Nobody
                // waits for one, and a peer that sends nothing else must not hold off timers.
                Some(Event::HeartBeat) => continue,
                Some(ev) => return Ok(Some(Pumped::Event(ev))),
                None => {}
            }
            if have_read && self.on_timers(session, deadline)? {
                return Ok(Some(Pumped::Deadline));
            }
            self.write_some(session)?;
            if self.drained_to(session, drain_to) {
                return Ok(None);
            }
            // After a short read the socket was empty: go straight to `poll`, which returns at
            // once if anything arrived since. Heart-beat silence is judged only after that
            // poll, never on a socket that was not looked at.
            if !self.drained {
                match self.read_some(session)? {
                    Some(0) if session.is_between_frames() => return Ok(Some(Pumped::Closed)),
                    Some(0) => return Err(ProtocolError::Truncated(session.buffered()).into()),
                    Some(_) => {
                        have_read = true;
                        continue;
                    }
                    None => {}
                }
                if self.on_timers(session, deadline)? {
                    return Ok(Some(Pumped::Deadline));
                }
                if self.drained_to(session, drain_to) {
                    return Ok(None);
                }
            }
            self.wait(session, deadline)?;
        }
    }

    /// Sends and checks heart-beats; true when `deadline` has passed.
    fn on_timers(
        &mut self,
        session: &mut Session,
        deadline: Option<Instant>,
    ) -> Result<bool, Error> {
        let now = Instant::now();
        session.handle_timeout(now)?;
        if session.wants_write() || self.stream.wants_write() {
            self.write_some(session)?;
        }
        Ok(deadline.is_some_and(|d| now >= d))
    }

    /// Sleeps until the socket is ready, the session's next timer or `deadline`.
    fn wait(&mut self, session: &Session, deadline: Option<Instant>) -> Result<(), Error> {
        let wake = match (deadline, session.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let now = Instant::now();
        let timeout = wake.map(|w| w.saturating_duration_since(now) + Duration::from_micros(100));
        let res = match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {
                let closed = |e: &mio::event::Event| e.is_read_closed() || e.is_error();
                self.peer_closed |= self.events.iter().any(closed);
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(transport::io_error(e)),
        };
        self.drained = false;
        res
    }
}
