//! `stompy broker`: the embedded broker, in the foreground.

use std::io::Write;

use stompy::broker::Broker;

use crate::args::BrokerArgs;
use crate::error::CliError;

/// Runs the broker until the process is stopped. Prints the address it listens on first.
pub(crate) fn run(args: &BrokerArgs) -> Result<(), CliError> {
    let mut b = Broker::builder()
        .max_queue_len(args.max_queue_len)
        .heart_beat(args.heartbeats.send_ms, args.heartbeats.recv_ms);
    for (name, pass) in &args.users {
        b = b.user(name, pass);
    }
    let broker = b
        .bind(args.listen.as_str())
        .map_err(|e| CliError::usage(format!("cannot listen on {}: {e}", args.listen)))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "stompy broker listening on {}", broker.addr())?;
    out.flush()?;
    drop(out);
    loop {
        std::thread::park();
    }
}
