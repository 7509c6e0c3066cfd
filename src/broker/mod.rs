//! The embedded broker: a real STOMP 1.0/1.1/1.2 server for one machine, so that examples and
//! tests run with nothing installed.
//!
//! ```text
//!  clients ──TCP───────────────▶ server (mio loop, one background thread)
//!          ──TLS───────────────▶   │ per connection a link: TCP, TLS (rustls),
//!          ──WebSocket─────────▶   │ WebSocket (tungstenite), WebSocket over TLS
//!          ──WebSocket over TLS▶   │ bytes in / bytes out per connection
//!                                  ▼
//!                   engine (sans-IO): per-connection state (codec, version, subscriptions,
//!                     │                un-ACKed deliveries, transactions, heart-beat clocks)
//!                     ▼
//!                   destinations: /queue/… (kept, round-robin) and /topic/… (fan-out)
//! ```
//!
//! Start one on a free port, talk to it, stop it:
//!
//! ```
//! use stompy::broker::Broker;
//! let broker = Broker::builder()
//!     .user("guest", "guest")
//!     .max_queue_len(100_000)
//!     .heart_beat(1000, 1000)
//!     .limits(stompy::Limits::default())
//!     .bind("127.0.0.1:0")?;
//! println!("STOMP broker on {}", broker.addr());
//! broker.shutdown();
//!
//! let broker = Broker::bind("127.0.0.1:0")?; // defaults: no logins, heart-beats as clients ask
//! drop(broker); // stops it too
//! # Ok::<(), stompy::Error>(())
//! ```
//!
//! # What it does
//! - Versions 1.0, 1.1 and 1.2, negotiated from `accept-version` (absent: 1.0), CONNECT or
//!   STOMP. CONNECTED carries `version`, `server`, `session` and `heart-beat`. Heart-beats are
//!   negotiated per spec; a client silent for twice its promised interval is disconnected.
//! - Logins are checked when users were configured (a bad one gets ERROR "login failed").
//!   A connection that sends nothing for 30 s before CONNECT is dropped.
//! - `/queue/…` destinations, and **every destination that does not start with `/topic/`**,
//!   are queues: messages wait (up to [`BrokerBuilder::max_queue_len`]) until a consumer comes,
//!   and competing consumers are served round-robin. A subscription's `prefetch-count` (or
//!   `activemq.prefetchSize`) header limits its un-ACKed messages.
//! - Flow control instead of loss: a SEND that fills a queue to
//!   [`BrokerBuilder::max_queue_len`] pauses its sender (the broker handles none of its
//!   further frames, and leaves its socket unread) until the queue drains below that. A paused
//!   sender is not timed out for silence. A connection that consumes with client acks from the
//!   queue it filled can only be unblocked by other consumers.
//! - `/topic/…` destinations fan out to their current subscribers; nothing is kept. A
//!   subscriber whose prefetch is full, or who stopped reading (16 MiB queued), misses them.
//! - Ack modes `auto`, `client` (cumulative over the subscription's deliveries) and
//!   `client-individual`. MESSAGE frames carry `subscription`, `message-id` (unique per
//!   message, stable over redeliveries), `destination`, `ack` (a per-delivery id such as
//!   `a12`, in client modes), `redelivered:true` for redeliveries, and the sender's own
//!   headers. ACK and NACK name the delivery by `id` (1.2) or `message-id` (1.0, 1.1); a 1.2
//!   `id` holding a `message-id` (as RabbitMQ, whose two are equal, lets clients send) finds
//!   that message's pending delivery.
//! - NACK, UNSUBSCRIBE and a lost connection put un-ACKed queue messages back at the head of
//!   their queue, flagged redelivered; un-ACKed topic messages are dropped.
//! - Transactions hold SEND, ACK and NACK until COMMIT; ABORT or disconnect drops them.
//! - With a data directory ([`BrokerBuilder::data_dir`], `stompy-broker --data-dir DIR`),
//!   queue messages sent with `persistent:true` survive a crash: each is on disk (a redb
//!   file, one `fsync` per turn of the event loop for all connections) before its RECEIPT goes
//!   out, until it is ACKed (in `auto` mode: delivered), and is back in its queue, in order,
//!   after a restart. Everything else stays in memory only; without a data directory nothing
//!   touches the disk.
//! - Every frame with a `receipt` header gets its RECEIPT, ahead of the messages that frame
//!   released (a SUBSCRIBE's backlog, what an ACK or NACK let through). A protocol violation
//!   gets an ERROR (with `message`, `receipt-id`, a short text body) and the connection closes.
//! - A client that shuts down its sending side still gets what its frames asked for, then the
//!   connection closes.
//!
//! # Listeners: TCP, TLS, WebSocket
//! One broker listens on as many addresses as it is given, each speaking one
//! [`ListenerKind`]; all share the same queues and topics:
//!
//! - [`BrokerBuilder::bind`]`(addr)`: the main address, plain TCP, or TLS once
//!   [`BrokerBuilder::tls`] gave a certificate ([`BrokerTls`], feature `tls`).
//! - [`BrokerBuilder::listen`], [`BrokerBuilder::listen_tls`], [`BrokerBuilder::listen_ws`]
//!   (feature `websocket`) and [`BrokerBuilder::listen_wss`] add listeners; finish with `bind`,
//!   or with [`BrokerBuilder::start`] when the listeners added are all there is.
//! - [`BrokerHandle::addr`] is the main address; [`BrokerHandle::addr_of`] and
//!   [`BrokerHandle::listeners`] tell the others.
//!
//! TLS and WebSocket are the client's own layers, over a non-blocking socket: their
//! handshakes advance as the event loop reads and writes, never blocking it, and a failed one
//! (an untrusted or missing client certificate, a request that is not a WebSocket upgrade)
//! closes only its connection. A WebSocket listener accepts any path, answers with the
//! highest STOMP subprotocol offered (`v12.stomp`, `v11.stomp`, `v10.stomp`), reads frames
//! from text and binary messages, and sends each frame in a message of its own, text when it
//! is UTF-8 and binary otherwise (as RabbitMQ and ActiveMQ do). The engine only sees bytes in
//! and bytes out per connection.

