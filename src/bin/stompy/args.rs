//! Command-line arguments: connection options shared by every subcommand, and the
//! subcommands themselves.

use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand, ValueEnum};
use stompy::session::parse_heart_beat;
use stompy::AckMode;

/// A STOMP command-line client: send, listen, or work interactively in a shell.
#[derive(Debug, Parser)]
#[command(name = "stompy", version, disable_version_flag = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) conn: ConnOpts,

    /// Print the version and exit.
    #[arg(long = "version", action = clap::ArgAction::Version)]
    version: Option<bool>,

    #[command(subcommand)]
    pub(crate) command: Option<Cmd>,
}

/// How to reach and log in to the broker. `Debug` shows no password (nor a URL, which may
/// hold one).
#[derive(Clone, Args)]
pub(crate) struct ConnOpts {
    /// Broker host name or address.
    #[arg(short = 'H', long, default_value = "127.0.0.1")]
    pub(crate) host: String,

    /// Broker STOMP port.
    #[arg(short = 'P', long, default_value_t = 61613)]
    pub(crate) port: u16,

    /// Broker URL instead of host and port: stomp://user:pass@host:port, stomp+ssl://,
    /// ws://host:port/ws, wss://. Repeat it for a failover list, tried in order. Given (here
    /// or in STOMP_URL), it takes the place of --host and --port.
    #[arg(long, env = "STOMP_URL", hide_env_values = true)]
    pub(crate) url: Vec<String>,

    /// Login.
    #[arg(short = 'U', long)]
    pub(crate) user: Option<String>,

    /// Passcode.
    #[arg(short = 'W', long)]
    pub(crate) password: Option<String>,

    /// Virtual host (the CONNECT `host` header), e.g. "/" for RabbitMQ.
    #[arg(long)]
    pub(crate) vhost: Option<String>,

    /// Protocol version to speak (default: offer 1.0, 1.1 and 1.2).
    #[arg(
        short = 'V',
        long = "protocol-version",
        short_alias = 'S',
        alias = "stomp",
        value_parser = ["1.0", "1.1", "1.2"]
    )]
    pub(crate) protocol_version: Option<String>,

    /// Connect with TLS (to --host and --port).
    #[arg(long)]
    pub(crate) ssl: bool,

    /// PEM file of the certificate authorities to trust (instead of the built-in roots).
    #[arg(long, value_name = "FILE", alias = "ssl-ca-file")]
    pub(crate) ssl_ca: Option<PathBuf>,

    /// PEM file of the client certificate (with --ssl-key).
    #[arg(long, value_name = "FILE", alias = "ssl-cert-file")]
    pub(crate) ssl_cert: Option<PathBuf>,

    /// PEM file of the client certificate's private key.
    #[arg(long, value_name = "FILE", alias = "ssl-key-file")]
    pub(crate) ssl_key: Option<PathBuf>,

    /// Heart-beats in milliseconds: how often to send, how often to expect the broker's.
    #[arg(long, value_name = "SEND_MS,RECV_MS")]
    pub(crate) heartbeats: Option<HeartBeats>,

    /// Rounds over the broker list when connecting (stomp.py's back-off between them);
    /// 0 retries forever.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub(crate) reconnect_attempts: u32,

    /// When an open connection is lost, connect again and subscribe again (listen, shell).
    #[arg(long)]
    pub(crate) auto_reconnect: bool,

    /// Seconds to wait for the connection, receipts and the disconnect.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub(crate) timeout: f64,
}

/// `SEND_MS,RECV_MS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeartBeats {
    pub(crate) send_ms: u64,
    pub(crate) recv_ms: u64,
}

impl FromStr for HeartBeats {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("expected SEND_MS,RECV_MS (e.g. 10000,10000), got {s:?}");
        let (send_ms, recv_ms) = parse_heart_beat(s).map_err(|_| bad())?;
        Ok(HeartBeats { send_ms, recv_ms })
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
    /// Send a message (the body from the argument, --file, or standard input).
    Send(SendArgs),
    /// Print the messages of a destination.
    Listen(ListenArgs),
    /// Interactive shell (the default); reads commands from standard input when it is not a
    /// terminal.
    Shell(ShellArgs),
    /// Run the embedded broker until the process is stopped.
    #[cfg(feature = "broker")]
    Broker(BrokerArgs),
}

