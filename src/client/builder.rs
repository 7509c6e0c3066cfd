//! [`ClientBuilder`]: every connection setting, with defaults.

use std::net::SocketAddr;
use std::time::Duration;

use super::events::{Listener, Listeners};
use super::{ReconnectPolicy, StompClient};
use crate::codec::Limits;
use crate::error::Error;
use crate::frame::{Headers, Version};
use crate::session::SessionConfig;
use crate::transport::{Address, SocketOptions, TransportOptions};

/// Settings of a [`StompClient`], kept for reconnects.
#[derive(Debug, Clone)]
pub(crate) struct ClientConfig {
    pub(crate) addresses: Vec<Address>,
    pub(crate) session: SessionConfig,
    pub(crate) connect_timeout: Duration,
    pub(crate) connect_total_timeout: Option<Duration>,
    pub(crate) connected_timeout: Duration,
    pub(crate) disconnect_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) reconnect: ReconnectPolicy,
    pub(crate) auto_reconnect: bool,
    /// Every SEND outside a transaction is a confirmed send.
    pub(crate) confirm: bool,
    /// Frames queued by sends wait in the output buffer until it holds this many bytes, or
    /// the client waits, or [`StompClient::flush`]; 0 writes each frame at once.
    pub(crate) write_batch: usize,
    pub(crate) transport: TransportOptions,
}

/// Builds a [`StompClient`]: addresses, credentials, versions, heart-beats, timeouts,
/// reconnects.
///
/// ```
/// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
/// # let addr = broker.addr().to_string();
/// use std::time::Duration;
/// use stompy::{StompClient, Version};
/// let client = StompClient::builder()
///     .address(addr.as_str())?           // tried in order; add more for failover
///     .login("guest", "guest")
///     .host("/")                        // virtual host (RabbitMQ's default is "/")
///     .versions([Version::V1_1, Version::V1_2])
///     .heart_beat(Duration::from_secs(10), Duration::from_secs(10))
///     .connect_timeout(Duration::from_secs(5))
///     .connect()?;
/// assert_eq!(client.version(), Version::V1_2);
/// # Ok::<(), stompy::Error>(())
/// ```
#[derive(Debug)]
pub struct ClientBuilder {
    cfg: ClientConfig,
    listeners: Listeners,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            cfg: ClientConfig {
                addresses: Vec::new(),
                session: SessionConfig::default(),
                connect_timeout: Duration::from_secs(10),
                connect_total_timeout: None,
                connected_timeout: Duration::from_secs(10),
                disconnect_timeout: Duration::from_secs(5),
                write_timeout: Duration::from_secs(30),
                reconnect: ReconnectPolicy::default(),
                auto_reconnect: false,
                confirm: false,
                write_batch: 0,
                transport: TransportOptions {
                    socket: SocketOptions {
                        nodelay: true,
                        ..SocketOptions::default()
                    },
                    ..TransportOptions::default()
                },
            },
            listeners: Listeners::default(),
        }
    }
}

impl ClientBuilder {
    /// A builder with no address and default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a broker address (`"host:port"`, `"[::1]:61613"`, a URL such as
    /// `"stomp+ssl://host:61614"` or `"ws://host:15674/ws"`, or a [`SocketAddr`]). Addresses
    /// are tried in the order given. Login and passcode in a URL are used unless
    /// [`ClientBuilder::login`] sets them, and the virtual host a URL's path names
    /// (`stomp://host/vhost`, `stomp://host/%2F` for `/`) unless [`ClientBuilder::host`] sets
    /// one; the first address that gives them counts.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the address cannot be parsed.
    pub fn address<A>(mut self, addr: A) -> Result<Self, Error>
    where
        A: TryInto<Address>,
        A::Error: Into<Error>,
    {
        let a = addr.try_into().map_err(Into::into)?;
        if self.cfg.session.login.is_none() {
            self.cfg.session.login.clone_from(&a.login);
            self.cfg.session.passcode.clone_from(&a.passcode);
        }
        if self.cfg.session.host.is_none() {
            self.cfg.session.host.clone_from(&a.vhost);
        }
        self.cfg.addresses.push(a);
        Ok(self)
    }

