//! `stompy-broker`: runs the embedded STOMP broker until the process is stopped.
//!
//! It listens on `--bind` (plain TCP) and, when asked, on `--tls-listen` (STOMP over TLS),
//! `--ws-listen` (STOMP over WebSocket) and `--wss-listen` (WebSocket over TLS), all at once:
//!
//! ```text
//! stompy-broker --tls-cert server.pem --tls-key server.key --tls-listen 0.0.0.0:61614 \
//!               --ws-listen 0.0.0.0:15674 --tls-client-ca clients-ca.pem
//! ```

use std::process::ExitCode;

use clap::Parser;
use stompy::broker::{Broker, BrokerBuilder};
use stompy::Limits;

/// A STOMP 1.0/1.1/1.2 broker for one machine.
#[derive(Debug, Parser)]
#[command(
    name = "stompy-broker",
    version,
    about = "A STOMP 1.0/1.1/1.2 broker for one machine"
)]
struct Args {
    /// Address to listen on for plain STOMP (`--listen` works too).
    #[arg(
        long,
        short,
        alias = "listen",
        short_alias = 'l',
        default_value = "127.0.0.1:61613"
    )]
    bind: String,
    /// Accepted login as LOGIN:PASSCODE (repeatable); with none, any login is accepted.
    #[arg(long, short, value_name = "LOGIN:PASSCODE")]
    user: Vec<String>,
    /// Most messages kept per queue while no consumer takes them.
    #[arg(long, default_value_t = 100_000)]
    max_queue_len: usize,
    /// Heart-beat offer in ms, as SEND,RECV (0: none).
    #[arg(long, default_value = "10000,10000")]
    heart_beat: String,
    /// Largest message body accepted, in bytes.
    #[arg(long)]
    max_body: Option<usize>,
    /// Also listen for STOMP over TLS on this address (needs --tls-cert and --tls-key).
    #[arg(long, value_name = "ADDR")]
    tls_listen: Option<String>,
    /// Also listen for STOMP over WebSocket (any path, subprotocols v10/v11/v12.stomp).
    #[arg(long, value_name = "ADDR")]
    ws_listen: Option<String>,
    /// Also listen for STOMP over WebSocket over TLS (needs --tls-cert and --tls-key).
    #[arg(long, value_name = "ADDR")]
    wss_listen: Option<String>,
    /// The broker's certificate chain, PEM (leaf first).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<String>,
    /// The private key of --tls-cert, PEM.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<String>,
    /// Require client certificates signed by the CA in this PEM file (mutual TLS).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_client_ca: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Some((send, recv)) = args
        .heart_beat
        .split_once(',')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
    else {
        eprintln!("stompy-broker: --heart-beat wants SEND,RECV in ms");
        return ExitCode::from(2);
    };
    let mut limits = Limits::default();
    if let Some(max) = args.max_body {
        limits.max_body = max;
    }
    let mut builder = Broker::builder()
        .max_queue_len(args.max_queue_len)
        .heart_beat(send, recv)
        .limits(limits);
    for user in &args.user {
        let Some((login, passcode)) = user.split_once(':') else {
            eprintln!("stompy-broker: --user wants LOGIN:PASSCODE, got {user:?}");
            return ExitCode::from(2);
        };
        builder = builder.user(login, passcode);
    }
    let builder = match listeners(builder, &args) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("stompy-broker: {e}");
            return ExitCode::from(2);
        }
    };
    match builder.start() {
        Ok(broker) => {
            for (kind, addr) in broker.listeners() {
                println!("stompy-broker listening on {kind}://{addr}");
            }
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("stompy-broker: cannot start: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Adds the listeners and TLS settings the options ask for.
fn listeners(mut builder: BrokerBuilder, args: &Args) -> Result<BrokerBuilder, String> {
    builder = builder.listen(args.bind.as_str());
    let tls_wanted = args.tls_listen.is_some() || args.wss_listen.is_some();
    if tls_wanted != args.tls_cert.is_some() {
        return Err(if tls_wanted {
            "--tls-listen and --wss-listen need --tls-cert and --tls-key".into()
        } else {
            "--tls-cert is only used with --tls-listen or --wss-listen".into()
        });
    }
    if let Some(addr) = &args.ws_listen {
        builder = with_ws(builder, addr)?;
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        builder = with_tls(builder, args, cert, key)?;
    }
    Ok(builder)
}

#[cfg(feature = "websocket")]
fn with_ws(builder: BrokerBuilder, addr: &str) -> Result<BrokerBuilder, String> {
    Ok(builder.listen_ws(addr))
}

#[cfg(not(feature = "websocket"))]
fn with_ws(_: BrokerBuilder, _: &str) -> Result<BrokerBuilder, String> {
    Err("--ws-listen needs a build with the `websocket` feature".into())
}

#[cfg(feature = "tls")]
fn with_tls(
    mut builder: BrokerBuilder,
    args: &Args,
    cert: &str,
    key: &str,
) -> Result<BrokerBuilder, String> {
    let mut tls =
        stompy::broker::BrokerTls::from_pem_files(cert, key).map_err(|e| e.to_string())?;
    if let Some(ca) = &args.tls_client_ca {
        tls = tls
            .require_client_cert_file(ca)
            .map_err(|e| e.to_string())?;
    }
    builder = builder.tls(tls);
    if let Some(addr) = &args.tls_listen {
        builder = builder.listen_tls(addr.as_str());
    }
    if let Some(addr) = &args.wss_listen {
        builder = with_wss(builder, addr)?;
    }
    Ok(builder)
}

#[cfg(not(feature = "tls"))]
fn with_tls(_: BrokerBuilder, _: &Args, _: &str, _: &str) -> Result<BrokerBuilder, String> {
    Err("TLS needs a build with the `tls` feature".into())
}

#[cfg(all(feature = "tls", feature = "websocket"))]
fn with_wss(builder: BrokerBuilder, addr: &str) -> Result<BrokerBuilder, String> {
    Ok(builder.listen_wss(addr))
}

#[cfg(all(feature = "tls", not(feature = "websocket")))]
fn with_wss(_: BrokerBuilder, _: &str) -> Result<BrokerBuilder, String> {
    Err("--wss-listen needs a build with the `websocket` feature".into())
}