/// The broker's options: the same command line as `stompy-broker`.
#[cfg(feature = "broker")]
pub(crate) use crate::broker_cli::BrokerCli as BrokerArgs;

#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// Destination, e.g. /queue/work.
    pub(crate) destination: String,

    /// Message body; without it (and without --file) the body is read from standard input.
    pub(crate) body: Option<String>,

    /// Read the body from this file.
    #[arg(long, value_name = "PATH", conflicts_with = "body")]
    pub(crate) file: Option<PathBuf>,

    /// An extra header, NAME:VALUE (repeatable).
    #[arg(long = "header", value_name = "NAME:VALUE", value_parser = parse_header)]
    pub(crate) headers: Vec<(String, String)>,

    /// The content-type header.
    #[arg(long)]
    pub(crate) content_type: Option<String>,

    /// Ask for a receipt for each message and wait for it.
    #[arg(long)]
    pub(crate) receipt: bool,

    /// Send the message this many times.
    #[arg(long, default_value_t = 1)]
    pub(crate) count: u64,
}

#[derive(Debug, Args)]
pub(crate) struct ListenArgs {
    /// Destination, e.g. /queue/work.
    pub(crate) destination: String,

    /// Ack mode: auto, client or client-individual (messages are acknowledged once printed).
    #[arg(long, default_value = "auto", value_parser = parse_ack_mode)]
    pub(crate) ack: AckMode,

    /// Stop after this many messages.
    #[arg(long)]
    pub(crate) count: Option<u64>,

    /// Stop after this many seconds without a message.
    #[arg(long, value_name = "SECS")]
    pub(crate) timeout: Option<f64>,

    /// How to print each message.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,

    /// An extra SUBSCRIBE header, NAME:VALUE (repeatable): selector, prefetch-count, ...
    #[arg(long = "header", value_name = "NAME:VALUE", value_parser = parse_header)]
    pub(crate) headers: Vec<(String, String)>,
}

#[derive(Debug, Default, Args)]
pub(crate) struct ShellArgs {
    /// How to print received messages.
    #[arg(long, value_enum, default_value_t = Format::Headers)]
    pub(crate) format: Format,

    /// Run the commands of this file, then stop.
    #[arg(short = 'F', long = "run", alias = "file", value_name = "FILE")]
    pub(crate) script: Option<PathBuf>,
}

/// How a received frame is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum Format {
    /// The body alone, one message per line.
    Text,
    /// The command, the headers, a blank line and the body, as on the wire.
    #[default]
    Headers,
    /// One JSON object per line: command, headers and body.
    Json,
}

pub(crate) fn parse_header(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once(':')
        .ok_or_else(|| format!("expected NAME:VALUE, got {s:?}"))?;
    if k.is_empty() {
        return Err(format!("empty header name in {s:?}"));
    }
    Ok((k.to_owned(), v.to_owned()))
}

pub(crate) fn parse_ack_mode(s: &str) -> Result<AckMode, String> {
    s.parse::<AckMode>()
        .map_err(|_| format!("expected auto, client or client-individual, got {s:?}"))
}

impl std::fmt::Debug for ConnOpts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnOpts")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("urls", &self.url.len())
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("vhost", &self.vhost)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heart_beats_parse() {
        let hb: HeartBeats = "1000, 2000".parse().unwrap();
        assert_eq!((hb.send_ms, hb.recv_ms), (1000, 2000));
        assert!("1000".parse::<HeartBeats>().is_err());
        assert!("a,b".parse::<HeartBeats>().is_err());
    }

    #[test]
    fn headers_split_at_the_first_colon() {
        assert_eq!(
            parse_header("k:v:w").unwrap(),
            ("k".to_owned(), "v:w".to_owned())
        );
        assert!(parse_header("novalue").is_err());
        assert!(parse_header(":v").is_err());
    }

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
