//! Built-in listeners: [`PrintingListener`] and [`StatsListener`].

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};

use super::events::Listener;
use crate::error::Error;
use crate::frame::{header, Command, Frame};
use crate::transport::Address;

/// Prints every event, one line each (passcodes masked), to stderr or any writer.
///
/// ```
/// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
/// let client = stompy::StompClient::builder()
///     .address(broker.addr())?
///     .listener("print", stompy::PrintingListener::new())
///     .connect()?;
/// # Ok::<(), stompy::Error>(())
/// ```
pub struct PrintingListener {
    out: Box<dyn Write + Send>,
}

impl fmt::Debug for PrintingListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrintingListener").finish_non_exhaustive()
    }
}

impl Default for PrintingListener {
    fn default() -> Self {
        Self::new()
    }
}

impl PrintingListener {
    /// Prints to stderr.
    pub fn new() -> Self {
        Self::to_writer(std::io::stderr())
    }

    /// Prints to `out`.
    pub fn to_writer(out: impl Write + Send + 'static) -> Self {
        PrintingListener { out: Box::new(out) }
    }

    fn line(&mut self, args: fmt::Arguments<'_>) {
        let _ = writeln!(self.out, "{args}");
    }

    fn frame(&mut self, dir: &str, f: &Frame) {
        let mut s = format!("{dir} {}", f.command());
        for (k, v) in f.headers().iter() {
            let v = if k == header::PASSCODE { "********" } else { v };
            s.push_str(&format!(" {k}:{}", v.escape_debug()));
        }
        if !f.body().is_empty() {
            s.push_str(&format!(" ({} bytes)", f.body().len()));
        }
        self.line(format_args!("{s}"));
    }
}

impl Listener for PrintingListener {
    fn on_connecting(&mut self, address: &Address) {
        self.line(format_args!("connecting to {address}"));
    }
    fn on_connected(&mut self, address: &Address, connected: &Frame) {
        let v = connected.get(header::VERSION).unwrap_or("1.0");
        self.line(format_args!("connected to {address} (STOMP {v})"));
    }
    fn on_disconnected(&mut self, reason: Option<&Error>) {
        match reason {
            None => self.line(format_args!("disconnected")),
            Some(e) => self.line(format_args!("disconnected: {}", e.report())),
        }
    }
    fn on_reconnected(&mut self, count: u64) {
        self.line(format_args!("reconnected (#{count})"));
    }
    fn on_heartbeat_timeout(&mut self) {
        self.line(format_args!("heart-beat timeout"));
    }
    fn on_frame_sent(&mut self, frame: &Frame) {
        self.frame(">>>", frame);
    }
    fn on_frame_received(&mut self, frame: &Frame) {
        self.frame("<<<", frame);
    }
    fn on_error(&mut self, error: &Error) {
        self.line(format_args!("error: {}", error.report()));
    }
}

/// Counts of what happened on a connection, from [`StatsListener::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames sent, by command.
    pub sent: HashMap<Command, u64>,
    /// Frames received, by command.
    pub received: HashMap<Command, u64>,
    /// Bytes written to the socket.
    pub bytes_sent: u64,
    /// Bytes read from the socket.
    pub bytes_received: u64,
    /// Errors that reached the application.
    pub errors: u64,
    /// Heart-beat timeouts.
    pub heartbeat_timeouts: u64,
    /// Connections opened (CONNECTED received).
    pub connections: u64,
    /// Connections re-established after a loss.
    pub reconnects: u64,
    /// Connections that ended, cleanly or not.
    pub disconnects: u64,
}

impl Stats {
    /// Frames sent with this command.
    pub fn sent(&self, c: Command) -> u64 {
        self.sent.get(&c).copied().unwrap_or(0)
    }

    /// Frames received with this command.
    pub fn received(&self, c: Command) -> u64 {
        self.received.get(&c).copied().unwrap_or(0)
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |m: &HashMap<Command, u64>| {
            let mut v: Vec<_> = m.iter().map(|(c, n)| format!("{c} {n}")).collect();
            v.sort();
            v.join(", ")
        };
        writeln!(f, "frames sent: {}", list(&self.sent))?;
        writeln!(f, "frames received: {}", list(&self.received))?;
        writeln!(
            f,
            "bytes sent: {}, received: {}",
            self.bytes_sent, self.bytes_received
        )?;
        writeln!(
            f,
            "connections: {}, reconnects: {}, disconnects: {}",
            self.connections, self.reconnects, self.disconnects
        )?;
        write!(
            f,
            "errors: {}, heart-beat timeouts: {}",
            self.errors, self.heartbeat_timeouts
        )
    }
}

/// Counts frames by command, bytes, errors, heart-beat timeouts and reconnects. Clones share
/// the counts: register one clone and read the other.
///
/// ```
/// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
/// use stompy::{Command, StatsListener};
/// let stats = StatsListener::new();
/// let mut client = stompy::StompClient::builder()
///     .address(broker.addr())?
///     .listener("stats", stats.clone())
///     .connect()?;
/// client.send("/queue/a", "x")?;
/// assert_eq!(stats.stats().sent(Command::Send), 1);
/// # Ok::<(), stompy::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct StatsListener {
    stats: Arc<Mutex<Stats>>,
}

impl StatsListener {
    /// Zero counts.
    pub fn new() -> Self {
        Self::default()
    }

    /// A snapshot of the counts.
    pub fn stats(&self) -> Stats {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Listener for StatsListener {
    fn on_connected(&mut self, _: &Address, _: &Frame) {
        self.lock().connections += 1;
    }
    fn on_disconnected(&mut self, _: Option<&Error>) {
        self.lock().disconnects += 1;
    }
    fn on_reconnected(&mut self, _: u64) {
        self.lock().reconnects += 1;
    }
    fn on_heartbeat_timeout(&mut self) {
        self.lock().heartbeat_timeouts += 1;
    }
    fn on_frame_sent(&mut self, frame: &Frame) {
        *self.lock().sent.entry(frame.command()).or_default() += 1;
    }
    fn on_frame_received(&mut self, frame: &Frame) {
        *self.lock().received.entry(frame.command()).or_default() += 1;
    }
    fn on_bytes(&mut self, sent: u64, received: u64) {
        let mut s = self.lock();
        s.bytes_sent += sent;
        s.bytes_received += received;
    }
    fn on_error(&mut self, _: &Error) {
        self.lock().errors += 1;
    }
}