    /// Adds several addresses (see [`ClientBuilder::address`]).
    ///
    /// # Errors
    /// [`Error::Invalid`] when an address cannot be parsed.
    pub fn addresses<I, A>(mut self, addrs: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = A>,
        A: TryInto<Address>,
        A::Error: Into<Error>,
    {
        for a in addrs {
            self = self.address(a)?;
        }
        Ok(self)
    }

    /// `login` and `passcode` headers.
    pub fn login(mut self, login: impl Into<String>, passcode: impl Into<String>) -> Self {
        self.cfg.session.login = Some(login.into());
        self.cfg.session.passcode = Some(passcode.into());
        self
    }

    /// The `host` header: the virtual host. Without it `/` is sent, RabbitMQ's default
    /// virtual host (RabbitMQ refuses a CONNECT naming a virtual host it does not have, such
    /// as its own host name); ActiveMQ and the embedded broker accept any value.
    pub fn host(mut self, vhost: impl Into<String>) -> Self {
        self.cfg.session.host = Some(vhost.into());
        self
    }

    /// Protocol versions offered (default: 1.0, 1.1 and 1.2; the broker picks the highest it
    /// speaks).
    pub fn versions(mut self, versions: impl IntoIterator<Item = Version>) -> Self {
        self.cfg.session.versions = versions.into_iter().collect();
        self
    }

    /// Opens with the `STOMP` command instead of `CONNECT` (1.1+).
    pub fn use_stomp_command(mut self, yes: bool) -> Self {
        self.cfg.session.use_stomp_command = yes;
        self
    }

    /// An extra CONNECT header (e.g. `client-id`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.cfg.session.headers.push(name, value);
        self
    }

    /// Extra CONNECT headers.
    pub fn headers(mut self, headers: Headers) -> Self {
        self.cfg.session.headers.extend(headers.iter());
        self
    }

    /// Heart-beats offered: how often the client can send, and how often it wants to hear from
    /// the broker. Zero turns a direction off (the default for both). What is used is
    /// negotiated with the broker per the spec.
    pub fn heart_beat(mut self, send_every: Duration, want_every: Duration) -> Self {
        let ms = |d: Duration| d.as_millis().min(u32::MAX as u128) as u32;
        self.cfg.session.heart_beat = (ms(send_every), ms(want_every));
        self
    }

    /// Silence from the broker longer than its heart-beat interval × `scale` is a heart-beat
    /// timeout (default 1.5; values below 1 count as 1).
    pub fn heart_beat_scale(mut self, scale: f64) -> Self {
        self.cfg.session.heart_beat_scale = scale;
        self
    }

