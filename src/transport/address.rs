//! Broker addresses: `host:port`, `[v6]:port`, or URLs (`stomp://`, `stomp+ssl://`, `ws://`,
//! `wss://`) with optional `user:pass@` and a WebSocket path.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// How bytes reach a broker.
///
/// | scheme | URL | default port | feature |
/// |---|---|---|---|
/// | [`Scheme::Tcp`] | `stomp://`, `tcp://`, or none | 61613 | |
/// | [`Scheme::Tls`] | `stomp+ssl://`, `stomp+tls://`, `stomps://`, `ssl://`, `tls://` | 61614 | `tls` |
/// | [`Scheme::Ws`] | `ws://host:port/path` | 15674 | `websocket` |
/// | [`Scheme::Wss`] | `wss://host:port/path` | 15673 | `websocket` and `tls` |
///
/// TLS schemes always run TLS, with the address's, the client's or the default
/// [`TlsConfig`](crate::TlsConfig): a failed handshake fails the attempt, never falls back
/// to plain TCP. WebSocket schemes offer the subprotocols `v10.stomp`, `v11.stomp` and
/// `v12.stomp`, send STOMP bytes in binary messages, and read text and binary messages alike.
/// A text message must be valid UTF-8, so a broker that sends frames as text (RabbitMQ's
/// default, `web_stomp.ws_frame = text`) can only carry UTF-8 bodies; set it to `binary` for
/// arbitrary bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain TCP (`stomp://`, or no scheme).
    Tcp,
    /// TLS over TCP (`stomp+ssl://`, `stomps://`, `ssl://`, `tls://`).
    Tls,
    /// WebSocket (`ws://`).
    Ws,
    /// WebSocket over TLS (`wss://`).
    Wss,
}

impl Scheme {
    /// True for the schemes that run TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Tls | Scheme::Wss)
    }

    /// True for the WebSocket schemes.
    pub fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }
}

/// One broker address of a failover list.
///
/// ```
/// use stompy::{Address, Scheme};
/// let a: Address = "127.0.0.1:61613".parse()?;
/// assert_eq!((a.host.as_str(), a.port, a.scheme), ("127.0.0.1", 61613, Scheme::Tcp));
/// let a: Address = "wss://guest:secret@[::1]:15673/ws".parse()?;
/// assert_eq!((a.host.as_str(), a.port, a.path.as_str()), ("::1", 15673, "/ws"));
/// assert_eq!(a.login.as_deref(), Some("guest"));
/// # Ok::<(), stompy::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Transport.
    pub scheme: Scheme,
    /// WebSocket path (`/ws` by default for WebSocket schemes, empty otherwise).
    pub path: String,
    /// Login given in the URL.
    pub login: Option<String>,
    /// Passcode given in the URL.
    pub passcode: Option<String>,
    /// TLS settings for this address only, instead of the client's
    /// ([`ClientBuilder::tls`](crate::ClientBuilder::tls)) or the defaults. Set it with
    /// [`Address::with_tls`]. Connecting fails (rather than going out in the clear) when this
    /// is set on an address whose scheme does not use TLS.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::transport::TlsConfig>,
}

impl Address {
    /// A plain TCP address.
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        Address {
            host: host.into(),
            port,
            scheme: Scheme::Tcp,
            path: String::new(),
            login: None,
            passcode: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Uses TLS with `tls` for this address, whatever the client's settings. A plain scheme
    /// is upgraded: `stomp://` becomes `stomp+ssl://` and `ws://` becomes `wss://`.
    ///
    /// ```
    /// use stompy::{Address, Scheme, TlsConfig};
    /// let a = Address::tcp("127.0.0.1", 61614)
    ///     .with_tls(TlsConfig::new().server_name("localhost"));
    /// assert_eq!(a.scheme, Scheme::Tls);
    /// let a: Address = "ws://127.0.0.1:15673/ws".parse()?;
    /// assert_eq!(a.with_tls(TlsConfig::new()).scheme, Scheme::Wss);
    /// # Ok::<(), stompy::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn with_tls(mut self, tls: crate::transport::TlsConfig) -> Self {
        self.scheme = match self.scheme {
            Scheme::Tcp | Scheme::Tls => Scheme::Tls,
            Scheme::Ws | Scheme::Wss => Scheme::Wss,
        };
        self.tls = Some(tls);
        self
    }

    /// `host:port` as a socket address string (IPv6 in brackets).
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Tcp => "stomp",
            Scheme::Tls => "stomp+ssl",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        };
        write!(f, "{scheme}://{}{}", self.host_port(), self.path)
    }
}

impl FromStr for Address {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::invalid(format!("invalid broker address {s:?}: {why}"));
        let (scheme, rest) = match s.split_once("://") {
            None => (Scheme::Tcp, s),
            Some((sch, rest)) => {
                let scheme = match sch.to_ascii_lowercase().as_str() {
                    "stomp" | "tcp" => Scheme::Tcp,
                    "stomp+ssl" | "stomp+tls" | "stomps" | "ssl" | "tls" => Scheme::Tls,
                    "ws" => Scheme::Ws,
                    "wss" => Scheme::Wss,
                    _ => return Err(bad("unknown scheme")),
                };
                (scheme, rest)
            }
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (login, passcode) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((l, p)) => (Some(l.to_owned()), Some(p.to_owned())),
                None => (Some(u.to_owned()), None),
            },
        };
        let default_port = match scheme {
            Scheme::Tcp => 61613,
            Scheme::Tls => 61614,
            Scheme::Ws => 15674,
            Scheme::Wss => 15673,
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            match after.strip_prefix(':') {
                Some(p) => (h, p.parse().map_err(|_| bad("bad port"))?),
                None if after.is_empty() => (h, default_port),
                None => return Err(bad("junk after ']'")),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().map_err(|_| bad("bad port"))?),
                None => (hostport, default_port),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let path = match (scheme.is_websocket(), path) {
            (true, "") => "/ws".to_owned(),
            (true, p) => p.to_owned(),
            (false, _) => String::new(),
        };
        Ok(Address {
            host: host.to_owned(),
            port,
            scheme,
            path,
            login,
            passcode,
            #[cfg(feature = "tls")]
            tls: None,
        })
    }
}

impl TryFrom<&str> for Address {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self, Error> {
        s.parse()
    }
}

impl TryFrom<String> for Address {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl TryFrom<&String> for Address {
    type Error = Error;
    fn try_from(s: &String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<std::net::SocketAddr> for Address {
    fn from(a: std::net::SocketAddr) -> Self {
        Address::tcp(a.ip().to_string(), a.port())
    }
}
