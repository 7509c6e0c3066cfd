//! The protocol session without sockets: negotiation, subscriptions, acks, receipts,
//! transactions and heart-beat clocks.
//!
//! A [`Session`] is fed bytes ([`Session::feed`]) and time (every method that can act on time
//! takes `now`); it emits bytes ([`Session::output`] / [`Session::consume_output`]) and
//! [`Event`]s ([`Session::poll_event`]). It never reads a clock and never touches a socket, so
//! it can be driven in memory by tests and by any transport.
//!
//! Order of calls on each turn of a driver:
//! 1. write out [`Session::output`] and report what went with [`Session::consume_output`];
//! 2. feed what was read with [`Session::feed`];
//! 3. drain [`Session::poll_event`] until it returns `Ok(None)`;
//! 4. call [`Session::handle_timeout`] and sleep at most until [`Session::poll_timeout`].

mod ack;
pub(crate) mod heartbeat;
mod outbox;
mod receipt;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::io::{self, Write};
use std::time::{Duration, Instant};

pub(crate) use ack::AckIds;
pub use ack::{AckMode, AckToken, Subscription};
pub use heartbeat::parse_heart_beat;
use heartbeat::{HeartBeat, Policy};
pub use outbox::ConfirmWindow;
use outbox::{Confirmed, Outbox};
pub(crate) use receipt::ReceiptSet;

use crate::codec::{
    encode_ack_1_2, encode_frame, encode_heartbeat, encode_parts_with, has_nul, write_decimal,
    Decoder, Found, Limits, OutBuf, ONE_PEER_READ_CHUNK,
};
use crate::error::{BrokerError, Error, ProtocolError, Timeout};
use crate::frame::{header, same_name, Command, Frame, FrameRef, Headers, Version};

/// Receipts asked for and not yet answered that the session remembers; past this the oldest
/// are forgotten (a wait for one of those still ends by its deadline).
const MAX_PENDING_RECEIPTS: usize = 65_536;

/// Subscription ids unsubscribed on this connection that the session remembers, so that a
/// MESSAGE the broker sent before it saw the UNSUBSCRIBE is still delivered; past this the
/// oldest are forgotten.
const MAX_UNSUBSCRIBED: usize = 4096;

/// What a session needs to know to open a connection. Start from `SessionConfig::default()`
/// and set the fields that differ.
#[non_exhaustive]
#[derive(Clone)]
pub struct SessionConfig {
    /// Protocol versions offered in `accept-version`, in any order.
    pub versions: Vec<Version>,
    /// The `host` header (virtual host). `None` sends the `default_host` given to
    /// [`Session::start`].
    pub host: Option<String>,
    /// `login` header.
    pub login: Option<String>,
    /// `passcode` header.
    pub passcode: Option<String>,
    /// Extra CONNECT headers.
    pub headers: Headers,
    /// Send `STOMP` instead of `CONNECT` (only when 1.1 or later is offered).
    pub use_stomp_command: bool,
    /// Heart-beats we offer: (we can send every cx ms, we want to receive every cy ms).
    pub heart_beat: (u32, u32),
    /// Silence longer than the receive interval × this scale is a heart-beat timeout.
    pub heart_beat_scale: f64,
    /// Limits on what the broker may send.
    pub limits: Limits,
    /// Write `content-length` on every SEND (the default). Off, a SEND whose body holds no
    /// NUL goes without one, as stomp.py's `auto_content_length=False` sends it: ActiveMQ then
    /// delivers a JMS `TextMessage` rather than a `BytesMessage`. A body with a NUL, or a
    /// `content-length` given by the caller, always gets the real length.
    pub auto_content_length: bool,
    /// How many confirmed sends may wait for their receipts at once.
    pub confirm_window: ConfirmWindow,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            versions: Version::ALL.to_vec(),
            host: None,
            login: None,
            passcode: None,
            headers: Headers::new(),
            use_stomp_command: false,
            heart_beat: (0, 0),
            heart_beat_scale: 1.5,
            limits: Limits::default(),
            auto_content_length: true,
            confirm_window: ConfirmWindow::default(),
        }
    }
}

/// What [`Session::poll_event`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// CONNECTED arrived: the session is open ([`Session::connected_frame`] has it).
    Connected,
    /// A frame for the application (MESSAGE, or anything else that is not RECEIPT or ERROR).
    Frame(Frame),
    /// A RECEIPT arrived for this receipt id (one the session asked for and still awaited;
    /// others are dropped).
    Receipt(String),
    /// A RECEIPT confirmed a confirmed send whose receipt id the session made up (nobody else
    /// waits for it).
    Confirmed(String),
    /// The peer sent a heart-beat (an EOL between frames).
    HeartBeat,
}

/// What [`Session::poll_found`] found: an event, or a MESSAGE where it lies.
#[derive(Debug)]
pub(crate) enum Polled {
    Event(Event),
    /// A MESSAGE, left where it lies in the decoder's buffer ([`Session::lend`],
    /// [`Session::take`]).
    Message {
        /// Its subscription wants it ACKed by the client for the application
        /// ([`Subscription::auto_ack`] in a client ack mode).
        auto_ack: bool,
        /// Where the subscription its `subscription` header names is among the session's
        /// ([`Session::subscription_at`]), until the session next changes.
        sub: Option<usize>,
    },
}

/// True when the client ACKs the messages of `sub` for the application.
pub(crate) fn auto_acked(sub: &Subscription) -> bool {
    sub.auto_ack && sub.ack.needs_ack()
}

/// Where the session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Nothing sent yet.
    Idle,
    /// CONNECT sent, waiting for CONNECTED.
    Connecting,
    /// Open.
    Connected,
    /// DISCONNECT sent.
    Disconnecting,
}

