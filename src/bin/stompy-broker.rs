//! `stompy-broker`: runs the embedded STOMP broker until the process is stopped. The same
//! command line as `stompy broker`.
//!
//! It listens on `--listen` (plain TCP) and, when asked, on `--tls-listen` (STOMP over TLS),
//! `--ws-listen` (STOMP over WebSocket) and `--wss-listen` (WebSocket over TLS), all at once:
//!
//! ```text
//! stompy-broker --tls-cert server.pem --tls-key server.key --tls-listen 0.0.0.0:61614 \
//!               --ws-listen 0.0.0.0:15674 --tls-client-ca clients-ca.pem
//! ```

use std::process::ExitCode;

use clap::Parser;

#[path = "shared/broker_cli.rs"]
mod broker_cli;

/// A STOMP 1.0/1.1/1.2 broker for one machine.
#[derive(Debug, Parser)]
#[command(
    name = "stompy-broker",
    version,
    about = "A STOMP 1.0/1.1/1.2 broker for one machine"
)]
struct Args {
    #[command(flatten)]
    broker: broker_cli::BrokerCli,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.broker.run("stompy-broker") {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stompy-broker: {e}");
            ExitCode::from(2)
        }
    }
}
