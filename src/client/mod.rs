//! [`StompClient`]: the pull-style client, a thin mio driver over the sans-IO
//! [`Session`](crate::session::Session).

mod builder;
mod conn;
mod events;
mod iter;
mod listeners;
mod reconnect;
mod requests;
mod transaction;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use builder::ClientBuilder;
pub(crate) use builder::ClientConfig;
use conn::{Conn, Pumped};
pub use events::Listener;
use events::Listeners;
pub use iter::Frames;
pub use listeners::{PrintingListener, Stats, StatsListener};
pub use reconnect::ReconnectPolicy;
pub use requests::{SendBuilder, SubscribeBuilder};
pub use transaction::Transaction;

use crate::error::{Error, ProtocolError, Timeout};
use crate::frame::{header, Command, Frame, Version};
use crate::session::{AckMode, AckToken, Event, Phase, ReceiptSet, Session, Subscription};
use crate::transport::Address;

/// The `host` header sent when none is configured: RabbitMQ's default virtual host, which
/// ActiveMQ and the embedded broker accept too.
const DEFAULT_VHOST: &str = "/";

/// RECEIPTs that arrived before anyone waited for them, kept for a later
/// [`StompClient::wait_for_receipt`]; past this the oldest are forgotten.
const MAX_UNCLAIMED_RECEIPTS: usize = 4096;

/// Frames held while the application waits for something else (a receipt, a slow write):
/// past this many bytes the wait fails with [`ProtocolError::Backlog`].
pub(crate) const MAX_HELD_BYTES: usize = 64 * 1024 * 1024;

/// Bytes a held frame accounts for.
fn held_size(f: &Frame) -> usize {
    f.body().len() + f.headers().byte_len() + 64
}

/// The message the client must still ACK because the application has seen it.
#[derive(Debug)]
struct PendingAck {
    token: AckToken,
    transaction: Option<String>,
    epoch: u64,
}

/// A STOMP client: ask it for the next frame and it hands you one.
///
/// ```
/// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
/// # let addr = broker.addr().to_string();
/// use stompy::{AckMode, StompClient};
/// let mut client = StompClient::connect(addr.as_str())?;
/// client.subscribe("/queue/work", AckMode::ClientIndividual)?;
/// client.send("/queue/work", "hello")?;
/// for frame in &mut client {
///     assert_eq!(frame.text()?, "hello");
///     break; // the message is ACKed when the client is asked for the next frame
/// }
/// client.disconnect()?;
/// # Ok::<(), stompy::Error>(())
/// ```
///
/// Single-threaded and blocking: every call drives the connection (flushes writes, reads,
/// sends and checks heart-beats) until it can answer or its deadline passes.
#[derive(Debug)]
pub struct StompClient {
    cfg: ClientConfig,
    session: Session,
    conn: Option<Conn>,
    /// Frames that arrived while the application waited for something else.
    inbox: VecDeque<Frame>,
    inbox_bytes: usize,
    /// RECEIPTs that arrived and nobody has waited for yet.
    receipts: ReceiptSet,
    pending_ack: Option<PendingAck>,
    /// The ACK of the frame a `loop_with` callback is handling, due when it returns.
    loop_ack: Option<PendingAck>,
    /// Why the last connection ended (None: cleanly, or still open).
    close_reason: Option<Error>,
    /// An ERROR frame seen on the current connection: the likely cause if it closes.
    last_broker_error: Option<Error>,
    broker_address: Option<Address>,
    epoch: u64,
    reconnects: u64,
    listeners: Listeners,
    /// A send writes once this many bytes are queued (see `flush_after_send`).
    write_at: usize,
}

impl StompClient {
    /// Connects with default settings to the first address of `addresses` that answers.
    /// Accepts one address (`"host:port"`, a URL, a `SocketAddr`) or a list of them.
    ///
    /// # Errors
    /// See [`ClientBuilder::connect`].
    pub fn connect<I>(addresses: I) -> Result<StompClient, Error>
    where
        I: IntoAddresses,
    {
        let mut b = ClientBuilder::new();
        for a in addresses.into_addresses()? {
            b = b.address(a)?;
        }
        b.connect()
    }