/// A client's STOMP session, without sockets. See the [module docs](self).
pub struct Session {
    cfg: SessionConfig,
    phase: Phase,
    version: Version,
    decoder: Decoder,
    out: OutBuf,
    heart_beat: HeartBeat,
    connected: Option<Frame>,
    subs: Vec<Subscription>,
    /// Ids unsubscribed on this connection: MESSAGEs already in flight for them are expected.
    unsubscribed: ReceiptSet,
    receipts: ReceiptSet,
    transactions: HashSet<String>,
    next_id: u64,
    sent_log: Option<Vec<Frame>>,
    /// The fatal error that ended this connection: every later poll reports it again.
    failed: Option<Failed>,
    /// The head of the last [`Session::send_to`], up to its `content-length` line.
    send_head: SendHead,
    /// Confirmed sends still waiting for their RECEIPTs, kept across connections.
    outbox: Outbox,
    /// The transport sends each write as a message of its own: the output keeps where each
    /// frame ends (from the next [`Session::start`] on).
    frame_per_write: bool,
}

/// A SEND head kept for the next message to the same destination: consumers of a queue are
/// usually fed one destination at a time, and copying the head costs less than checking and
/// escaping it again.
#[derive(Debug, Default)]
struct SendHead {
    /// The version the head was written in; `None` before the first.
    version: Option<Version>,
    destination: String,
    /// `SEND` and the escaped `destination` line (`prefix` bytes), then the end of the head
    /// that `end` describes.
    bytes: Vec<u8>,
    prefix: usize,
    end: HeadEnd,
}

/// How a kept [`SendHead`] ends after its `destination` line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum HeadEnd {
    /// Not at all yet.
    #[default]
    Open,
    /// A blank line: no `content-length`.
    Blank,
    /// `content-length` of a body this long, and a blank line.
    Length(usize),
}

impl SendHead {
    /// True when this head is the one for a SEND to `destination` in `version`.
    #[inline]
    fn is_for(&self, version: Version, destination: &str) -> bool {
        self.version == Some(version)
            && same_bytes(self.destination.as_bytes(), destination.as_bytes())
    }

    /// Writes the head for `destination` in `version` with the general encoder, so that it
    /// is checked and escaped exactly as any SEND's.
    ///
    /// # Errors
    /// As [`encode_parts`], for a destination `version` cannot carry; nothing is kept then.
    fn write(&mut self, version: Version, destination: &str) -> Result<(), Error> {
        self.version = None;
        self.bytes.clear();
        let headers = [(header::DESTINATION, destination)].into_iter();
        encode_parts_with(Command::Send, headers, b"", version, false, &mut self.bytes)?;
        // It ends with the blank line and the NUL of an empty body.
        self.prefix = self.bytes.len() - 2;
        self.bytes.truncate(self.prefix);
        self.end = HeadEnd::Open;
        self.destination.clear();
        self.destination.push_str(destination);
        self.version = Some(version);
        Ok(())
    }

    /// The whole head, with a `content-length` of `length` when given.
    #[inline(always)]
    fn with_length(&mut self, length: Option<usize>) -> &[u8] {
        let end = length.map_or(HeadEnd::Blank, HeadEnd::Length);
        if self.end != end {
            self.end_with(end);
        }
        &self.bytes
    }

    #[inline(never)]
    fn end_with(&mut self, end: HeadEnd) {
        self.bytes.truncate(self.prefix);
        if let HeadEnd::Length(n) = end {
            self.bytes.extend_from_slice(b"content-length:");
            write_decimal(n, &mut self.bytes);
            self.bytes.push(b'\n');
        }
        self.bytes.push(b'\n');
        self.end = end;
    }
}

/// `a == b`, with no call for 8 to 16 bytes (a usual destination, compared on every send):
/// the first eight and the last eight, overlapping.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if (8..=16).contains(&a.len()) {
        let word = |s: Option<&[u8; 8]>| s.map_or(0, |w| u64::from_ne_bytes(*w));
        return word(a.first_chunk()) == word(b.first_chunk())
            && word(a.last_chunk()) == word(b.last_chunk());
    }
    a == b
}

/// A fatal error, kept (errors are not `Clone`) so that it is final.
#[derive(Debug, Clone)]
enum Failed {
    Protocol(ProtocolError),
    Timeout(Timeout),
}

impl Failed {
    fn of(e: &Error) -> Option<Failed> {
        match e {
            Error::Protocol(p) if e.is_fatal() => Some(Failed::Protocol(p.clone())),
            Error::Timeout(t) if e.is_fatal() => Some(Failed::Timeout(*t)),
            _ => None,
        }
    }

    fn to_error(&self) -> Error {
        match self {
            Failed::Protocol(p) => Error::Protocol(p.clone()),
            Failed::Timeout(t) => Error::Timeout(*t),
        }
    }
}

impl Session {
    /// A session that has sent nothing yet.
    pub fn new(cfg: SessionConfig, now: Instant) -> Self {
        let decoder = Decoder::new(Version::V1_0, cfg.limits).with_read_max(ONE_PEER_READ_CHUNK);
        let mut s = Session {
            phase: Phase::Idle,
            version: Version::V1_0,
            decoder,
            out: OutBuf::default(),
            heart_beat: HeartBeat::off(now),
            connected: None,
            subs: Vec::new(),
            unsubscribed: ReceiptSet::new(MAX_UNSUBSCRIBED),
            receipts: ReceiptSet::new(MAX_PENDING_RECEIPTS),
            transactions: HashSet::new(),
            next_id: 0,
            sent_log: None,
            failed: None,
            send_head: SendHead::default(),
            outbox: Outbox::new(cfg.confirm_window),
            cfg,
            frame_per_write: false,
        };
        s.out.set_frame_ends(false);
        s
    }

