//! The mio event loop: accepts connections on every listener, moves bytes between their
//! [`Link`]s (plain, TLS, WebSocket) and the [`Engine`], and obeys the handle's control
//! messages. One thread, no blocking calls: TLS and WebSocket handshakes advance as their
//! sockets become ready, and a failed one closes only its connection.
//!
//! Each turn reads what arrived (in large chunks, a bounded amount per connection for
//! fairness), lets the engine handle the frames, commits the store (with a data directory:
//! one durable write for all the turn's persistent messages and ACKs, before any RECEIPT for
//! them goes out), then writes every connection's output once.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

use super::conn::{Phase, HIGH_WATER, READ_PAUSE};
use super::engine::{Engine, Stored};
use super::link::{Link, Setup};
use super::listener::ListenerKind;

/// What the handle asks of the loop.
#[derive(Debug)]
pub(crate) enum Control {
    /// Drop every client connection; answer when done.
    Kill(Sender<()>),
    /// Stop the loop, which then returns the stored state.
    Stop,
}

pub(crate) const WAKER: Token = Token(usize::MAX - 2);
/// Listener `i` has token `FIRST_LISTENER - i`.
const FIRST_LISTENER: usize = usize::MAX - 3;

/// Reads per connection per turn before other connections get theirs.
const READS_PER_TURN: usize = 8;
/// How long a closed connection's socket keeps draining input so the peer sees the ERROR.
const LINGER: Duration = Duration::from_secs(2);

/// A connection's stream and what its socket is ready for.
#[derive(Debug)]
struct Peer {
    link: Link,
    readable: bool,
    writable: bool,
    /// `poll` reported the peer's end closed (or an error): a read would not block, so a
    /// short read does not prove the socket empty.
    read_closed: bool,
}

/// The event loop's state.
#[derive(Debug)]
pub(crate) struct Server {
    poll: Poll,
    listeners: Vec<(TcpListener, ListenerKind)>,
    setup: Setup,
    engine: Engine,
    socks: Vec<Option<Peer>>,
    lingering: Vec<(Link, Instant)>,
    control: Receiver<Control>,
}

impl Server {
    pub(crate) fn new(
        poll: Poll,
        mut listeners: Vec<(TcpListener, ListenerKind)>,
        setup: Setup,
        engine: Engine,
        control: Receiver<Control>,
    ) -> io::Result<Server> {
        for (i, (listener, _)) in listeners.iter_mut().enumerate() {
            let token = Token(FIRST_LISTENER - i);
            poll.registry()
                .register(listener, token, Interest::READABLE)?;
        }
        Ok(Server {
            poll,
            listeners,
            setup,
            engine,
            socks: Vec::new(),
            lingering: Vec::new(),
            control,
        })
    }