    /// A builder for every setting.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    pub(crate) fn open(cfg: ClientConfig, listeners: Listeners) -> Result<StompClient, Error> {
        let now = Instant::now();
        let mut client = StompClient {
            write_at: cfg.write_batch,
            session: Session::new(cfg.session.clone(), now),
            cfg,
            conn: None,
            inbox: VecDeque::new(),
            inbox_bytes: 0,
            receipts: ReceiptSet::new(MAX_UNCLAIMED_RECEIPTS),
            pending_ack: None,
            loop_ack: None,
            close_reason: None,
            last_broker_error: None,
            broker_address: None,
            epoch: 0,
            reconnects: 0,
            listeners,
        };
        client.session.record_sent(!client.listeners.is_empty());
        client.connect_rounds()?;
        Ok(client)
    }

    // ---- getters -------------------------------------------------------------------------

    /// The negotiated protocol version.
    pub fn version(&self) -> Version {
        self.session.version()
    }

    /// The CONNECTED frame of the current (or last) connection: `version`, `server`,
    /// `session`, `heart-beat`.
    pub fn connected_frame(&self) -> Option<&Frame> {
        self.session.connected_frame()
    }

    /// The address of the broker the client is (or was last) connected to.
    pub fn broker_address(&self) -> Option<&Address> {
        self.broker_address.as_ref()
    }

    /// True while the connection is open.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some() && self.session.phase() == Phase::Connected
    }

    /// Why the last connection ended, or why iteration stopped: `None` for a clean close (or
    /// while connected).
    pub fn close_reason(&self) -> Option<&Error> {
        self.close_reason.as_ref()
    }

    /// Active subscriptions.
    pub fn subscriptions(&self) -> &[Subscription] {
        self.session.subscriptions()
    }

    /// How many times the connection was re-established after a loss.
    pub fn reconnect_count(&self) -> u64 {
        self.reconnects
    }

    /// Negotiated heart-beat intervals: (the client sends every, the broker sends every).
    pub fn heart_beat(&self) -> (Option<Duration>, Option<Duration>) {
        self.session.heart_beat()
    }

    // ---- connecting ----------------------------------------------------------------------

    fn connect_rounds(&mut self) -> Result<(), Error> {
        let mut attempts = 0u32;
        let mut rounds = 0u32;
        let overall = self.cfg.connect_total_timeout.map(|t| Instant::now() + t);
        let out_of_time = |t: &Option<Instant>| t.is_some_and(|t| Instant::now() >= t);
        loop {
            let mut last = None;
            let mut permanent_everywhere = true;
            for addr in self.cfg.addresses.clone() {
                if attempts > 0 && out_of_time(&overall) {
                    break;
                }
                attempts += 1;
                match self.connect_one(&addr, overall) {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        log::info!("connect to {addr} failed: {e}");
                        permanent_everywhere &= e.is_permanent();
                        last = Some(e);
                    }
                }
            }
            rounds += 1;
            let last = last.expect("at least one address");
            let delay = self.cfg.reconnect.delay(rounds);
            let too_late = overall.is_some_and(|t| Instant::now() + delay >= t);
            if permanent_everywhere || too_late || !self.cfg.reconnect.allows(rounds) {
                return Err(if attempts == 1 {
                    last
                } else {
                    Error::ConnectFailed {
                        attempts,
                        last: Box::new(last),
                    }
                });
            }
            std::thread::sleep(delay); // the back-off between rounds
        }
    }

    fn connect_one(&mut self, addr: &Address, overall: Option<Instant>) -> Result<(), Error> {
        self.drop_connection();
        self.listeners.each(|l| l.on_connecting(addr));
        let conn = Conn::open(addr, &self.cfg, overall).inspect_err(|e| self.emit_error(e))?;
        self.conn = Some(conn);
        self.last_broker_error = None;
        let now = Instant::now();
        self.session.start(DEFAULT_VHOST, now)?;
        let own = now + self.cfg.connected_timeout;
        let deadline = overall.map_or(own, |o| o.min(own));
        loop {
            match self.pump(Some(deadline)) {
                Ok(Pumped::Event(Event::Connected)) => break,
                Ok(Pumped::Event(ev)) => log::debug!("ignored before CONNECTED: {ev:?}"),
                Ok(Pumped::Deadline) => {
                    self.drop_connection();
                    return Err(Error::Timeout(Timeout::Connected(
                        self.cfg.connected_timeout,
                    )));
                }
                Ok(Pumped::Closed) => {
                    self.drop_connection();
                    return Err(Error::NotConnected(format!(
                        "{addr} closed before CONNECTED"
                    )));
                }
                Err(e) => {
                    self.drop_connection();
                    return Err(e);
                }
            }
        }
        self.epoch += 1;
        self.broker_address = Some(addr.clone());
        self.close_reason = None;
        if let Some(f) = self.session.connected_frame() {
            self.listeners.each(|l| l.on_connected(addr, f));
        }
        self.session.resubscribe_all(Instant::now())?;
        self.flush_now()?;
        log::info!("connected to {addr} (STOMP {})", self.version());
        Ok(())
    }

    fn drop_connection(&mut self) {
        if let Some(mut c) = self.conn.take() {
            c.close();
        }
    }

    /// After a lost connection: reconnect if configured, else record why it ended.
    /// Returns Ok(true) when a new connection is up.
    fn on_connection_lost(&mut self, err: Option<Error>) -> Result<bool, Error> {
        self.drop_connection();
        let disconnecting = self.session.phase() == Phase::Disconnecting;
        let reason = err.or_else(|| self.last_broker_error.take());
        self.listeners.each(|l| l.on_disconnected(reason.as_ref()));
        if self.cfg.auto_reconnect && !disconnecting {
            log::warn!(
                "connection lost ({}); reconnecting",
                reason
                    .as_ref()
                    .map_or("closed by broker".into(), |e| e.to_string())
            );
            self.pending_ack = None;
            self.loop_ack = None;
            match self.connect_rounds() {
                Ok(()) => {
                    self.drop_held_unacked();
                    self.reconnects += 1;
                    let n = self.reconnects;
                    self.listeners.each(|l| l.on_reconnected(n));
                    return Ok(true);
                }
                Err(e) => {
                    self.close_reason = Some(e);
                    return Ok(false);
                }
            }
        }
        self.close_reason = reason;
        Ok(false)
    }

    // ---- the driver ----------------------------------------------------------------------

    /// Drives I/O until the session reports an event, the deadline passes or the peer closes.
    fn pump(&mut self, deadline: Option<Instant>) -> Result<Pumped, Error> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Pumped::Closed);
        };
        let res = conn.pump(&mut self.session, deadline);
        if !self.listeners.is_empty() {
            self.tell_listeners(&res);
        }
        res
    }

    /// Writes whatever the session has queued, without waiting.
    fn flush_now(&mut self) -> Result<(), Error> {
        if let Some(conn) = self.conn.as_mut() {
            let res = conn.write_some(&mut self.session);
            if !self.listeners.is_empty() {
                self.tell_listeners(&Ok(Pumped::Deadline));
            }
            res?;
        }
        Ok(())
    }

    /// Reports what a pump or flush did to the listeners: frames and bytes that went out,
    /// what came in, errors.
    fn tell_listeners(&mut self, res: &Result<Pumped, Error>) {
        for f in self.session.take_sent() {
            self.listeners.each(|l| l.on_frame_sent(&f));
        }
        if let Some((out, inn)) = self.conn.as_mut().map(Conn::take_bytes) {
            if out + inn > 0 {
                self.listeners.each(|l| l.on_bytes(out, inn));
            }
        }
        let received = match res {
            Ok(Pumped::Event(Event::Frame(f))) => Some(f.clone()),
            Ok(Pumped::Event(Event::Connected)) => self.session.connected_frame().cloned(),
            Ok(Pumped::Event(Event::Receipt(id))) => {
                Some(Frame::new(Command::Receipt).with_header(header::RECEIPT_ID, id))
            }
            Err(Error::Broker(b)) => {
                let mut f = Frame::new(Command::Error).with_header(header::MESSAGE, &b.message);
                if let Some(r) = &b.receipt_id {
                    f.headers_mut().push(header::RECEIPT_ID, r);
                }
                Some(f.with_body(b.body.as_bytes()))
            }
            _ => None,
        };
        if let Some(f) = received {
            self.listeners.each(|l| l.on_frame_received(&f));
        }
        if let Err(e) = res {
            self.emit_error(e);
        }
    }

    fn emit_error(&mut self, e: &Error) {
        if matches!(e, Error::Timeout(Timeout::HeartBeat(_))) {
            self.listeners.each(|l| l.on_heartbeat_timeout());
        }
        self.listeners.each(|l| l.on_error(e));
    }

    // ---- listeners -----------------------------------------------------------------------

    /// Registers `listener` under `name` (replacing any listener of that name).
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let mut client = stompy::StompClient::connect(broker.addr())?;
    /// let stats = stompy::StatsListener::new();
    /// client.add_listener("stats", stats.clone());
    /// client.send("/queue/a", "x")?;
    /// assert_eq!(stats.stats().sent(stompy::Command::Send), 1);
    /// # Ok::<(), stompy::Error>(())
    /// ```
    pub fn add_listener(&mut self, name: &str, listener: impl Listener + 'static) {
        self.listeners.insert(name.to_owned(), Box::new(listener));
        self.session.record_sent(true);
    }

    /// Removes the listener called `name` and hands it back.
    pub fn remove_listener(&mut self, name: &str) -> Option<Box<dyn Listener>> {
        let l = self.listeners.remove(name);
        self.session.record_sent(!self.listeners.is_empty());
        l
    }

    /// Names of the registered listeners, in registration order.
    pub fn listener_names(&self) -> impl Iterator<Item = &str> {
        self.listeners.names()
    }

    /// After queueing a frame: write it out now (or, with write batching on, once a batch
    /// has built up); if the broker is not reading, keep driving the connection (holding
    /// arriving frames) until the backlog drains or the write deadline passes.
    fn flush_after_send(&mut self) -> Result<(), Error> {
        if self.session.output().len() < self.write_at {
            return Ok(()); // written by the next wait, flush, or a fuller batch
        }
        self.flush_output()?;
        // When the socket took everything, the next batch fills from empty; when it is full,
        // retrying on every send would cost a failed system call per frame: wait for another
        // batch's worth (waits and flush() still write at once).
        let queued = self.session.output().len();
        self.write_at = if queued == 0 {
            self.cfg.write_batch
        } else {
            queued + conn::BATCH_BYTES
        };
        Ok(())
    }

    /// After queueing an ACK: while more received frames wait to be handed out, the client
    /// is about to be called again without waiting, so the ACK joins the next write instead
    /// of costing a system call of its own. Every wait writes pending output first.
    fn flush_after_ack(&mut self) -> Result<(), Error> {
        let more_ready = !self.inbox.is_empty() || self.session.has_input_buffered();
        if more_ready && self.session.output().len() < conn::BATCH_BYTES {
            return Ok(());
        }
        self.flush_after_send()
    }

    /// Writes every queued frame that the socket takes now, and waits (up to the write
    /// timeout) while more than [`conn::HIGH_WATER`] bytes are still queued.
    fn flush_output(&mut self) -> Result<(), Error> {
        self.flush_now()?;
        if self.session.output().len() <= conn::HIGH_WATER {
            return Ok(());
        }
        self.drain_to(conn::HIGH_WATER)
    }

    /// Drives the connection (holding arriving frames) until at most `level` bytes of output
    /// are queued, or the write timeout passes.
    fn drain_to(&mut self, level: usize) -> Result<(), Error> {
        let deadline = Instant::now() + self.cfg.write_timeout;
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Err(Error::NotConnected("connection is closed".into()));
            };
            match conn.pump_until_drained(&mut self.session, level, deadline)? {
                None => return Ok(()),
                // Frames that keep coming must not hold off the deadline.
                Some(Pumped::Event(ev)) if Instant::now() < deadline => self.hold(ev)?,
                Some(Pumped::Event(ev)) => {
                    self.hold(ev)?;
                    return Err(Error::Timeout(Timeout::Write(self.cfg.write_timeout)));
                }
                Some(Pumped::Deadline) => {
                    return Err(Error::Timeout(Timeout::Write(self.cfg.write_timeout)));
                }
                Some(Pumped::Closed) => return Err(Error::NotConnected("closed by broker".into())),
            }
        }
    }

    /// Keeps an event that arrived while waiting for something else.
    ///
    /// # Errors
    /// [`ProtocolError::Backlog`] when the frames held exceed [`MAX_HELD_BYTES`] (plus room for
    /// one frame as large as allowed): the application must receive them before waiting
    /// longer. They are kept.
    fn hold(&mut self, ev: Event) -> Result<(), Error> {
        match ev {
            Event::Frame(f) => {
                self.inbox_bytes += held_size(&f);
                self.inbox.push_back(f);
                let max = MAX_HELD_BYTES + self.cfg.session.limits.max_body;
                if self.inbox_bytes > max {
                    let bytes = self.inbox_bytes;
                    return Err(ProtocolError::Backlog { bytes, max }.into());
                }
            }
            Event::Receipt(id) => self.receipts.insert(&id),
            Event::Connected | Event::HeartBeat => {}
        }
        Ok(())
    }

    /// After a reconnect: frames held from the old connection that needed an ACK can no
    /// longer be acknowledged; the broker redelivers them, so they go.
    fn drop_held_unacked(&mut self) {
        let session = &self.session;
        let needs_ack = |f: &Frame| {
            f.command() == Command::Message
                && session
                    .subscription_of(f)
                    .is_some_and(|s| s.ack.needs_ack())
        };
        self.inbox.retain(|f| !needs_ack(f));
        self.inbox_bytes = self.inbox.iter().map(held_size).sum();
    }

    fn next_held(&mut self) -> Option<Frame> {
        let f = self.inbox.pop_front()?;
        self.inbox_bytes -= held_size(&f);
        Some(f)
    }

    fn ensure_connected(&self) -> Result<(), Error> {
        if self.conn.is_none() {
            return Err(Error::NotConnected(
                self.close_reason
                    .as_ref()
                    .map_or("connection is closed".into(), |e| e.to_string()),
            ));
        }
        Ok(())
    }

    /// Sends a frame as it is (headers escaped for the version, `content-length` added).
    ///
    /// # Errors
    /// [`Error::NotConnected`], [`Error::Invalid`] for a frame the version cannot carry,
    /// [`Error::Io`] or a write [`Timeout`].
    pub fn send_frame(&mut self, frame: &Frame) -> Result<(), Error> {
        self.ensure_connected()?;
        self.write_or_fail(|c| {
            c.session.send_frame(frame, Instant::now())?;
            c.flush_after_send()
        })
    }

    /// Runs a write that must reach the broker; on a fatal error the connection is dropped
    /// (and re-established with auto-reconnect) and the error returned, since the frame may
    /// not have arrived.
    pub(crate) fn write_or_fail(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), Error>,
    ) -> Result<(), Error> {
        match f(self) {
            Err(e) if e.is_fatal() && self.conn.is_some() => {
                self.on_connection_lost(Some(clone_error(&e)))?;
                Err(e)
            }
            other => other,
        }
    }

    /// Sends any heart-beat that is due and checks the broker's, without waiting: call it
    /// during long work between pulls so the connection stays alive.
    ///
    /// # Errors
    /// A heart-beat [`Timeout`], I/O or protocol error (the connection is then dropped, or
    /// re-established with auto-reconnect, as in `recv`), or an ERROR frame from the broker.
    /// Frames that arrive are kept for `recv`.
    pub fn keep_alive(&mut self) -> Result<(), Error> {
        self.ensure_connected()?;
        let now = Instant::now();
        match self.pump(Some(now)) {
            // One frame is enough: the rest stay buffered for `recv`.
            Ok(Pumped::Event(ev)) => self.hold(ev)?,
            Ok(Pumped::Deadline) => {}
            Ok(Pumped::Closed) => {
                self.on_connection_lost(None)?;
            }
            Err(e) if e.is_fatal() => {
                self.on_connection_lost(Some(clone_error(&e)))?;
                return Err(e);
            }
            Err(e) => {
                if e.broker_error().is_some() {
                    self.last_broker_error = Some(clone_error(&e));
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Writes every frame queued by [`ClientBuilder::write_batching`] (or a slow socket) and
    /// waits until the socket has taken them all, at most the write timeout. Frames that
    /// arrive meanwhile are kept for `recv`.
    ///
    /// # Errors
    /// [`Error::Io`], or a write [`Timeout`] when the broker does not read.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.ensure_connected()?;
        self.write_or_fail(|c| {
            c.flush_now()?;
            c.drain_to(0)
        })
    }

    // ---- receiving -----------------------------------------------------------------------

    /// The next frame: `Ok(None)` when the connection closed cleanly (see
    /// [`StompClient::close_reason`]).
    ///
    /// Before waiting, the client ACKs the message it handed out last, if its subscription
    /// is in a client ack mode with auto-ACK on: the application has come back, so it is done
    /// with it. RECEIPT frames never come out of here; they complete receipt waits.
    ///
    /// # Errors
    /// [`Error::Broker`] for an ERROR frame, [`Error::Io`] / [`Error::Protocol`] / a
    /// heart-beat [`Timeout`] when the connection failed (then, with auto-reconnect on, the
    /// client reconnects instead and goes on waiting).
    pub fn recv(&mut self) -> Result<Option<Frame>, Error> {
        self.recv_inner(None, None)
    }

    /// Like [`StompClient::recv`], waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] with [`Timeout::Recv`] when no frame came in time: the connection
    /// stays usable. Otherwise as [`StompClient::recv`].
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Frame>, Error> {
        self.recv_inner(Some(timeout), None)
    }

    pub(crate) fn recv_inner(
        &mut self,
        timeout: Option<Duration>,
        transaction: Option<&str>,
    ) -> Result<Option<Frame>, Error> {
        if let Err(e) = self.send_pending_ack() {
            // A lost connection loses the ACK too: the broker redelivers the message.
            if !e.is_fatal() || !self.on_connection_lost(Some(clone_error(&e)))? {
                return Err(e);
            }
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(f) = self.next_held() {
                self.track_ack(&f, transaction);
                return Ok(Some(f));
            }
            if self.conn.is_none() {
                return Ok(None);
            }
            match self.pump(deadline) {
                Ok(Pumped::Event(ev)) => {
                    // Taken right back out by the loop: never more than one frame held here.
                    let _ = self.hold(ev);
                }
                Ok(Pumped::Deadline) => {
                    return Err(Error::Timeout(Timeout::Recv(timeout.unwrap_or_default())));
                }
                Ok(Pumped::Closed) => {
                    if !self.on_connection_lost(None)? {
                        return Ok(None);
                    }
                }
                Err(e) if e.is_fatal() => {
                    if !self.on_connection_lost(Some(e))? {
                        return Err(self.close_reason.as_ref().map_or_else(
                            || Error::NotConnected("connection lost".into()),
                            clone_error,
                        ));
                    }
                }
                Err(e) => {
                    if e.broker_error().is_some() {
                        self.last_broker_error = Some(clone_error(&e));
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Remembers a MESSAGE the application is about to see, if the client must ACK it later.
    fn track_ack(&mut self, frame: &Frame, transaction: Option<&str>) {
        if frame.command() != Command::Message {
            return;
        }
        let sub = self.session.subscription_of(frame);
        if sub.is_some_and(|s| s.auto_ack && s.ack.needs_ack()) {
            self.pending_ack = Some(PendingAck {
                token: AckToken::of(frame),
                transaction: transaction.map(str::to_owned),
                epoch: self.epoch,
            });
        }
    }

    fn send_pending_ack(&mut self) -> Result<(), Error> {
        let Some(p) = self.pending_ack.take() else {
            return Ok(());
        };
        if p.epoch != self.epoch || self.conn.is_none() {
            return Ok(()); // the broker redelivers it on the new connection
        }
        self.session.acknowledge(
            &p.token,
            Command::Ack,
            p.transaction.as_deref(),
            Instant::now(),
        )?;
        self.flush_after_ack()
    }

    /// Forgets the pending auto-ACK without sending it (used when the application rejected
    /// the message itself).
    fn cancel_pending_ack_for(&mut self, frame: &Frame) {
        let token = AckToken::of(frame);
        for slot in [&mut self.pending_ack, &mut self.loop_ack] {
            if slot.as_ref().is_some_and(|p| p.token == token) {
                *slot = None;
            }
        }
    }

    /// An iterator of `Result<Frame, Error>`: errors come inline; it ends on a clean close or
    /// after a fatal error.
    pub fn frames(&mut self) -> Frames<'_> {
        Frames::new(self)
    }

    /// Runs `callback` on every frame until it returns `Some(value)` (then `Ok(Some(value))`)
    /// or the connection closes (`Ok(None)`). Auto-ACKs are sent when the callback returns,
    /// so a panic inside it leaves the message un-ACKed.
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let mut client = stompy::StompClient::connect(broker.addr())?;
    /// use stompy::AckMode;
    /// client.subscribe("/queue/jobs", AckMode::ClientIndividual)?;
    /// client.send("/queue/jobs", "stop")?;
    /// let got = client.loop_with(|_client, frame| {
    ///     (frame.body() == b"stop").then(|| frame.text().unwrap().into_owned())
    /// })?;
    /// assert_eq!(got.as_deref(), Some("stop"));
    /// # Ok::<(), stompy::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`StompClient::recv`].
    pub fn loop_with<T, F>(&mut self, callback: F) -> Result<Option<T>, Error>
    where
        F: FnMut(&mut StompClient, Frame) -> Option<T>,
    {
        self.loop_with_options(LoopOptions::default(), callback)
    }

    /// [`StompClient::loop_with`] with a per-frame timeout and a transaction that the loop's
    /// auto-ACKs join.
    ///
    /// # Errors
    /// As [`StompClient::recv_timeout`] when a timeout is given.
    pub fn loop_with_options<T, F>(
        &mut self,
        options: LoopOptions,
        mut callback: F,
    ) -> Result<Option<T>, Error>
    where
        F: FnMut(&mut StompClient, Frame) -> Option<T>,
    {
        loop {
            let Some(frame) = self.recv_inner(options.timeout, options.transaction.as_deref())?
            else {
                return Ok(None);
            };
            // The ACK is due once the callback returns; hold it aside while it runs so that a
            // panic leaves the message un-ACKed even if the client is used again afterwards,
            // and so that an ACK or NACK the callback sends itself cancels it.
            self.loop_ack = self.pending_ack.take();
            let out = callback(self, frame);
            if let Some(p) = self.loop_ack.take() {
                let inner = self.pending_ack.replace(p);
                self.send_pending_ack()?;
                self.pending_ack = inner;
            }
            self.send_pending_ack()?;
            if out.is_some() {
                return Ok(out);
            }
        }
    }

    // ---- receipts ------------------------------------------------------------------------

    /// A new unique receipt id.
    pub fn new_receipt_id(&self) -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// Waits until the RECEIPT for `receipt_id` arrives. Frames that arrive meanwhile are kept,
    /// in order, for the next [`StompClient::recv`].
    ///
    /// # Errors
    /// [`Error::Timeout`] with [`Timeout::Receipt`] when it does not come in time;
    /// [`Error::Broker`] for an ERROR frame meanwhile; [`Error::NotConnected`] when the
    /// connection closes first.
    pub fn wait_for_receipt(&mut self, receipt_id: &str, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.receipts.remove(receipt_id) {
                return Ok(());
            }
            self.ensure_connected()?;
            match self.pump(Some(deadline)) {
                // Frames that keep coming must not hold off the deadline.
                Ok(Pumped::Event(ev)) if Instant::now() < deadline => self.hold(ev)?,
                Ok(Pumped::Event(ev)) => {
                    self.hold(ev)?;
                    if !self.receipts.remove(receipt_id) {
                        return Err(Error::Timeout(Timeout::Receipt(timeout)));
                    }
                    return Ok(());
                }
                Ok(Pumped::Deadline) => return Err(Error::Timeout(Timeout::Receipt(timeout))),
                Ok(Pumped::Closed) => {
                    self.on_connection_lost(None)?;
                    return Err(Error::NotConnected(format!(
                        "connection closed before receipt {receipt_id:?}"
                    )));
                }
                Err(e) if e.is_fatal() => {
                    self.on_connection_lost(Some(clone_error(&e)))?;
                    return Err(e);
                }
                Err(e) => {
                    self.last_broker_error = Some(clone_error(&e));
                    return Err(e);
                }
            }
        }
    }

    // ---- sending -------------------------------------------------------------------------

    /// Sends `body` to `destination`.
    ///
    /// # Errors
    /// As [`StompClient::send_frame`].
    pub fn send(&mut self, destination: &str, body: impl AsRef<[u8]>) -> Result<(), Error> {
        let f = Frame::new(Command::Send)
            .with_header(header::DESTINATION, destination)
            .with_body(body.as_ref());
        self.send_frame(&f)
    }

    /// Sends `value` as a JSON body with `content-type:application/json`.
    ///
    /// # Errors
    /// [`Error::Body`] when `value` cannot be serialised; otherwise as
    /// [`StompClient::send_frame`].
    pub fn send_json<T: serde::Serialize>(
        &mut self,
        destination: &str,
        value: &T,
    ) -> Result<(), Error> {
        self.message(destination).json(value)?.send().map(drop)
    }

    /// A message with headers, content type, receipt or transaction:
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let mut client = stompy::StompClient::connect(broker.addr())?;
    /// use std::time::Duration;
    /// let receipt = client
    ///     .message("/queue/orders")
    ///     .body("one")
    ///     .header("priority", "9")
    ///     .content_type("text/plain")
    ///     .receipt()
    ///     .send()?;
    /// client.wait_for_receipt(&receipt.unwrap(), Duration::from_secs(5))?;
    /// # Ok::<(), stompy::Error>(())
    /// ```
    pub fn message(&mut self, destination: &str) -> SendBuilder<'_> {
        SendBuilder::new(self, destination)
    }

    // ---- subscriptions -------------------------------------------------------------------

    /// Subscribes to `destination` with auto-ACK on; returns the subscription id.
    ///
    /// # Errors
    /// As [`StompClient::send_frame`]; [`Error::Invalid`] for `client-individual` on 1.0.
    pub fn subscribe(&mut self, destination: &str, ack: AckMode) -> Result<String, Error> {
        self.subscription(destination).ack(ack).subscribe()
    }

    /// A subscription with options: id, extra headers (selector, prefetch-count, ...), auto-ACK
    /// off, a receipt.
    pub fn subscription(&mut self, destination: &str) -> SubscribeBuilder<'_> {
        SubscribeBuilder::new(self, destination)
    }

    /// Ends a subscription.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an unknown id; otherwise as [`StompClient::send_frame`].
    pub fn unsubscribe(&mut self, id: &str) -> Result<(), Error> {
        self.ensure_connected()?;
        self.write_or_fail(|c| {
            c.session.unsubscribe(id, None, Instant::now())?;
            c.flush_after_send()
        })
    }

    // ---- acknowledgements ----------------------------------------------------------------

    /// ACKs a MESSAGE with the headers the protocol version wants.
    ///
    /// # Errors
    /// As [`StompClient::send_frame`].
    pub fn ack(&mut self, message: &Frame) -> Result<(), Error> {
        self.acknowledge(message, Command::Ack, None)
    }

    /// NACKs a MESSAGE (STOMP 1.1+): the broker may redeliver or dead-letter it.
    ///
    /// # Errors
    /// [`Error::Invalid`] on STOMP 1.0; otherwise as [`StompClient::send_frame`].
    pub fn nack(&mut self, message: &Frame) -> Result<(), Error> {
        self.acknowledge(message, Command::Nack, None)
    }

    pub(crate) fn acknowledge(
        &mut self,
        message: &Frame,
        command: Command,
        transaction: Option<&str>,
    ) -> Result<(), Error> {
        self.ensure_connected()?;
        self.cancel_pending_ack_for(message);
        self.write_or_fail(|c| {
            let token = AckToken::of(message);
            c.session
                .acknowledge(&token, command, transaction, Instant::now())?;
            c.flush_after_send()
        })
    }

    // ---- transactions --------------------------------------------------------------------

    /// Begins a transaction. The guard sends ABORT when dropped un-committed.
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let mut client = stompy::StompClient::connect(broker.addr())?;
    /// let mut tx = client.transaction()?;
    /// tx.send("/queue/out", "one")?;
    /// tx.send("/queue/out", "two")?;
    /// tx.commit()?; // both or neither
    /// # Ok::<(), stompy::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`StompClient::send_frame`].
    pub fn transaction(&mut self) -> Result<Transaction<'_>, Error> {
        let id = format!("tx-{}", uuid::Uuid::new_v4().simple());
        Transaction::begin(self, id)
    }

    /// Begins a transaction with a chosen id.
    ///
    /// # Errors
    /// As [`StompClient::send_frame`].
    pub fn transaction_with_id(&mut self, id: &str) -> Result<Transaction<'_>, Error> {
        Transaction::begin(self, id.to_owned())
    }

    // ---- closing -------------------------------------------------------------------------

    /// Sends DISCONNECT with a receipt, waits for it (at most the disconnect timeout), and
    /// closes. A message handed out but not yet auto-ACKed stays un-ACKed.
    ///
    /// # Errors
    /// A receipt [`Timeout`] or I/O error; the connection is closed either way.
    pub fn disconnect(&mut self) -> Result<(), Error> {
        let timeout = self.cfg.disconnect_timeout;
        self.disconnect_within(timeout)
    }

    fn disconnect_within(&mut self, timeout: Duration) -> Result<(), Error> {
        self.pending_ack = None;
        self.loop_ack = None;
        if self.conn.is_none() || self.session.phase() != Phase::Connected {
            self.drop_connection();
            return Ok(());
        }
        let receipt = self.new_receipt_id();
        let f = Frame::new(Command::Disconnect).with_header(header::RECEIPT, &receipt);
        let res = self
            .session
            .send_frame(&f, Instant::now())
            .and_then(|()| self.flush_now())
            .and_then(|()| self.wait_for_receipt(&receipt, timeout));
        self.drop_connection();
        self.close_reason = None;
        self.listeners.each(|l| l.on_disconnected(None));
        match res {
            Err(Error::NotConnected(_)) => Ok(()), // closed right after the receipt: fine
            other => other,
        }
    }
}

impl Drop for StompClient {
    fn drop(&mut self) {
        let timeout = self.cfg.disconnect_timeout.min(Duration::from_secs(1));
        if let Err(e) = self.disconnect_within(timeout) {
            log::debug!("disconnect on drop: {e}");
        }
    }
}

/// Options for [`StompClient::loop_with_options`].
#[derive(Debug, Clone, Default)]
pub struct LoopOptions {
    /// Longest wait for each frame; past it the loop returns a [`Timeout::Recv`] error.
    pub timeout: Option<Duration>,
    /// Transaction id that the loop's auto-ACKs join.
    pub transaction: Option<String>,
}

/// Something that names one or more broker addresses: a `&str`, `String`, `SocketAddr`,
/// [`Address`], or an array, slice or `Vec` of those.
pub trait IntoAddresses {
    /// The addresses.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an address that cannot be parsed.
    fn into_addresses(self) -> Result<Vec<Address>, Error>;
}

macro_rules! single_address {
    ($($t:ty),*) => {$(
        impl IntoAddresses for $t {
            fn into_addresses(self) -> Result<Vec<Address>, Error> {
                Ok(vec![Address::try_from(self)?])
            }
        }
    )*};
}
single_address!(&str, String, &String, std::net::SocketAddr, Address);

impl<T: IntoAddresses + Clone> IntoAddresses for &[T] {
    fn into_addresses(self) -> Result<Vec<Address>, Error> {
        let mut v = Vec::new();
        for a in self {
            v.extend(a.clone().into_addresses()?);
        }
        Ok(v)
    }
}

impl<T: IntoAddresses, const N: usize> IntoAddresses for [T; N] {
    fn into_addresses(self) -> Result<Vec<Address>, Error> {
        let mut v = Vec::new();
        for a in self {
            v.extend(a.into_addresses()?);
        }
        Ok(v)
    }
}

impl<T: IntoAddresses> IntoAddresses for Vec<T> {
    fn into_addresses(self) -> Result<Vec<Address>, Error> {
        let mut v = Vec::new();
        for a in self {
            v.extend(a.into_addresses()?);
        }
        Ok(v)
    }
}

/// Errors are not `Clone` (they may hold an `io::Error`); this keeps the kind and message.
pub(crate) fn clone_error(e: &Error) -> Error {
    match e {
        Error::Io(io) => Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        Error::Protocol(p) => Error::Protocol(p.clone()),
        Error::Broker(b) => Error::Broker(b.clone()),
        Error::Timeout(t) => Error::Timeout(*t),
        Error::NotConnected(s) => Error::NotConnected(s.clone()),
        Error::Invalid(s) => Error::Invalid(s.clone()),
        Error::Body(s) => Error::Body(s.clone()),
        Error::Tls(s) => Error::Tls(s.clone()),
        Error::WebSocket(s) => Error::WebSocket(s.clone()),
        Error::TransactionLost(s) => Error::TransactionLost(s.clone()),
        Error::ConnectFailed { attempts, last } => Error::ConnectFailed {
            attempts: *attempts,
            last: Box::new(clone_error(last)),
        },
    }
}
