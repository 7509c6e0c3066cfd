//! The broker's command line, one for both `stompy-broker` and `stompy broker` (included by
//! each binary with `#[path]`): the same flags, defaults and output.

use clap::Args;
use stompy::broker::{Broker, BrokerBuilder};
use stompy::session::parse_heart_beat;
use stompy::Limits;

/// Options of the embedded broker.
#[derive(Debug, Args)]
pub(crate) struct BrokerCli {
    /// Address to listen on for plain STOMP (port 0 picks a free port; every address listened
    /// on is printed, one line each: "PROGRAM listening on tcp://ADDR").
    #[arg(
        long,
        short = 'l',
        alias = "bind",
        short_alias = 'b',
        value_name = "ADDR",
        default_value = "127.0.0.1:61613"
    )]
    pub(crate) listen: String,
    /// Accepted login as LOGIN:PASSCODE (repeatable); with none, any login is accepted.
    #[arg(long, short, value_name = "LOGIN:PASSCODE")]
    pub(crate) user: Vec<String>,
    /// Keep persistent messages (sent with `persistent:true` to a queue) in this directory, so
    /// that they survive a crash or restart: each is on disk before its RECEIPT, until it is
    /// ACKed. Without it, every message lives in memory only.
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<std::path::PathBuf>,
    /// Most messages kept per queue while no consumer takes them.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) max_queue_len: usize,
    /// Most bytes kept per queue while no consumer takes them.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub(crate) max_queue_bytes: usize,
    /// Most subscriptions per connection (one more gets an ERROR).
    #[arg(long, default_value_t = 10_000)]
    pub(crate) max_subscriptions: usize,
    /// Most un-ACKed messages given to one subscription at a time.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) max_unacked: usize,
    /// Heart-beat intervals agreed to, in ms, as MIN,MAX: each client gets what it asks for,
    /// clamped into this range (a client that asks for none gets none).
    #[arg(
        long,
        alias = "heartbeats",
        value_name = "MIN,MAX",
        default_value = "100,86400000"
    )]
    pub(crate) heart_beat: String,
    /// Largest message body accepted, in bytes.
    #[arg(long)]
    pub(crate) max_body: Option<usize>,
    /// Also listen for STOMP over TLS on this address (needs --tls-cert and --tls-key).
    #[arg(long, value_name = "ADDR")]
    pub(crate) tls_listen: Option<String>,
    /// Also listen for STOMP over WebSocket (any path, subprotocols v10/v11/v12.stomp).
    #[arg(long, value_name = "ADDR")]
    pub(crate) ws_listen: Option<String>,
    /// Also listen for STOMP over WebSocket over TLS (needs --tls-cert and --tls-key).
    #[arg(long, value_name = "ADDR")]
    pub(crate) wss_listen: Option<String>,
    /// The broker's certificate chain, PEM (leaf first).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<String>,
    /// The private key of --tls-cert, PEM.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<String>,
    /// Require client certificates signed by the CA in this PEM file (mutual TLS).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_client_ca: Option<String>,
}

impl BrokerCli {
    /// Starts the broker, prints one line per listener as `PROGRAM listening on
    /// KIND://ADDR`, and serves until the process is stopped.
    ///
    /// # Errors
    /// A usage error, or a listener that cannot be bound, as a message for the user.
    pub(crate) fn run(&self, program: &str) -> Result<(), String> {
        let broker = self.builder()?.start().map_err(|e| match e.kind() {
            // The data directory (its message names it).
            std::io::ErrorKind::Other => e.to_string(),
            _ => format!("cannot listen on {}: {e}", self.listen),
        })?;
        for (kind, addr) in broker.listeners() {
            println!("{program} listening on {kind}://{addr}");
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        loop {
            std::thread::park();
        }
    }

    /// The broker these options describe.
    fn builder(&self) -> Result<BrokerBuilder, String> {
        let (min, max) =
            parse_heart_beat(&self.heart_beat).map_err(|_| "--heart-beat wants MIN,MAX in ms")?;
        let mut limits = Limits::default();
        if let Some(max) = self.max_body {
            limits = limits.max_body(max);
        }
        let mut builder = Broker::builder()
            .max_queue_len(self.max_queue_len)
            .max_queue_bytes(self.max_queue_bytes)
            .max_subscriptions(self.max_subscriptions)
            .max_unacked(self.max_unacked)
            .heart_beat(min, max)
            .limits(limits);
        if let Some(dir) = &self.data_dir {
            builder = builder.data_dir(dir);
        }
        for user in &self.user {
            let (login, passcode) = user.split_once(':').ok_or("--user wants LOGIN:PASSCODE")?;
            builder = builder.user(login, passcode);
        }
        self.listeners(builder)
    }

    /// Adds the listeners and TLS settings the options ask for.
    fn listeners(&self, mut builder: BrokerBuilder) -> Result<BrokerBuilder, String> {
        builder = builder.listen(self.listen.as_str());
        let tls_wanted = self.tls_listen.is_some() || self.wss_listen.is_some();
        if tls_wanted != self.tls_cert.is_some() {
            return Err(if tls_wanted {
                "--tls-listen and --wss-listen need --tls-cert and --tls-key".into()
            } else {
                "--tls-cert is only used with --tls-listen or --wss-listen".into()
            });
        }
        if let Some(addr) = &self.ws_listen {
            builder = with_ws(builder, addr)?;
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            builder = self.with_tls(builder, cert, key)?;
        }
        Ok(builder)
    }

    #[cfg(feature = "tls")]
    fn with_tls(
        &self,
        mut builder: BrokerBuilder,
        cert: &str,
        key: &str,
    ) -> Result<BrokerBuilder, String> {
        let mut tls = stompy::broker::BrokerTls::from_pem_files(cert, key)
            .map_err(|e| e.report().to_string())?;
        if let Some(ca) = &self.tls_client_ca {
            tls = tls
                .require_client_cert_file(ca)
                .map_err(|e| e.report().to_string())?;
        }
        builder = builder.tls(tls);
        if let Some(addr) = &self.tls_listen {
            builder = builder.listen_tls(addr.as_str());
        }
        if let Some(addr) = &self.wss_listen {
            builder = with_wss(builder, addr)?;
        }
        Ok(builder)
    }

    #[cfg(not(feature = "tls"))]
    fn with_tls(&self, _: BrokerBuilder, _: &str, _: &str) -> Result<BrokerBuilder, String> {
        Err("TLS needs a build with the `tls` feature".into())
    }
}

#[cfg(feature = "websocket")]
fn with_ws(builder: BrokerBuilder, addr: &str) -> Result<BrokerBuilder, String> {
    Ok(builder.listen_ws(addr))
}

#[cfg(not(feature = "websocket"))]
fn with_ws(_: BrokerBuilder, _: &str) -> Result<BrokerBuilder, String> {
    Err("--ws-listen needs a build with the `websocket` feature".into())
}

#[cfg(all(feature = "tls", feature = "websocket"))]
fn with_wss(builder: BrokerBuilder, addr: &str) -> Result<BrokerBuilder, String> {
    Ok(builder.listen_wss(addr))
}

#[cfg(all(feature = "tls", not(feature = "websocket")))]
fn with_wss(_: BrokerBuilder, _: &str) -> Result<BrokerBuilder, String> {
    Err("--wss-listen needs a build with the `websocket` feature".into())
}