mod conn;
pub(crate) mod engine;
mod handle;
mod link;
mod listener;
mod queue;
mod server;
mod store;
#[cfg(test)]
mod tests;
#[cfg(feature = "tls")]
mod tls;
mod tx;
#[cfg(feature = "websocket")]
mod ws_accept;

pub use listener::ListenerKind;
#[cfg(feature = "tls")]
pub use tls::BrokerTls;

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use engine::{Config, Engine, Stored};
use link::Setup;
use listener::Wanted;
use server::{Control, Server, WAKER};

use crate::codec::Limits;

/// Entry point: [`Broker::builder`] for settings, [`Broker::bind`] for the defaults.
#[derive(Debug)]
pub struct Broker(());

impl Broker {
    /// A builder with the defaults: no users (any login is accepted), 100 000 messages per
    /// queue, heart-beats offered every 10 s both ways, [`Limits::default`].
    pub fn builder() -> BrokerBuilder {
        BrokerBuilder {
            cfg: Config::default(),
            state: None,
            data_dir: None,
            listeners: Vec::new(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Starts a broker with the defaults on `addr` (port 0 picks a free port).
    ///
    /// # Errors
    /// When the address cannot be resolved or bound.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<BrokerHandle> {
        Broker::builder().bind(addr)
    }
}

/// Settings for a broker; finish with [`BrokerBuilder::bind`] or [`BrokerBuilder::start`].
#[derive(Debug)]
pub struct BrokerBuilder {
    cfg: Config,
    state: Option<BrokerState>,
    data_dir: Option<PathBuf>,
    listeners: Vec<Wanted>,
    #[cfg(feature = "tls")]
    tls: Option<BrokerTls>,
}

impl BrokerBuilder {
    /// Accepts `login` with `passcode`. Once any user is added, CONNECT frames must carry a
    /// matching `login` and `passcode`.
    pub fn user(mut self, login: &str, passcode: &str) -> Self {
        self.cfg
            .users
            .insert(login.to_string(), passcode.to_string());
        self
    }

    /// Most messages one queue keeps while no consumer takes them (default 100 000). A SEND
    /// that fills the queue pauses its sender until the queue drains (see the module docs);
    /// nothing is refused or dropped, and redeliveries are always kept.
    pub fn max_queue_len(mut self, n: usize) -> Self {
        self.cfg.max_queue_len = n;
        self
    }

    /// The heart-beat intervals the broker agrees to, in milliseconds (default 100 ms to a
    /// day). Each client gets the heart-beats it asks for in its CONNECT, clamped into
    /// `min_ms..=max_ms`: the broker sends every `cy` (the client's wish to hear from it) and
    /// expects the client every `cx`, and says so in CONNECTED, as RabbitMQ does. A client
    /// that asks for none in a direction (`0`), or speaks STOMP 1.0, gets none.
    ///
    /// ```
    /// let broker = stompy::broker::Broker::builder().heart_beat(1000, 60_000).bind("127.0.0.1:0")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn heart_beat(mut self, min_ms: u64, max_ms: u64) -> Self {
        self.cfg.heart_beat = (min_ms, max_ms.max(min_ms));
        self
    }

    /// Most bytes one queue holds (default 64 MiB) before its senders pause, as at
    /// [`BrokerBuilder::max_queue_len`]: memory stays bounded when no consumer reads.
    pub fn max_queue_bytes(mut self, n: usize) -> Self {
        self.cfg.max_queue_bytes = n;
        self
    }

    /// Most subscriptions one connection may hold (default 10 000): one more gets an ERROR and
    /// the connection is closed.
    pub fn max_subscriptions(mut self, n: usize) -> Self {
        self.cfg.max_subscriptions = n;
        self
    }

    /// Most un-ACKed messages one subscription is given at a time (default 10 000), whatever
    /// its `prefetch-count` asks for: a client that reads and never ACKs holds at most this
    /// many.
    pub fn max_unacked(mut self, n: usize) -> Self {
        self.cfg.max_unacked = n;
        self
    }

    /// Hard limits on what clients may send (a breach gets ERROR and closes the connection).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.cfg.limits = limits;
        self
    }

