//! Connection events: the [`Listener`] trait and the client's registry of listeners.

use std::fmt;

use crate::error::Error;
use crate::frame::Frame;
use crate::transport::Address;

/// Sees the life of a connection: connecting, connected, frames both ways, errors, heart-beat
/// timeouts, reconnects and the end. Every method has an empty default, so a listener
/// implements only what it needs. Listeners run inside the client's calls, on its thread:
/// keep them short.
///
/// ```
/// use stompy::{Frame, Listener};
/// struct Counter(u64);
/// impl Listener for Counter {
///     fn on_frame_received(&mut self, _frame: &Frame) {
///         self.0 += 1;
///     }
/// }
/// ```
#[allow(unused_variables)]
pub trait Listener: Send {
    /// A connection attempt to `address` starts.
    fn on_connecting(&mut self, address: &Address) {}
    /// CONNECTED arrived from `address`.
    fn on_connected(&mut self, address: &Address, connected: &Frame) {}
    /// The connection ended: `None` when it closed cleanly.
    fn on_disconnected(&mut self, reason: Option<&Error>) {}
    /// The connection was re-established after a loss (`count` reconnects so far).
    fn on_reconnected(&mut self, count: u64) {}
    /// The broker was silent past its heart-beat interval × scale.
    fn on_heartbeat_timeout(&mut self) {}
    /// A frame was queued for the broker.
    fn on_frame_sent(&mut self, frame: &Frame) {}
    /// A frame arrived (RECEIPT, ERROR and CONNECTED included).
    fn on_frame_received(&mut self, frame: &Frame) {}
    /// Bytes went out (`sent`) or came in (`received`) on the socket.
    fn on_bytes(&mut self, sent: u64, received: u64) {}
    /// An error reached the application (ERROR frames included).
    fn on_error(&mut self, error: &Error) {}
}

/// The client's listeners, by name, in registration order.
#[derive(Default)]
pub(crate) struct Listeners {
    list: Vec<(String, Box<dyn Listener>)>,
}

impl fmt::Debug for Listeners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.list.iter().map(|(n, _)| n))
            .finish()
    }
}

impl Listeners {
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Adds (or replaces) the listener called `name`.
    pub(crate) fn insert(&mut self, name: String, l: Box<dyn Listener>) {
        match self.list.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = l,
            None => self.list.push((name, l)),
        }
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<Box<dyn Listener>> {
        let i = self.list.iter().position(|(n, _)| n == name)?;
        Some(self.list.remove(i).1)
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|(n, _)| n.as_str())
    }

    /// Calls `f` on every listener.
    pub(crate) fn each(&mut self, mut f: impl FnMut(&mut dyn Listener)) {
        for (_, l) in &mut self.list {
            f(l.as_mut());
        }
    }
}

impl super::StompClient {
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
}
