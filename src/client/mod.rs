//! [`StompClient`]: the pull-style client, a thin mio driver over the sans-IO
//! [`Session`](crate::session::Session).

mod autoack;
mod builder;
mod confirm;
mod conn;
mod connecting;
mod driver;
mod events;
mod inbox;
mod iter;
mod listeners;
mod receiving;
mod reconnect;
mod requests;
mod sending;
mod transaction;

use std::time::{Duration, Instant};

use autoack::AutoAcks;
pub use builder::ClientBuilder;
pub(crate) use builder::ClientConfig;
use conn::{Conn, Pumped};
pub use events::Listener;
use events::Listeners;
use inbox::Inbox;
pub use iter::Frames;
pub use listeners::{PrintingListener, Stats, StatsListener};
pub use reconnect::ReconnectPolicy;
use reconnect::Rounds;
pub use requests::{SendBuilder, SubscribeBuilder};
pub use transaction::Transaction;

use crate::error::{Error, Timeout};
use crate::frame::{header, Command, Frame, FrameRef, Version};
use crate::session::{AckIds, AckMode, AckToken, Event, Phase, Polled, Session, Subscription};
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

/// A connection that ends sooner than this after CONNECTED, having received nothing else,
/// was not worth making: the next reconnect waits as after a failed round.
const QUICK_DROP: Duration = Duration::from_secs(1);

/// What a deadline that does not fit in an `Instant` becomes: never, in practice.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `now + d`; a timeout too large for an `Instant` (`Duration::MAX`, say) means no
/// deadline rather than an overflow panic.
pub(crate) fn deadline_after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d).unwrap_or_else(|| now + FOREVER)
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
    /// Frames and RECEIPTs that arrived while the application waited for something else.
    inbox: Inbox,
    /// The frame [`StompClient::recv_ref`] lent last, when it was not lent from the read
    /// buffer (it had been held, or it was read by a full turn); for `recv`, the frame on its
    /// way out.
    lent: Option<Frame>,
    /// The auto-ACK the client owes.
    acks: AutoAcks,
    /// Why the last connection ended (None: cleanly, or still open).
    close_reason: Option<Error>,
    /// An ERROR frame seen on the current connection: the likely cause if it closes.
    last_broker_error: Option<Error>,
    /// The failure that ended the connection, for `recv` to report once the frames that
    /// arrived before it are handed out.
    deferred_error: Option<Error>,
    broker_address: Option<Address>,
    /// Counts connections: an ACK or transaction of another epoch means nothing to the broker.
    epoch: u64,
    reconnects: u64,
    /// A lost connection being re-established: the next call that needs one goes on from here.
    reconnecting: Option<Rounds>,
    /// When the current connection got its CONNECTED, and whether anything came after it.
    connected_at: Option<Instant>,
    heard_since_connected: bool,
    /// Connections in a row that ended within [`QUICK_DROP`] of CONNECTED with nothing else
    /// received: each counts as a failed round of the reconnect policy.
    quick_drops: u32,
    /// When the connection was lost (the first of the quick drops in a row).
    lost_at: Instant,
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
        // Room for one frame as large as allowed past the bound.
        let held_bytes_max = MAX_HELD_BYTES.saturating_add(cfg.session.limits.max_body);
        let mut client = StompClient {
            write_at: cfg.write_batch,
            session: Session::new(cfg.session.clone(), now),
            cfg,
            conn: None,
            inbox: Inbox::new(held_bytes_max, MAX_UNCLAIMED_RECEIPTS),
            lent: None,
            acks: AutoAcks::default(),
            close_reason: None,
            last_broker_error: None,
            deferred_error: None,
            broker_address: None,
            epoch: 0,
            reconnects: 0,
            reconnecting: None,
            connected_at: None,
            heard_since_connected: false,
            quick_drops: 0,
            lost_at: now,
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

    /// True while a lost connection is being re-established: the next call that needs the
    /// connection goes on trying (within its own deadline).
    pub fn is_reconnecting(&self) -> bool {
        self.conn.is_none() && self.reconnecting.is_some()
    }

    /// Why the last connection ended, or why `for frame in &mut client` stopped (an ERROR
    /// frame stops it too, though the connection may stay open): `None` after a clean
    /// [`disconnect`](StompClient::disconnect), and while connected until then;
    /// [`Error::ConnectionClosed`] when the broker closed it unasked, without an ERROR.
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
}

impl Drop for StompClient {
    fn drop(&mut self) {
        // Dropped (or unwound by a panic): what the application was handling stays un-ACKed.
        self.acks.clear();
        let timeout = self.cfg.disconnect_timeout.min(Duration::from_secs(1));
        if let Err(e) = self.disconnect_within(timeout) {
            log::debug!("disconnect on drop: {}", e.report());
        }
    }
}

/// Options for [`StompClient::loop_with_options`].
///
/// ```
/// use std::time::Duration;
/// let opts = stompy::LoopOptions::default().timeout(Duration::from_secs(30));
/// assert!(opts.transaction.is_none());
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoopOptions {
    /// Longest wait for each frame; past it the loop returns a [`Timeout::Recv`] error.
    pub timeout: Option<Duration>,
    /// Transaction id that the loop's auto-ACKs join.
    pub transaction: Option<String>,
}

impl LoopOptions {
    /// Sets [`LoopOptions::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets [`LoopOptions::transaction`].
    pub fn transaction(mut self, id: impl Into<String>) -> Self {
        self.transaction = Some(id.into());
        self
    }
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

/// Errors are not `Clone` (they may hold an `io::Error`); this keeps the kind, the OS error
/// code and the messages of the causes (and the causes themselves, below TLS, WebSocket and
/// body errors).
pub(crate) fn clone_error(e: &Error) -> Error {
    match e {
        Error::Io(io) => Error::Io(crate::error::copy_io(io)),
        Error::Protocol(p) => Error::Protocol(p.clone()),
        Error::Broker(b) => Error::Broker(b.clone()),
        Error::Timeout(t) => Error::Timeout(*t),
        Error::NotConnected(s) => Error::NotConnected(s.clone()),
        Error::Invalid(s) => Error::Invalid(s.clone()),
        Error::Body(s) => Error::Body(s.clone()),
        Error::Tls(s) => Error::Tls(s.clone()),
        Error::WebSocket(s) => Error::WebSocket(s.clone()),
        Error::TransactionLost(s) => Error::TransactionLost(s.clone()),
        Error::ConnectionClosed => Error::ConnectionClosed,
        Error::ReceiptLost(s) => Error::ReceiptLost(s.clone()),
        Error::Unconfirmed { count } => Error::Unconfirmed { count: *count },
        Error::ConnectFailed { attempts, last } => Error::ConnectFailed {
            attempts: *attempts,
            last: Box::new(clone_error(last)),
        },
    }
}