    /// Starts with the queued messages of an earlier broker
    /// ([`BrokerHandle::shutdown_keep_state`]).
    pub fn state(mut self, state: BrokerState) -> Self {
        self.state = Some(state);
        self
    }

    /// Keeps persistent messages in `dir` (created if needed; one broker at a time), so that
    /// they survive a crash or restart. Without it (the default) nothing touches the disk.
    ///
    /// A message sent with the header `persistent:true` to a queue (any destination but
    /// `/topic/…`) is on disk before its RECEIPT is sent, and stays there until it is consumed:
    /// ACKed in the `client` and `client-individual` modes, delivered in `auto` mode. A SEND
    /// inside a transaction is stored at COMMIT (whose RECEIPT waits likewise), and an ACK's
    /// RECEIPT waits until the ACK is on disk too. Topic messages and messages without the
    /// header stay in memory only.
    ///
    /// Writes are group commits: the frames handled in one turn of the event loop, from all
    /// connections, are written in one transaction with one `fsync`, and the RECEIPTs they
    /// asked for go out after it. A message consumed in the same turn it arrived is never
    /// written. If a commit fails, the connections whose frames it carried get an ERROR
    /// instead of their RECEIPTs and are closed.
    ///
    /// At start, every message of the directory is back in its queue, oldest first, flagged
    /// `redelivered:true` (it may have been delivered before the crash), ahead of anything
    /// new. The file is a [redb](https://docs.rs/redb) database (`stompy.redb`), whose commits
    /// are atomic and checksummed: after a crash, even one that tore the last write, it opens
    /// at the last complete commit. A file damaged beyond that fails the start with an error.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("stompy-doc-{}", std::process::id()));
    /// use stompy::broker::Broker;
    /// let broker = Broker::builder().data_dir(&dir).bind("127.0.0.1:0")?;
    /// let mut client = stompy::StompClient::connect(broker.addr())?;
    /// client
    ///     .message("/queue/orders")
    ///     .header("persistent", "true")
    ///     .body("kept")
    ///     .send_and_wait(std::time::Duration::from_secs(5))?; // on disk now
    /// # drop(client);
    /// # broker.shutdown();
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// The certificate (and the client CA, for mutual TLS) of the TLS listeners. With it,
    /// [`BrokerBuilder::bind`] listens for STOMP over TLS instead of plain TCP;
    /// [`BrokerBuilder::listen_tls`] and [`BrokerBuilder::listen_wss`] need it.
    ///
    /// A failed handshake (an untrusted or missing client certificate, a client that does
    /// not speak TLS) closes that connection only.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: BrokerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Adds a listener for STOMP over plain TCP on `addr` (port 0 picks a free port), to
    /// start with [`BrokerBuilder::start`] or besides the one of [`BrokerBuilder::bind`].
    /// An address that does not resolve fails the start.
    pub fn listen(mut self, addr: impl ToSocketAddrs) -> Self {
        self.listeners.push(Wanted::new(ListenerKind::Tcp, addr));
        self
    }

