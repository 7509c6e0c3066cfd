//! [`ListenerKind`]: what a broker listener speaks, and the listeners a builder asked for.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// What one of the broker's listeners speaks. A broker can have several at once, one per
/// [`BrokerBuilder`] call: [`bind`] (plain TCP, or TLS with [`tls`]), [`listen`],
/// [`listen_tls`], [`listen_ws`] and [`listen_wss`]; [`BrokerHandle::addr_of`] tells where
/// each is.
///
/// [`BrokerBuilder`]: super::BrokerBuilder
/// [`bind`]: super::BrokerBuilder::bind
/// [`tls`]: super::BrokerBuilder::tls
/// [`listen`]: super::BrokerBuilder::listen
/// [`listen_tls`]: super::BrokerBuilder::listen_tls
/// [`listen_ws`]: super::BrokerBuilder::listen_ws
/// [`listen_wss`]: super::BrokerBuilder::listen_wss
/// [`BrokerHandle::addr_of`]: super::BrokerHandle::addr_of
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListenerKind {
    /// STOMP over plain TCP (`tcp://`, `stomp://`).
    Tcp,
    /// STOMP over TLS (`stomp+ssl://`).
    #[cfg(feature = "tls")]
    Tls,
    /// STOMP over WebSocket (`ws://`), any request path.
    #[cfg(feature = "websocket")]
    WebSocket,
    /// STOMP over WebSocket over TLS (`wss://`), any request path.
    #[cfg(all(feature = "tls", feature = "websocket"))]
    WebSocketTls,
}

impl ListenerKind {
    /// The URL scheme a stompy client uses for this listener: `tcp`, `stomp+ssl`, `ws` or
    /// `wss`.
    pub fn scheme(self) -> &'static str {
        match self {
            ListenerKind::Tcp => "tcp",
            #[cfg(feature = "tls")]
            ListenerKind::Tls => "stomp+ssl",
            #[cfg(feature = "websocket")]
            ListenerKind::WebSocket => "ws",
            #[cfg(all(feature = "tls", feature = "websocket"))]
            ListenerKind::WebSocketTls => "wss",
        }
    }

    /// True for the kinds that need [`BrokerBuilder::tls`](super::BrokerBuilder::tls).
    pub fn is_tls(self) -> bool {
        match self {
            ListenerKind::Tcp => false,
            #[cfg(feature = "tls")]
            ListenerKind::Tls => true,
            #[cfg(feature = "websocket")]
            ListenerKind::WebSocket => false,
            #[cfg(all(feature = "tls", feature = "websocket"))]
            ListenerKind::WebSocketTls => true,
        }
    }
}

impl fmt::Display for ListenerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme())
    }
}

/// A listener asked for: its kind and where, not yet bound.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    pub(crate) kind: ListenerKind,
    pub(crate) addr: Result<SocketAddr, String>,
}

impl Wanted {
    /// Resolves `addr` now; a failure is reported when the broker starts.
    pub(crate) fn new(kind: ListenerKind, addr: impl ToSocketAddrs) -> Wanted {
        let addr = match addr.to_socket_addrs() {
            Ok(mut addrs) => addrs.next().ok_or_else(|| "no address to bind".to_string()),
            Err(e) => Err(e.to_string()),
        };
        Wanted { kind, addr }
    }

    /// Binds the listener.
    ///
    /// # Errors
    /// When the address could not be resolved or bound.
    pub(crate) fn bind(&self) -> io::Result<mio::net::TcpListener> {
        let addr = self.addr.as_ref().map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} listener: {e}", self.kind),
            )
        })?;
        mio::net::TcpListener::bind(*addr)
    }
}