    // ---- getters -------------------------------------------------------------------------

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    /// Where the session is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The negotiated protocol version (1.0 until CONNECTED says otherwise).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The CONNECTED frame, once it arrived.
    pub fn connected_frame(&self) -> Option<&Frame> {
        self.connected.as_ref()
    }

    /// Negotiated heart-beat intervals: (we send every, we expect every).
    pub fn heart_beat(&self) -> (Option<Duration>, Option<Duration>) {
        (
            self.heart_beat.send_interval(),
            self.heart_beat.recv_interval(),
        )
    }

    /// Active subscriptions, in the order they were made.
    pub fn subscriptions(&self) -> &[Subscription] {
        &self.subs
    }

    /// The subscription with this id.
    pub fn subscription(&self, id: &str) -> Option<&Subscription> {
        self.subscription_by_bytes(id.as_bytes())
    }

    /// [`Session::subscription`] of an id as bytes (a received header's).
    #[inline]
    pub(crate) fn subscription_by_bytes(&self, id: &[u8]) -> Option<&Subscription> {
        self.subscription_index(id).map(|at| &self.subs[at])
    }

    /// Where the subscription `id` is among the session's.
    #[inline]
    fn subscription_index(&self, id: &[u8]) -> Option<usize> {
        self.subs
            .iter()
            .position(|s| same_name(s.id.as_bytes(), id))
    }

    /// True when some subscription wants its messages ACKed by the client for the application
    /// (a client ack mode with auto-ACK on): otherwise no MESSAGE needs looking up for it.
    pub(crate) fn auto_acks_any(&self) -> bool {
        self.subs.iter().any(auto_acked)
    }

    /// The subscription a MESSAGE belongs to: the one its `subscription` header names or,
    /// when the header is missing (some STOMP 1.0 brokers omit it), the only subscription to
    /// its destination.
    pub fn subscription_of(&self, message: &Frame) -> Option<&Subscription> {
        if let Some(id) = message.subscription() {
            return self.subscription(id);
        }
        let dest = message.destination()?;
        let mut matching = self.subs.iter().filter(|s| s.destination == dest);
        let first = matching.next()?;
        matching.next().is_none().then_some(first)
    }

    /// True when `message` belongs to a subscription for which `pred` holds: the one its
    /// `subscription` header names or, without the header, every subscription to its
    /// destination (at least one). A STOMP 1.0 broker may omit the header even when two
    /// subscriptions share the destination; an ACK there needs only the `message-id`.
    pub(crate) fn message_is(
        &self,
        message: FrameRef<'_>,
        pred: impl Fn(&Subscription) -> bool,
    ) -> bool {
        let sub = message.get_bytes(header::SUBSCRIPTION);
        self.message_is_of(sub, || message.destination(), pred)
    }