    /// Adds a listener for STOMP over TLS (`stomp+ssl://`) on `addr`, with the settings of
    /// [`BrokerBuilder::tls`].
    #[cfg(feature = "tls")]
    pub fn listen_tls(mut self, addr: impl ToSocketAddrs) -> Self {
        self.listeners.push(Wanted::new(ListenerKind::Tls, addr));
        self
    }

    /// Adds a listener for STOMP over WebSocket (`ws://`, RFC 6455) on `addr`. It accepts
    /// upgrades on any path, answers with the highest STOMP subprotocol the client offers
    /// (`v12.stomp`, `v11.stomp`, `v10.stomp`; none if it offers none), reads STOMP frames
    /// from text and binary messages (a frame may span messages, and a message may hold
    /// several frames) and sends one frame per message: text when the frame is UTF-8, binary
    /// otherwise.
    ///
    /// One WebSocket message may be at most [`Limits::max_body`] plus 1 MiB.
    ///
    /// ```
    /// use stompy::broker::{Broker, ListenerKind};
    /// let broker = Broker::builder()
    ///     .listen_ws("127.0.0.1:0")
    ///     .bind("127.0.0.1:0")?; // plain TCP and WebSocket
    /// let ws = broker.addr_of(ListenerKind::WebSocket).unwrap();
    /// println!("STOMP on tcp://{} and ws://{ws}/", broker.addr());
    /// # Ok::<(), stompy::Error>(())
    /// ```
    #[cfg(feature = "websocket")]
    pub fn listen_ws(mut self, addr: impl ToSocketAddrs) -> Self {
        self.listeners
            .push(Wanted::new(ListenerKind::WebSocket, addr));
        self
    }

    /// Adds a listener for STOMP over WebSocket over TLS (`wss://`) on `addr`, with the
    /// settings of [`BrokerBuilder::tls`]; otherwise as [`BrokerBuilder::listen_ws`].
    #[cfg(all(feature = "tls", feature = "websocket"))]
    pub fn listen_wss(mut self, addr: impl ToSocketAddrs) -> Self {
        self.listeners
            .push(Wanted::new(ListenerKind::WebSocketTls, addr));
        self
    }

    /// Binds `addr` and starts the broker's event loop on a background thread. `addr` speaks
    /// STOMP over TLS when [`BrokerBuilder::tls`] was given, plain TCP otherwise; it is the
    /// broker's main address ([`BrokerHandle::addr`]). Listeners added with the `listen_*`
    /// methods are bound as well.
    ///
    /// # Errors
    /// When an address cannot be resolved or bound, or the thread cannot start.
    pub fn bind(mut self, addr: impl ToSocketAddrs) -> io::Result<BrokerHandle> {
        #[cfg(feature = "tls")]
        let kind = match self.tls {
            Some(_) => ListenerKind::Tls,
            None => ListenerKind::Tcp,
        };
        #[cfg(not(feature = "tls"))]
        let kind = ListenerKind::Tcp;
        self.listeners.insert(0, Wanted::new(kind, addr));
        self.start()
    }

