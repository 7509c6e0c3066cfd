//! `stompy`: a STOMP command-line client. Send, listen, or work in an interactive shell.

mod args;
#[cfg(feature = "broker")]
mod broker;
#[cfg(feature = "broker")]
#[path = "../shared/broker_cli.rs"]
mod broker_cli;
mod commands;
mod connect;
mod error;
mod format;
mod shell;
mod shell_commands;
mod stats;
mod terminal;
mod tls;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Cmd, ShellArgs};
use error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stompy: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), CliError> {
    match &cli.command {
        Some(Cmd::Send(a)) => commands::send(&cli.conn, a),
        Some(Cmd::Listen(a)) => commands::listen(&cli.conn, a),
        Some(Cmd::Shell(a)) => shell::run(&cli.conn, a),
        #[cfg(feature = "broker")]
        Some(Cmd::Broker(a)) => broker::run(a),
        None => shell::run(&cli.conn, &ShellArgs::default()),
    }
}