    /// Limits on what the broker may send.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.cfg.session.limits = limits;
        self
    }

    /// Deadline for opening the connection to one address (TCP, TLS and WebSocket
    /// handshakes); default 10 s.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.cfg.connect_timeout = d;
        self
    }

    /// Deadline for the whole connect, over every address and round (default none: the
    /// rounds of the reconnect policy bound it). Each attempt is cut short to fit.
    pub fn connect_total_timeout(mut self, d: Duration) -> Self {
        self.cfg.connect_total_timeout = Some(d);
        self
    }

    /// Deadline for the CONNECTED frame once the connection is open; default 10 s.
    pub fn connected_timeout(mut self, d: Duration) -> Self {
        self.cfg.connected_timeout = d;
        self
    }

    /// Deadline for the DISCONNECT receipt; default 5 s.
    pub fn disconnect_timeout(mut self, d: Duration) -> Self {
        self.cfg.disconnect_timeout = d;
        self
    }

    /// How long a send may wait for a broker that stopped reading; default 30 s.
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.cfg.write_timeout = d;
        self
    }

    /// Retry policy for connecting and reconnecting: rounds over the address list with
    /// back-off. By default the first connect gives up after three rounds (0.1 s growing by
    /// 50 %) and a reconnect never does (waits capped at 5 s); see [`ReconnectPolicy`].
    pub fn reconnect_policy(mut self, p: ReconnectPolicy) -> Self {
        self.cfg.reconnect = p;
        self
    }

    /// Reconnects (with the policy) when an open connection is lost, CONNECTs again,
    /// re-subscribes every active subscription and sends every unconfirmed
    /// [confirmed send](ClientBuilder::confirmed_sends) again. Off by default. With the default
    /// policy the client keeps trying until the broker is back (a restart, a failover to
    /// another address), while every call's own deadline still holds; see
    /// [`ReconnectPolicy`].
    pub fn auto_reconnect(mut self, yes: bool) -> Self {
        self.cfg.auto_reconnect = yes;
        self
    }

    /// Confirmed sends for every SEND outside a transaction (default off): `send`,
    /// `send_json`, `message(..).send()` and `send_frame` all work as
    /// [`StompClient::send_confirmed`]. With [`ClientBuilder::auto_reconnect`] and client
    /// ACKs on the consuming side, nothing is lost when a broker dies; what may come twice
    /// is a message the broker took just before a connection was lost.
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let addr = broker.addr();
    /// use std::time::Duration;
    /// let mut client = stompy::StompClient::builder()
    ///     .address(addr)?
    ///     .auto_reconnect(true)
    ///     .confirmed_sends(true)
    ///     .connect()?;
    /// client.send("/queue/orders", "one")?;
    /// client.wait_for_confirms(Duration::from_secs(5))?;
    /// # Ok::<(), stompy::Error>(())
    /// ```
    pub fn confirmed_sends(mut self, yes: bool) -> Self {
        self.cfg.confirm = yes;
        self
    }

    /// How many confirmed sends may wait for their receipts at once: `frames` and `bytes`
    /// (default 1024 frames, 16 MiB). A send into a full window waits for receipts, so
    /// memory stays bounded when the broker is slow or gone.
    pub fn confirm_window(mut self, frames: usize, bytes: usize) -> Self {
        self.cfg.session.confirm_window = crate::session::ConfirmWindow { frames, bytes };
        self
    }

    /// Whether every SEND carries `content-length` (default on). Off, a SEND whose body
    /// holds no NUL is written without it, like stomp.py's `auto_content_length=False`:
    /// ActiveMQ then delivers it to JMS consumers as a `TextMessage` instead of a
    /// `BytesMessage`. Bodies with a NUL always get one (they need it).
    ///
    /// ```no_run
    /// let client = stompy::StompClient::builder()
    ///     .address("127.0.0.1:61613")?
    ///     .auto_content_length(false)
    ///     .connect()?;
    /// # Ok::<(), stompy::Error>(())
    /// ```
    pub fn auto_content_length(mut self, yes: bool) -> Self {
        self.cfg.session.auto_content_length = yes;
        self
    }

    /// Write batching (default off). Off, every send, ACK, SUBSCRIBE ... is written to the
    /// socket before the call returns: one system call per frame. On, frames queue in the
    /// client's output buffer and go out in one write when it holds 256 KiB, whenever the
    /// client is about to wait (`recv`, receipt waits, `keep_alive`, `disconnect`, drop), or
    /// on [`StompClient::flush`]. A publisher that stops sending to do something else must
    /// call `flush` first, or its last frames wait for the next call into the client.
    pub fn write_batching(mut self, yes: bool) -> Self {
        self.cfg.write_batch = if yes { super::conn::BATCH_BYTES } else { 0 };
        self
    }

    /// `TCP_NODELAY` (default on).
    pub fn nodelay(mut self, yes: bool) -> Self {
        self.cfg.transport.socket.nodelay = yes;
        self
    }

    /// TCP keep-alive probes after `idle` without traffic (default off).
    pub fn tcp_keepalive(mut self, idle: Duration) -> Self {
        self.cfg.transport.socket.keepalive = Some(idle);
        self
    }

    /// Local address to bind before connecting.
    pub fn bind(mut self, local: SocketAddr) -> Self {
        self.cfg.transport.socket.bind = Some(local);
        self
    }

    /// TLS settings for every TLS address (`stomp+ssl://`, `ssl://`, `wss://`) that has none
    /// of its own ([`Address::with_tls`]). Without this, TLS addresses trust the webpki
    /// roots and check the host name. TLS is never skipped: a failed handshake fails the
    /// connection attempt.
    ///
    /// ```no_run
    /// use stompy::{StompClient, TlsConfig};
    /// let client = StompClient::builder()
    ///     .address("stomp+ssl://127.0.0.1:61614")?
    ///     .address("wss://127.0.0.1:15673/ws")?
    ///     .login("guest", "guest")
    ///     .host("/")
    ///     .tls(TlsConfig::new().ca_file("ca.pem")?)
    ///     .connect()?;
    /// # Ok::<(), stompy::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::transport::TlsConfig) -> Self {
        self.cfg.transport.tls = Some(tls);
        self
    }

    /// Registers a [`Listener`] under `name`, so that it sees the first connection too.
    pub fn listener(mut self, name: &str, listener: impl Listener + 'static) -> Self {
        self.listeners.insert(name.to_owned(), Box::new(listener));
        self
    }

    /// Connects: tries each address in order, in rounds as the reconnect policy allows.
    ///
    /// # Errors
    /// The failure of a single attempt as it is (an [`Error::Broker`] for a refused login, an
    /// [`Error::Io`] for a refused connection, an [`Error::Timeout`]), or
    /// [`Error::ConnectFailed`] with the last one after several attempts.
    pub fn connect(self) -> Result<StompClient, Error> {
        if self.cfg.addresses.is_empty() {
            return Err(Error::invalid("no broker address given"));
        }
        StompClient::open(self.cfg, self.listeners)
    }
}