    /// Binds the listeners added with [`BrokerBuilder::listen`], [`BrokerBuilder::listen_tls`],
    /// [`BrokerBuilder::listen_ws`] and [`BrokerBuilder::listen_wss`], and starts the
    /// broker's event loop on a background thread. The first listener added is the main
    /// address ([`BrokerHandle::addr`]).
    ///
    /// # Errors
    /// When no listener was added, an address cannot be resolved or bound, a TLS listener
    /// lacks [`BrokerBuilder::tls`], or the thread cannot start. When the
    /// [`BrokerBuilder::data_dir`] cannot be opened (another broker uses it, a file damaged
    /// beyond repair): an error of kind [`io::ErrorKind::Other`] whose message names the
    /// directory.
    pub fn start(mut self) -> io::Result<BrokerHandle> {
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
        if self.listeners.is_empty() {
            return Err(invalid(
                "no listener: use bind(addr) or listen(addr)".into(),
            ));
        }
        if let Some(w) = self
            .listeners
            .iter()
            .find(|w| w.kind.is_tls() && !self.has_tls())
        {
            return Err(invalid(format!(
                "a {} listener needs TLS settings (BrokerBuilder::tls)",
                w.kind
            )));
        }
        let stored = self.state.take().map(|s| s.stored).unwrap_or_default();
        let (stored, durable) = match &self.data_dir {
            None => (stored, None),
            Some(dir) => {
                let (stored, durable) = store::recover(dir, stored)
                    .map_err(|e| io::Error::other(format!("data directory: {e}")))?;
                (stored, Some(durable))
            }
        };
        let mut bound = Vec::new();
        let mut listeners = Vec::new();
        for wanted in &self.listeners {
            let listener = wanted.bind()?;
            listeners.push((listener.local_addr()?, wanted.kind));
            bound.push((listener, wanted.kind));
        }
        let setup = self.setup();
        let poll = mio::Poll::new()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKER)?);
        let (control, rx) = mpsc::channel();
        let engine = Engine::with_store(self.cfg, stored, durable);
        let server = Server::new(poll, bound, setup, engine, rx)?;
        let thread = std::thread::Builder::new()
            .name(format!("stompy-broker {}", listeners[0].0))
            .spawn(move || server.run())?;
        Ok(BrokerHandle {
            listeners: listeners.into_iter().map(|(a, k)| (k, a)).collect(),
            control,
            waker,
            thread: Some(thread),
        })
    }

    fn has_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// What every accepted connection is set up with.
    fn setup(&self) -> Setup {
        Setup {
            #[cfg(feature = "tls")]
            tls: self.tls.as_ref().map(BrokerTls::config),
            #[cfg(feature = "websocket")]
            max_ws_message: self.cfg.limits.max_body.saturating_add(1 << 20),
        }
    }
}

/// A running broker. Dropping it stops the broker, as [`BrokerHandle::shutdown`] does.
#[derive(Debug)]
pub struct BrokerHandle {
    listeners: Vec<(ListenerKind, SocketAddr)>,
    control: Sender<Control>,
    waker: Arc<mio::Waker>,
    thread: Option<JoinHandle<Stored>>,
}

impl BrokerHandle {
    /// The broker's main address (with the real port when bound to port 0): the one given to
    /// [`BrokerBuilder::bind`], or the first listener added.
    pub fn addr(&self) -> SocketAddr {
        self.listeners[0].1
    }

    /// The address of the first listener of `kind`, if the broker has one.
    pub fn addr_of(&self, kind: ListenerKind) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, a)| *a)
    }

    /// Every listener, in the order they were added (the main one first).
    pub fn listeners(&self) -> &[(ListenerKind, SocketAddr)] {
        &self.listeners
    }

    /// Drops every client connection abruptly, as a crash would, and returns once done.
    /// Un-ACKed messages go back to their queues as redelivered; queues are kept and new
    /// connections are accepted. A test aid for reconnect logic.
    pub fn kill_connections(&self) {
        let (done, wait) = mpsc::channel();
        if self.control.send(Control::Kill(done)).is_ok() && self.waker.wake().is_ok() {
            let _ = wait.recv();
        }
    }

    /// Stops the broker: closes every connection and joins its thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    /// Stops the broker and returns the messages its queues hold (un-ACKed ones included, as
    /// redelivered), to start another broker with via [`BrokerBuilder::state`]. A broker with
    /// a [`BrokerBuilder::data_dir`] commits and closes it first; a broker started with this
    /// state on the same directory does not count its persistent messages twice.
    pub fn shutdown_keep_state(mut self) -> BrokerState {
        BrokerState {
            stored: self.stop().unwrap_or_default(),
        }
    }

    fn stop(&mut self) -> Option<Stored> {
        let thread = self.thread.take()?;
        let _ = self.control.send(Control::Stop);
        let _ = self.waker.wake();
        thread.join().ok()
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The messages a stopped broker's queues held; see [`BrokerHandle::shutdown_keep_state`].
#[derive(Debug, Default)]
pub struct BrokerState {
    stored: Stored,
}

impl BrokerState {
    /// How many messages are kept, over all queues.
    pub fn message_count(&self) -> usize {
        self.stored.queues.iter().map(|(_, q)| q.len()).sum()
    }

    /// How many messages each queue keeps, by destination.
    pub fn queue_lengths(&self) -> HashMap<String, usize> {
        let lens = self
            .stored
            .queues
            .iter()
            .map(|(n, q)| (n.to_string(), q.len()));
        lens.collect()
    }
}
