//! `stompy-broker`: runs the embedded STOMP broker until the process is stopped.

use std::process::ExitCode;

use clap::Parser;
use stompy::broker::Broker;
use stompy::Limits;

/// A STOMP 1.0/1.1/1.2 broker for one machine.
#[derive(Debug, Parser)]
#[command(
    name = "stompy-broker",
    version,
    about = "A STOMP 1.0/1.1/1.2 broker for one machine"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, short, default_value = "127.0.0.1:61613")]
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
    match builder.bind(args.bind.as_str()) {
        Ok(broker) => {
            println!("stompy-broker listening on {}", broker.addr());
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("stompy-broker: cannot listen on {}: {e}", args.bind);
            ExitCode::FAILURE
        }
    }
}