    /// Runs until told to stop; returns the queues' content.
    pub(crate) fn run(mut self) -> Stored {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.next_timeout(Instant::now());
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("broker poll failed: {e}");
                    break;
                }
            }
            for ev in events.iter() {
                match ev.token() {
                    WAKER => {}
                    Token(t) if self.listener_index(t).is_some() => {
                        self.accept_all(FIRST_LISTENER - t);
                    }
                    Token(id) => {
                        if let Some(Some(s)) = self.socks.get_mut(id) {
                            let writable = ev.is_writable() || ev.is_write_closed();
                            s.readable |= ev.is_readable() || ev.is_read_closed() || ev.is_error();
                            s.read_closed |= ev.is_read_closed() || ev.is_error();
                            // An upgrade waiting to write its answer goes on by reading.
                            s.readable |= writable && s.link.is_upgrading();
                            s.writable |= writable;
                        }
                    }
                }
            }
            if !self.obey_control() {
                break;
            }
            self.turn(Instant::now());
        }
        let now = Instant::now();
        self.engine.into_stored(now)
    }

    fn next_timeout(&self, now: Instant) -> Option<Duration> {
        let ids = self.engine.conn_ids();
        let unblocked = ids.into_iter().any(|id| self.engine.is_unblocked(id));
        // Consumptions after the last commit (deliveries resumed by a flush) are written by
        // the next turn, at once.
        let busy = unblocked || self.engine.needs_commit();
        if busy || self.readable_ids().next().is_some() || self.has_writable_output() {
            return Some(Duration::ZERO);
        }
        let mut t = self
            .engine
            .poll_timeout()
            .map(|d| d.saturating_duration_since(now));
        if !self.lingering.is_empty() {
            t = Some(t.map_or(Duration::from_millis(50), |t| {
                t.min(Duration::from_millis(50))
            }));
        }
        t
    }

    /// The index of the listener with token `t`.
    fn listener_index(&self, t: usize) -> Option<usize> {
        let i = FIRST_LISTENER.checked_sub(t)?;
        (i < self.listeners.len()).then_some(i)
    }

    /// True when some connection has output its socket can take now.
    fn has_writable_output(&self) -> bool {
        let ready = |id: usize| matches!(&self.socks[id], Some(s) if s.writable);
        let has_output = |id: usize| {
            let layered = matches!(&self.socks[id], Some(s) if s.link.wants_write());
            layered || self.engine.conn(id).is_some_and(|c| c.pending_output() > 0)
        };
        (0..self.socks.len()).any(|id| ready(id) && has_output(id))
    }

    fn readable_ids(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.socks.len()).filter(|&id| {
            let readable = matches!(&self.socks[id], Some(s) if s.readable);
            readable && self.engine.may_read(id) && self.room_to_read(id)
        })
    }

    /// False when the connection closes or its client is not reading what it is sent.
    fn room_to_read(&self, id: usize) -> bool {
        let conn = self.engine.conn(id);
        conn.is_some_and(|c| c.phase != Phase::Closing && c.pending_output() < READ_PAUSE)
    }

    /// Handles control messages; false when the loop must stop.
    fn obey_control(&mut self) -> bool {
        loop {
            match self.control.try_recv() {
                Ok(Control::Kill(done)) => {
                    let now = Instant::now();
                    for id in self.engine.conn_ids() {
                        self.drop_conn(id, now);
                    }
                    let _ = done.send(());
                }
                Ok(Control::Stop) | Err(TryRecvError::Disconnected) => return false,
                Err(TryRecvError::Empty) => return true,
            }
        }
    }

    fn accept_all(&mut self, listener: usize) {
        loop {
            let (tcp, kind) = &mut self.listeners[listener];
            match tcp.accept() {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    match Link::accept(stream, *kind, &self.setup) {
                        Ok(link) => self.add_conn(link),
                        Err(e) => log::warn!("broker could not set up {kind} from {peer}: {e}"),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("broker accept failed: {e}");
                    return;
                }
            }
        }
    }

    /// Registers an accepted connection and opens its session.
    fn add_conn(&mut self, mut link: Link) {
        let id = self.engine.open(Instant::now());
        let interest = Interest::READABLE | Interest::WRITABLE;
        let registered = match link.tcp_mut() {
            Some(tcp) => self.poll.registry().register(tcp, Token(id), interest),
            None => Err(io::ErrorKind::NotConnected.into()),
        };
        if let Err(e) = registered {
            log::warn!("broker could not register a connection: {e}");
            self.engine.close(id, Instant::now());
            return;
        }
        if self.socks.len() <= id {
            self.socks.resize_with(id + 1, || None);
        }
        self.socks[id] = Some(Peer {
            link,
            readable: true,
            writable: true,
            read_closed: false,
        });
    }

    /// One turn: read and handle input, run the clocks, commit the store, write output, finish
    /// closes.
    fn turn(&mut self, now: Instant) {
        for id in self.engine.unblocked() {
            self.engine.process(id, now);
        }
        let ids: Vec<usize> = self.readable_ids().collect();
        for id in ids {
            self.read_conn(id, now);
        }
        for id in self.engine.handle_timeout(now) {
            self.drop_conn(id, now);
        }
        // Group commit: the turn's persistent messages and ACKs in one durable write; the
        // RECEIPTs that waited for it are written below, after it.
        self.engine.commit(now);
        for id in self.engine.conn_ids() {
            self.flush_conn(id, now);
        }
        self.drain_lingering(now);
    }

    fn read_conn(&mut self, id: usize, now: Instant) {
        for _ in 0..READS_PER_TURN {
            let (Some(Some(sock)), Some(conn)) = (self.socks.get_mut(id), self.engine.conn_mut(id))
            else {
                return;
            };
            match conn.read_from(&mut sock.link, now) {
                Ok(0) => return self.end_of_input(id, now),
                Ok(_) => {
                    // A plain TCP read that filled less than the room offered emptied the
                    // socket: new data will wake `poll` (edge-triggered), so another read now
                    // would only return `WouldBlock`.
                    if conn.last_read_was_short() && sock.link.is_plain_tcp() && !sock.read_closed {
                        sock.readable = false;
                    }
                    self.engine.process(id, now);
                    if !matches!(self.socks.get(id), Some(Some(s)) if s.readable) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    sock.readable = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    // A TLS or WebSocket failure: its alert or Close may be on the way.
                    log::info!("broker connection {id}: {}", crate::transport::io_error(e));
                    return self.finish_conn(id, now);
                }
                Err(e) => {
                    log::debug!("broker connection {id}: {e}");
                    return self.drop_conn(id, now);
                }
            }
            if !self.engine.may_read(id) || !self.room_to_read(id) {
                return;
            }
        }
    }

    fn flush_conn(&mut self, id: usize, now: Instant) {
        let (Some(Some(sock)), Some(conn)) = (self.socks.get_mut(id), self.engine.conn_mut(id))
        else {
            return;
        };
        let has_output = conn.pending_output() > 0;
        if (has_output || sock.link.wants_write()) && sock.writable {
            let framed = sock.link.frame_per_write();
            if has_output
                && conn
                    .write_to(&mut sock.link, framed)
                    .is_err_and(|e| e.kind() != io::ErrorKind::WouldBlock)
            {
                return self.drop_conn(id, now);
            }
            match sock.link.flush_layers() {
                Ok(true) => {}
                Ok(false) => sock.writable = false,
                Err(_) => return self.drop_conn(id, now),
            }
            if conn.pending_output() > 0 {
                sock.writable = false;
            }
        }
        let flushed = conn.pending_output() == 0 && !sock.link.wants_write();
        if conn.phase == Phase::Closing && flushed {
            self.finish_conn(id, now);
        } else if conn.pending_output() < HIGH_WATER {
            self.engine.handle_drained(id, now);
        }
    }

    /// Closes a connection whose last frame (ERROR, RECEIPT) was written: the socket stops
    /// sending and drains input for a while, so that the peer reads the frame, not a reset.
    fn finish_conn(&mut self, id: usize, now: Instant) {
        let errored = self.engine.conn_mut(id).is_some_and(|c| c.errored);
        self.engine.close(id, now);
        if let Some(mut sock) = self.socks.get_mut(id).and_then(Option::take) {
            if let Some(tcp) = sock.link.tcp_mut() {
                let _ = self.poll.registry().deregister(tcp);
            }
            sock.link.close_write(!errored);
            self.lingering.push((sock.link, now + LINGER));
        }
    }

    /// The peer shut down its sending side. What it asked for before (CONNECTED, receipts,
    /// messages) still goes out, then the connection closes as after an ERROR.
    fn end_of_input(&mut self, id: usize, now: Instant) {
        let layered = matches!(self.socks.get(id), Some(Some(s)) if s.link.wants_write());
        match self.engine.conn_mut(id) {
            Some(conn) if layered || conn.pending_output() > 0 => conn.phase = Phase::Closing,
            _ => self.drop_conn(id, now),
        }
    }

    /// Closes a connection at once (peer gone, heart-beat timeout, kill).
    fn drop_conn(&mut self, id: usize, now: Instant) {
        self.engine.close(id, now);
        if let Some(mut sock) = self.socks.get_mut(id).and_then(Option::take) {
            if let Some(tcp) = sock.link.tcp_mut() {
                let _ = self.poll.registry().deregister(tcp);
                let _ = tcp.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    fn drain_lingering(&mut self, now: Instant) {
        let mut buf = [0u8; 4096];
        self.lingering.retain_mut(|(link, deadline)| {
            let Some(stream) = link.tcp_mut().filter(|_| now < *deadline) else {
                return false;
            };
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => return false,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return false,
                }
            }
        });
    }
}
