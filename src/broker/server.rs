//! The mio event loop: accepts connections, moves bytes between sockets and the [`Engine`],
//! and obeys the handle's control messages. One thread, no blocking calls.
//!
//! Each turn reads what arrived (in large chunks, a bounded amount per connection for
//! fairness), lets the engine handle the frames, then writes every connection's output once.

use std::io::{self, Read};
use std::net::Shutdown;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use super::conn::{Phase, HIGH_WATER};
use super::engine::{Engine, Stored};

/// What the handle asks of the loop.
#[derive(Debug)]
pub(crate) enum Control {
    /// Drop every client connection; answer when done.
    Kill(Sender<()>),
    /// Stop the loop, which then returns the stored state.
    Stop,
}

pub(crate) const LISTENER: Token = Token(usize::MAX - 1);
pub(crate) const WAKER: Token = Token(usize::MAX - 2);

/// Reads per connection per turn before other connections get theirs.
const READS_PER_TURN: usize = 8;
/// A connection whose output exceeds this is not read from until the client catches up.
const READ_PAUSE: usize = 4 * HIGH_WATER;
/// How long a closed connection's socket keeps draining input so the peer sees the ERROR.
const LINGER: Duration = Duration::from_secs(2);

#[derive(Debug)]
struct Sock {
    stream: TcpStream,
    readable: bool,
    writable: bool,
}

/// The event loop's state.
#[derive(Debug)]
pub(crate) struct Server {
    poll: Poll,
    listener: TcpListener,
    engine: Engine,
    socks: Vec<Option<Sock>>,
    lingering: Vec<(TcpStream, Instant)>,
    control: Receiver<Control>,
}

impl Server {
    pub(crate) fn new(
        poll: Poll,
        mut listener: TcpListener,
        engine: Engine,
        control: Receiver<Control>,
    ) -> io::Result<Server> {
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Server {
            poll,
            listener,
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
                    LISTENER => self.accept_all(),
                    WAKER => {}
                    Token(id) => {
                        if let Some(Some(s)) = self.socks.get_mut(id) {
                            s.readable |= ev.is_readable() || ev.is_read_closed() || ev.is_error();
                            s.writable |= ev.is_writable() || ev.is_write_closed();
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
        if unblocked || self.readable_ids().next().is_some() || self.has_writable_output() {
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

    /// True when some connection has output its socket can take now.
    fn has_writable_output(&self) -> bool {
        let ready = |id: usize| matches!(&self.socks[id], Some(s) if s.writable);
        let has_output = |id: usize| self.engine.conn(id).is_some_and(|c| c.pending_output() > 0);
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

    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let id = self.engine.open(Instant::now());
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if let Err(e) = self
                        .poll
                        .registry()
                        .register(&mut stream, Token(id), interest)
                    {
                        log::warn!("broker could not register a connection: {e}");
                        self.engine.close(id, Instant::now());
                        continue;
                    }
                    if self.socks.len() <= id {
                        self.socks.resize_with(id + 1, || None);
                    }
                    self.socks[id] = Some(Sock {
                        stream,
                        readable: true,
                        writable: true,
                    });
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

    /// One turn: read and handle input, run the clocks, write output, finish closes.
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
            match conn.read_from(&mut sock.stream, now) {
                Ok(0) => return self.drop_conn(id, now),
                Ok(_) => self.engine.process(id, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    sock.readable = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.drop_conn(id, now),
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
        if conn.pending_output() > 0 && sock.writable {
            if conn
                .write_to(&mut sock.stream)
                .is_err_and(|e| e.kind() != io::ErrorKind::WouldBlock)
            {
                return self.drop_conn(id, now);
            }
            if conn.pending_output() > 0 {
                sock.writable = false;
            }
        }
        if conn.phase == Phase::Closing && conn.pending_output() == 0 {
            self.finish_conn(id, now);
        } else if conn.pending_output() < HIGH_WATER {
            self.engine.handle_drained(id, now);
        }
    }

    /// Closes a connection whose last frame (ERROR, RECEIPT) was written: the socket stops
    /// sending and drains input for a while, so that the peer reads the frame, not a reset.
    fn finish_conn(&mut self, id: usize, now: Instant) {
        self.engine.close(id, now);
        if let Some(mut sock) = self.socks.get_mut(id).and_then(Option::take) {
            let _ = self.poll.registry().deregister(&mut sock.stream);
            let _ = sock.stream.shutdown(Shutdown::Write);
            self.lingering.push((sock.stream, now + LINGER));
        }
    }

    /// Closes a connection at once (peer gone, heart-beat timeout, kill).
    fn drop_conn(&mut self, id: usize, now: Instant) {
        self.engine.close(id, now);
        if let Some(mut sock) = self.socks.get_mut(id).and_then(Option::take) {
            let _ = self.poll.registry().deregister(&mut sock.stream);
            let _ = sock.stream.shutdown(Shutdown::Both);
        }
    }

    fn drain_lingering(&mut self, now: Instant) {
        let mut buf = [0u8; 4096];
        self.lingering.retain_mut(|(stream, deadline)| {
            if now >= *deadline {
                return false;
            }
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