    /// [`Session::message_is`] for a MESSAGE whose `subscription` header is `sub`, and whose
    /// `destination` is looked up only when that header is missing.
    pub(crate) fn message_is_of<'a>(
        &self,
        sub: Option<&[u8]>,
        destination: impl FnOnce() -> Option<&'a str>,
        pred: impl Fn(&Subscription) -> bool,
    ) -> bool {
        if let Some(id) = sub {
            return self.subscription_by_bytes(id).is_some_and(pred);
        }
        let Some(dest) = destination() else {
            return false;
        };
        let mut matching = self
            .subs
            .iter()
            .filter(|s| s.destination == dest)
            .peekable();
        matching.peek().is_some() && matching.all(pred)
    }

    /// True when this transaction was begun and not yet committed or aborted.
    pub fn in_transaction(&self, id: &str) -> bool {
        self.transactions.contains(id)
    }

    /// True when a RECEIPT for `id` is still awaited.
    pub fn is_receipt_pending(&self, id: &str) -> bool {
        self.receipts.contains(id)
    }

    /// A fresh id for subscriptions (`prefix-N`) or anything else that must be unique here.
    pub fn next_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id)
    }

    // ---- output --------------------------------------------------------------------------

    /// Keeps a copy of every frame written from now on, for [`Session::take_sent`] (used to
    /// tell listeners what was sent). Off by default: it costs a copy per frame.
    pub(crate) fn record_sent(&mut self, on: bool) {
        self.sent_log = on.then(Vec::new);
    }

    /// The frames written since the last call (empty unless [`Session::record_sent`] is on).
    pub(crate) fn take_sent(&mut self) -> Vec<Frame> {
        self.sent_log
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Bytes waiting to be written to the peer.
    pub fn output(&self) -> &[u8] {
        self.out.pending()
    }

    /// How many bytes wait to be written.
    #[inline]
    pub(crate) fn output_len(&self) -> usize {
        self.out.len()
    }

    /// True when there are bytes to write.
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// Drops the first `n` bytes of [`Session::output`]: they were written.
    pub fn consume_output(&mut self, n: usize) {
        self.out.consume(n);
    }

    /// Whether the transport of the next connection sends each write as a message of its own
    /// (WebSocket): [`Session::write_output`] then gives it one frame at a time. Takes effect
    /// at the next [`Session::start`]; off, no frame ends are kept.
    pub(crate) fn set_frame_per_write(&mut self, on: bool) {
        self.frame_per_write = on;
    }

    /// Writes [`Session::output`] to `w` until it is all written or `w` would block, one
    /// frame per write when [`Session::set_frame_per_write`] said so; returns how many bytes
    /// went.
    ///
    /// # Errors
    /// What `w` returned, other than `WouldBlock` and `Interrupted`.
    pub(crate) fn write_output(&mut self, w: &mut dyn Write) -> io::Result<usize> {
        let framed = self.out.keeps_frame_ends();
        self.out.write_to(w, framed)
    }

    /// Writes the CONNECT (or STOMP) frame.
    pub fn start(&mut self, default_host: &str, now: Instant) -> Result<(), Error> {
        let frame = self.connect_frame(default_host);
        self.decoder =
            Decoder::new(Version::V1_0, self.cfg.limits).with_read_max(ONE_PEER_READ_CHUNK);
        self.out.clear();
        self.out.set_frame_ends(self.frame_per_write);
        self.version = Version::V1_0;
        self.connected = None;
        self.heart_beat = HeartBeat::off(now);
        self.receipts.clear();
        self.unsubscribed.clear();
        self.transactions.clear();
        self.failed = None;
        self.phase = Phase::Connecting;
        self.out
            .push(|out| encode_frame(&frame, Version::V1_0, out))?;
        if let Some(log) = &mut self.sent_log {
            log.push(frame);
        }
        Ok(())
    }

    /// The CONNECT (or STOMP) frame this configuration sends.
    pub fn connect_frame(&self, default_host: &str) -> Frame {
        let modern = self.cfg.versions.iter().any(|&v| v > Version::V1_0);
        let cmd = if self.cfg.use_stomp_command && modern {
            Command::Stomp
        } else {
            Command::Connect
        };
        let mut f = Frame::new(cmd);
        let h = f.headers_mut();
        if modern {
            let mut vs = self.cfg.versions.clone();
            vs.sort();
            vs.dedup();
            let list: Vec<&str> = vs.iter().map(|v| v.as_str()).collect();
            h.push(header::ACCEPT_VERSION, &list.join(","));
            h.push(
                header::HOST,
                self.cfg.host.as_deref().unwrap_or(default_host),
            );
            let (cx, cy) = self.cfg.heart_beat;
            h.push(header::HEART_BEAT, &format!("{cx},{cy}"));
        } else if let Some(host) = &self.cfg.host {
            h.push(header::HOST, host);
        }
        if let Some(login) = &self.cfg.login {
            h.push(header::LOGIN, login);
        }
        if let Some(pass) = &self.cfg.passcode {
            h.push(header::PASSCODE, pass);
        }
        for (k, v) in self.cfg.headers.iter() {
            if !h.contains(k) {
                h.push(k, v);
            }
        }
        f
    }

    /// Encodes `frame` for sending, tracking what it means (receipts, subscriptions,
    /// transactions): a SUBSCRIBE or UNSUBSCRIBE sent this way is recorded exactly as
    /// [`Session::subscribe`] and [`Session::unsubscribe`] record theirs.
    ///
    /// # Errors
    /// [`Error::NotConnected`] before CONNECTED or after DISCONNECT; [`Error::Invalid`] for a
    /// frame the negotiated version cannot carry, or a subscription the session refuses.
    pub fn send_frame(&mut self, frame: &Frame, now: Instant) -> Result<(), Error> {
        match frame.command() {
            Command::Subscribe => {
                let receipt = frame.get(header::RECEIPT);
                let sub = Subscription::from_frame(frame, || self.next_id("sub"))?;
                self.subscribe(sub, receipt, now)
            }
            Command::Unsubscribe => {
                let receipt = frame.get(header::RECEIPT);
                let id = match frame.get(header::ID) {
                    Some(id) => id.to_owned(),
                    None => self.subscription_to(frame.destination())?,
                };
                self.unsubscribe(&id, receipt, now)
            }
            command => {
                let headers = frame.headers().iter();
                self.write_parts(command, headers, frame.body(), now)
            }
        }
    }

    /// The id of the subscription to `destination` (a STOMP 1.0 UNSUBSCRIBE may name the
    /// destination alone).
    fn subscription_to(&self, destination: Option<&str>) -> Result<String, Error> {
        let dest =
            destination.ok_or_else(|| Error::invalid("UNSUBSCRIBE needs id or destination"))?;
        self.subs
            .iter()
            .find(|s| s.destination == dest)
            .map(|s| s.id.clone())
            .ok_or_else(|| Error::invalid(format!("no subscription to {dest:?}")))
    }

    /// Like [`Session::send_frame`], from borrowed parts: a SEND costs no [`Frame`] and no copy
    /// of its body before it is encoded.
    ///
    /// # Errors
    /// As [`Session::send_frame`].
    pub fn send_parts<'a, I>(
        &mut self,
        command: Command,
        headers: I,
        body: &[u8],
        now: Instant,
    ) -> Result<(), Error>
    where
        I: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        if matches!(command, Command::Subscribe | Command::Unsubscribe) {
            let f = Frame::from_parts(command, headers.collect(), body.to_vec());
            return self.send_frame(&f, now);
        }
        self.write_parts(command, headers, body, now)
    }

    /// Encodes a frame and keeps the books of receipts and transactions.
    fn write_parts<'a, I>(
        &mut self,
        command: Command,
        headers: I,
        body: &[u8],
        now: Instant,
    ) -> Result<(), Error>
    where
        I: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        self.encode(command, headers.clone(), body, now)?;
        let get = |name: &str| {
            let mut all = headers.clone();
            all.find(|(n, _)| *n == name).map(|(_, v)| v)
        };
        if let Some(r) = get(header::RECEIPT) {
            self.receipts.insert(r);
        }
        let tx = || get(header::TRANSACTION).unwrap_or_default().to_owned();
        match command {
            Command::Begin => {
                self.transactions.insert(tx());
            }
            Command::Commit | Command::Abort => {
                self.transactions.remove(&tx());
            }
            Command::Disconnect => self.phase = Phase::Disconnecting,
            _ => {}
        }
        Ok(())
    }

    /// Encodes a frame into the output (and the log of sent frames), keeping no books.
    fn encode<'a, I>(
        &mut self,
        command: Command,
        headers: I,
        body: &[u8],
        now: Instant,
    ) -> Result<(), Error>
    where
        I: Iterator<Item = (&'a str, &'a str)> + Clone,
    {
        if self.phase != Phase::Connected {
            return Err(Error::NotConnected(format!("cannot send {command}")));
        }
        if command == Command::Nack && self.version == Version::V1_0 {
            return Err(Error::invalid("NACK does not exist in STOMP 1.0"));
        }
        let length = self.cfg.auto_content_length
            || command != Command::Send
            || has_nul(body)
            || headers.clone().any(|(n, _)| n == header::CONTENT_LENGTH);
        let version = self.version;
        let encode = |out: &mut Vec<u8>| {
            encode_parts_with(command, headers.clone(), body, version, length, out)
        };
        self.out.push(encode)?;
        self.heart_beat.on_sent(now);
        if let Some(log) = &mut self.sent_log {
            log.push(Frame::from_parts(command, headers.collect(), body.to_vec()));
        }
        Ok(())
    }

    // ---- confirmed sends -----------------------------------------------------------------

    /// True when a SEND of `size` bytes ([`Session::confirm_size`]) fits in the window of
    /// unconfirmed sends now.
    pub(crate) fn has_confirm_room(&self, size: usize) -> bool {
        self.outbox.has_room(size)
    }

    /// The bytes `frame` takes in the window of unconfirmed sends.
    pub(crate) fn confirm_size(frame: &Frame) -> usize {
        Outbox::size_of(frame)
    }

    /// Sends `frame` (a SEND outside any transaction) with a receipt and keeps it until the
    /// RECEIPT comes: [`Event::Confirmed`] (or [`Event::Receipt`] when `frame` carries a
    /// receipt id of its own) then releases it. While not connected the frame is only kept;
    /// [`Session::resend_unconfirmed`] writes it on the next connection. Call
    /// [`Session::has_confirm_room`] first: the window is not checked here.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a frame that is not a SEND, is inside a transaction, or that the
    /// version cannot carry; it is not kept then.
    pub(crate) fn send_confirmed(&mut self, mut frame: Frame, now: Instant) -> Result<(), Error> {
        if frame.command() != Command::Send || frame.headers().contains(header::TRANSACTION) {
            return Err(Error::invalid(
                "only a SEND outside a transaction can be confirmed",
            ));
        }
        if !frame.headers().contains(header::RECEIPT) {
            let id = self.outbox.next_receipt_id();
            frame.headers_mut().push(header::RECEIPT, &id);
        }
        if self.phase == Phase::Connected {
            self.encode(frame.command(), frame.headers().iter(), frame.body(), now)?;
        }
        self.outbox.push(frame);
        Ok(())
    }

    /// Writes every unconfirmed send again, oldest first (after a reconnect, before anything
    /// new).
    pub(crate) fn resend_unconfirmed(&mut self, now: Instant) -> Result<(), Error> {
        let frames: Vec<Frame> = self.outbox.unconfirmed().cloned().collect();
        for f in &frames {
            self.encode(f.command(), f.headers().iter(), f.body(), now)?;
        }
        Ok(())
    }

    /// Sends that wait for their receipts: (frames, bytes).
    pub(crate) fn unconfirmed_len(&self) -> (usize, usize) {
        (self.outbox.len(), self.outbox.bytes())
    }

    /// The sends that wait for their receipts, oldest first.
    pub(crate) fn unconfirmed(&self) -> impl Iterator<Item = &Frame> + '_ {
        self.outbox.unconfirmed()
    }

    /// Gives up on every unconfirmed send: hands them back, oldest first.
    pub(crate) fn take_unconfirmed(&mut self) -> Vec<Frame> {
        self.outbox.take_all()
    }

    /// True when `receipt_id` belongs to a confirmed send: a resend after a reconnect asks
    /// for it again.
    pub(crate) fn is_confirming(&self, receipt_id: &str) -> bool {
        self.outbox.awaits(receipt_id)
    }

    /// Queues a SEND of `body` to `destination`, with no other header: what
    /// [`Session::send_parts`] writes for it, but the head is copied from the last such SEND
    /// when the destination is the same, and only the body is looked at.
    ///
    /// # Errors
    /// As [`Session::send_parts`].
    #[inline]
    pub(crate) fn send_to(
        &mut self,
        destination: &str,
        body: &[u8],
        now: Instant,
    ) -> Result<(), Error> {
        let kept = self.phase == Phase::Connected
            && self.sent_log.is_none()
            && self.send_head.is_for(self.version, destination);
        if !kept {
            return self.send_to_new(destination, body, now);
        }
        let length = self.cfg.auto_content_length || has_nul(body);
        let head = self.send_head.with_length(length.then_some(body.len()));
        self.out.push_frame(head, body);
        self.heart_beat.on_sent(now);
        Ok(())
    }

    /// [`Session::send_to`] when the kept head is not for this SEND: it is written anew (or
    /// the frame goes through [`Session::send_parts`] when it cannot be kept).
    #[inline(never)]
    fn send_to_new(&mut self, destination: &str, body: &[u8], now: Instant) -> Result<(), Error> {
        if self.phase != Phase::Connected || self.sent_log.is_some() {
            let headers = [(header::DESTINATION, destination)];
            return self.send_parts(Command::Send, headers.into_iter(), body, now);
        }
        self.send_head.write(self.version, destination)?;
        self.send_to(destination, body, now)
    }

    /// Records a subscription and writes its SUBSCRIBE frame (with `receipt` if given).
    pub fn subscribe(
        &mut self,
        sub: Subscription,
        receipt: Option<&str>,
        now: Instant,
    ) -> Result<(), Error> {
        if self.subscription(&sub.id).is_some() {
            return Err(Error::invalid(format!(
                "subscription id {:?} is already in use",
                sub.id
            )));
        }
        if sub.ack == AckMode::ClientIndividual && self.version == Version::V1_0 {
            return Err(Error::invalid(
                "ack mode client-individual does not exist in STOMP 1.0",
            ));
        }
        let mut f = sub.subscribe_frame();
        if let Some(r) = receipt {
            f.headers_mut().push(header::RECEIPT, r);
        }
        self.write_frame(&f, now)?;
        self.unsubscribed.remove(&sub.id);
        self.subs.push(sub);
        Ok(())
    }

    /// Forgets a subscription and writes its UNSUBSCRIBE frame.
    pub fn unsubscribe(
        &mut self,
        id: &str,
        receipt: Option<&str>,
        now: Instant,
    ) -> Result<(), Error> {
        let Some(i) = self.subs.iter().position(|s| s.id == id) else {
            return Err(Error::invalid(format!("no subscription with id {id:?}")));
        };
        let sub = &self.subs[i];
        let mut f = Frame::new(Command::Unsubscribe).with_header(header::ID, &sub.id);
        if self.version == Version::V1_0 {
            f.headers_mut().push(header::DESTINATION, &sub.destination);
        }
        if let Some(r) = receipt {
            f.headers_mut().push(header::RECEIPT, r);
        }
        self.write_frame(&f, now)?;
        self.unsubscribed.insert(id);
        self.subs.remove(i);
        Ok(())
    }

    /// Writes the SUBSCRIBE frames of every recorded subscription again (after a reconnect).
    pub fn resubscribe_all(&mut self, now: Instant) -> Result<(), Error> {
        for sub in self.subs.clone() {
            self.write_frame(&sub.subscribe_frame(), now)?;
        }
        Ok(())
    }

    fn write_frame(&mut self, frame: &Frame, now: Instant) -> Result<(), Error> {
        let headers = frame.headers().iter();
        self.write_parts(frame.command(), headers, frame.body(), now)
    }

    /// Writes an ACK or NACK for `token` (inside `transaction` when given).
    pub fn acknowledge(
        &mut self,
        token: &AckToken,
        command: Command,
        transaction: Option<&str>,
        now: Instant,
    ) -> Result<(), Error> {
        self.acknowledge_ids(token.ids(), command, transaction, now)
    }

    /// Like [`Session::acknowledge`], with identifiers borrowed from the MESSAGE itself.
    pub(crate) fn acknowledge_ids(
        &mut self,
        ids: AckIds<'_>,
        command: Command,
        transaction: Option<&str>,
        now: Instant,
    ) -> Result<(), Error> {
        if self.phase != Phase::Connected {
            return Err(Error::NotConnected(format!("cannot send {command}")));
        }
        // Encoded straight from the token: no frame is built for the most frequent write, and a
        // 1.2 ACK (unless logged) not even its table of headers.
        if let (true, Some(id)) = (self.acks_directly(), ids.id_1_2()) {
            let tx = transaction.map(str::as_bytes);
            self.out.push(|out| encode_ack_1_2(command, id, tx, out));
            self.heart_beat.on_sent(now);
            return Ok(());
        }
        let headers = ids.headers(command, self.version, transaction)?;
        let pairs = headers.iter().flatten().copied();
        let version = self.version;
        self.out
            .push(|out| encode_parts_with(command, pairs.clone(), b"", version, true, out))?;
        self.heart_beat.on_sent(now);
        if let Some(log) = &mut self.sent_log {
            let text = pairs.map(|(name, value)| (name, String::from_utf8_lossy(value)));
            log.push(Frame::from_parts(command, text.collect(), Vec::new()));
        }
        Ok(())
    }

    /// True when an ACK or NACK is written with [`encode_ack_1_2`], straight from its id: in
    /// 1.2, unless the session logs what it sends.
    #[inline]
    fn acks_directly(&self) -> bool {
        self.version == Version::V1_2 && self.sent_log.is_none()
    }

    /// Queues an ACK that was encoded ahead with [`encode_ack_1_2`] (an auto-ACK, written
    /// when its message was handed out). `Ok(false)`, nothing queued: the session does not
    /// take it as it is (its version is not 1.2, or it logs what it sends); use
    /// [`Session::acknowledge_ids`].
    pub(crate) fn acknowledge_encoded(&mut self, ack: &[u8], now: Instant) -> Result<bool, Error> {
        if self.phase != Phase::Connected {
            return Err(Error::NotConnected("cannot send ACK".into()));
        }
        if !self.acks_directly() {
            return Ok(false);
        }
        self.out.push(|out| out.extend_from_slice(ack));
        self.heart_beat.on_sent(now);
        Ok(true)
    }

    // ---- input ---------------------------------------------------------------------------

    /// The decoder, for reading straight into its buffer. Call [`Session::on_received`] after.
    pub(crate) fn decoder_mut(&mut self) -> &mut Decoder {
        &mut self.decoder
    }

    /// Records that bytes arrived at `now` (heart-beat clock).
    pub fn on_received(&mut self, now: Instant) {
        self.heart_beat.on_recv(now);
    }

    /// Feeds bytes received from the peer.
    pub fn feed(&mut self, bytes: &[u8], now: Instant) {
        self.decoder.feed(bytes);
        self.on_received(now);
    }

    /// True when no partial frame is buffered (a close now loses nothing).
    pub fn is_between_frames(&self) -> bool {
        self.decoder.is_idle()
    }

    /// True when received bytes wait in the decoder: the next [`Session::poll_event`] may
    /// answer without reading the socket.
    pub fn has_input_buffered(&self) -> bool {
        self.decoder.buffered() > 0
    }

    /// Bytes buffered in the decoder.
    pub fn buffered(&self) -> usize {
        self.decoder.buffered()
    }

    /// The next event from the bytes fed so far, or `Ok(None)` when more are needed.
    ///
    /// # Errors
    /// [`Error::Broker`] for an ERROR frame (the session stays usable; most brokers close the
    /// connection after it); [`Error::Protocol`] for invalid input (fatal: drop the connection).
    /// A fatal error is final: every later call returns it again, until [`Session::start`].
    pub fn poll_event(&mut self, now: Instant) -> Result<Option<Event>, Error> {
        Ok(match self.poll_found(now)? {
            None => None,
            Some(Polled::Event(ev)) => Some(ev),
            Some(Polled::Message { .. }) => Some(Event::Frame(self.decoder.take())),
        })
    }

    /// Like [`Session::poll_event`], but a MESSAGE is left where it lies in the decoder's
    /// buffer, checked: [`Session::lend`] lends it and [`Session::take`] makes a [`Frame`] of
    /// it, before the next call that feeds or polls.
    #[inline]
    pub(crate) fn poll_found(&mut self, now: Instant) -> Result<Option<Polled>, Error> {
        if let Some(f) = &self.failed {
            return Err(f.to_error());
        }
        match self.next_found(now) {
            Err(e) => Err(self.failing(e)),
            found => found,
        }
    }

    /// Records `e` if it ends the session, and returns it.
    #[cold]
    fn failing(&mut self, e: Error) -> Error {
        self.failed = Failed::of(&e);
        e
    }

    /// The MESSAGE [`Session::poll_found`] found, lent.
    #[inline]
    pub(crate) fn lend(&self) -> FrameRef<'_> {
        self.decoder.view()
    }

    /// The MESSAGE [`Session::poll_found`] found, made a [`Frame`].
    pub(crate) fn take(&mut self) -> Frame {
        self.decoder.take()
    }

    #[inline]
    fn next_found(&mut self, now: Instant) -> Result<Option<Polled>, Error> {
        loop {
            let command = match self.decoder.find()? {
                None => return Ok(None),
                Some(Found::HeartBeat) => return Ok(Some(Polled::Event(Event::HeartBeat))),
                Some(Found::Frame(command)) => command,
            };
            if command == Command::Message {
                let (auto_ack, sub) = self.check_message()?;
                return Ok(Some(Polled::Message { auto_ack, sub }));
            }
            let frame = self.decoder.take();
            if !self.is_unsolicited_receipt(&frame) {
                return self.on_frame(frame, now).map(|ev| Some(Polled::Event(ev)));
            }
        }
    }

    /// A MESSAGE is expected: the session is open, and its subscription is one of ours (or was,
    /// and the broker sent it before it saw our UNSUBSCRIBE: real brokers send those, and an
    /// auto-mode message would be lost otherwise). Returns whether the client owes it an
    /// auto-ACK, and where the subscription its header names is among the session's.
    #[inline]
    fn check_message(&self) -> Result<(bool, Option<usize>), Error> {
        if self.phase == Phase::Connecting {
            return Err(unexpected("MESSAGE before CONNECTED"));
        }
        let frame = || self.decoder.view();
        let id = match self.decoder.found_subscription() {
            Some(id) => id,
            None => frame().get_bytes(header::SUBSCRIPTION),
        };
        let Some(id) = id else {
            let frame = frame();
            let destination = || frame.destination();
            let auto = self.auto_acks_any() && self.message_is_of(None, destination, auto_acked);
            return Ok((auto, None));
        };
        if let Some(at) = self.subscription_index(id) {
            return Ok((auto_acked(&self.subs[at]), Some(at)));
        }
        let frame = frame();
        let sub = frame.subscription().unwrap_or_default();
        if !self.unsubscribed.contains(sub) {
            return Err(unexpected(&format!(
                "MESSAGE for unknown subscription {sub:?}"
            )));
        }
        Ok((false, None))
    }

    /// The subscription at `at` among the session's (see [`Polled::Message`]).
    #[inline]
    pub(crate) fn subscription_at(&self, at: usize) -> Option<&Subscription> {
        self.subs.get(at)
    }

    /// A frame other than MESSAGE, for the session or the application.
    fn on_frame(&mut self, frame: Frame, now: Instant) -> Result<Event, Error> {
        match frame.command() {
            Command::Connected => self.on_connected(frame, now).map(|()| Event::Connected),
            Command::Receipt => {
                let id = frame.get(header::RECEIPT_ID).unwrap_or_default();
                if let Some(c) = self.outbox.confirm(id) {
                    return Ok(match c {
                        Confirmed::Own => Event::Confirmed(id.to_owned()),
                        Confirmed::Named(id) => Event::Receipt(id),
                    });
                }
                let id = id.to_owned();
                self.receipts.remove(&id);
                Ok(Event::Receipt(id))
            }
            Command::Error => {
                let receipt_id = frame.get(header::RECEIPT_ID).map(str::to_owned);
                if let Some(r) = &receipt_id {
                    // A confirmed send the broker refused stays unconfirmed (the error is
                    // reported): it is never dropped silently, and goes again after a
                    // reconnect, unless the application takes it back.
                    self.receipts.remove(r);
                }
                Err(BrokerError {
                    message: frame.get(header::MESSAGE).unwrap_or_default().to_owned(),
                    body: String::from_utf8_lossy(frame.body()).into_owned(),
                    receipt_id,
                }
                .into())
            }
            other if other.is_client() => {
                Err(unexpected(&format!("{other} frame from the broker")))
            }
            _ => Ok(Event::Frame(frame)),
        }
    }

    /// A RECEIPT for an id never asked for (or already answered) is dropped here: reported,
    /// it would complete a later wait for that id before the broker answered it.
    fn is_unsolicited_receipt(&self, frame: &Frame) -> bool {
        if frame.command() != Command::Receipt {
            return false;
        }
        let id = frame.get(header::RECEIPT_ID).unwrap_or_default();
        let unsolicited = !self.receipts.contains(id) && !self.outbox.awaits(id);
        if unsolicited {
            log::warn!("ignored a RECEIPT for an id never asked for: {id:?}");
        }
        unsolicited
    }

    fn on_connected(&mut self, frame: Frame, now: Instant) -> Result<(), Error> {
        if self.phase != Phase::Connecting {
            return Err(unexpected("CONNECTED when not connecting"));
        }
        let version = match frame.get(header::VERSION) {
            None => Version::V1_0,
            Some(v) => v.parse::<Version>()?,
        };
        let offered = self.cfg.versions.contains(&version)
            || (version == Version::V1_0 && self.cfg.versions.is_empty());
        if !offered {
            return Err(ProtocolError::UnsupportedVersion(version.to_string()).into());
        }
        self.version = version;
        self.decoder.set_version(version);
        self.heart_beat = match (version, frame.get(header::HEART_BEAT)) {
            (Version::V1_0, _) | (_, None) => HeartBeat::off(now),
            (_, Some(hb)) => {
                let (sx, sy) = parse_heart_beat::<u32>(hb)?;
                let (cx, cy) = self.cfg.heart_beat;
                let ours = (u64::from(cx), u64::from(cy));
                let theirs = (u64::from(sx), u64::from(sy));
                let policy = Policy {
                    tolerance: self.cfg.heart_beat_scale,
                    first_beat_grace: true,
                    fixed_deadline: false,
                    max_interval: Duration::MAX,
                };
                HeartBeat::negotiate(ours, theirs, &policy, now)
            }
        };
        self.connected = Some(frame);
        self.phase = Phase::Connected;
        Ok(())
    }

    // ---- time ----------------------------------------------------------------------------

    /// Sends a heart-beat when one is due and checks that the peer is alive.
    ///
    /// # Errors
    /// [`Error::Timeout`] with [`Timeout::HeartBeat`](crate::Timeout) when the peer was silent
    /// past its interval × scale; a fatal error reported earlier, again.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if let Some(f) = &self.failed {
            return Err(f.to_error());
        }
        if self.phase != Phase::Connected && self.phase != Phase::Disconnecting {
            return Ok(());
        }
        self.send_due_heart_beat(now);
        match self.heart_beat.overdue(now) {
            Some(silence) => {
                let e = Error::Timeout(Timeout::HeartBeat(silence));
                self.failed = Failed::of(&e);
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// Queues a heart-beat when one is due (output already waiting serves as one), without
    /// judging the peer's silence; true when one was due, so the driver should write. For a
    /// driver that still has frames buffered to hand out: the peer is judged by
    /// [`Session::handle_timeout`] once those are used up and the socket was read.
    pub fn send_due_heart_beat(&mut self, now: Instant) -> bool {
        if !self.heart_beat_due(now) {
            return false;
        }
        if !self.wants_write() {
            self.out.push(encode_heartbeat);
        }
        self.heart_beat.on_sent(now);
        true
    }

    /// True when a heart-beat is due at `now` ([`Session::send_due_heart_beat`] would queue
    /// one).
    pub(crate) fn heart_beat_due(&self, now: Instant) -> bool {
        let open = matches!(self.phase, Phase::Connected | Phase::Disconnecting);
        open && self.failed.is_none() && self.heart_beat.wants_send(now)
    }

    /// Records that bytes were written at `now` (heart-beat clock). Frames count as sent when
    /// queued, at the time given then; a driver that passes a cached time there calls this
    /// after each write so that the clock stays exact. A time earlier than one already
    /// recorded changes nothing.
    pub(crate) fn on_sent(&mut self, now: Instant) {
        self.heart_beat.on_sent(now);
    }

    /// When [`Session::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Connected | Phase::Disconnecting => self.heart_beat.next_deadline(),
            _ => None,
        }
    }
}

fn unexpected(what: &str) -> Error {
    Error::Protocol(ProtocolError::Unexpected(what.to_owned()))
}

/// By hand, so that the passcode never shows, nor a `passcode` among the extra headers.
/// Every field is named: a new one must be considered here.
impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let SessionConfig {
            versions,
            host,
            login,
            passcode,
            headers,
            use_stomp_command,
            heart_beat,
            heart_beat_scale,
            limits,
            auto_content_length,
            confirm_window,
        } = self;
        let headers: Vec<_> = headers
            .iter()
            .map(|(k, v)| {
                let secret = k.eq_ignore_ascii_case(header::PASSCODE);
                (k, if secret { "***" } else { v })
            })
            .collect();
        f.debug_struct("SessionConfig")
            .field("versions", versions)
            .field("host", host)
            .field("login", login)
            .field("passcode", &passcode.as_ref().map(|_| "***"))
            .field("headers", &headers)
            .field("use_stomp_command", use_stomp_command)
            .field("heart_beat", heart_beat)
            .field("heart_beat_scale", heart_beat_scale)
            .field("limits", limits)
            .field("auto_content_length", auto_content_length)
            .field("confirm_window", confirm_window)
            .finish()
    }
}

/// By hand: the output buffer and the log of frames sent hold the CONNECT frame, passcode
/// and all, so they show as lengths.
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("cfg", &self.cfg)
            .field("phase", &self.phase)
            .field("version", &self.version)
            .field("decoder", &self.decoder)
            .field("output_len", &self.out.len())
            .field("heart_beat", &self.heart_beat)
            .field("connected", &self.connected)
            .field("subs", &self.subs)
            .field("unsubscribed", &self.unsubscribed)
            .field("receipts", &self.receipts)
            .field("transactions", &self.transactions)
            .field("next_id", &self.next_id)
            .field("sent_log_len", &self.sent_log.as_ref().map(Vec::len))
            .field("failed", &self.failed)
            .field("send_head", &self.send_head)
            .field("outbox", &self.outbox)
            .finish()
    }
}
