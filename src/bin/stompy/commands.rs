//! The one-shot subcommands: `send` and `listen`.

use std::io::{self, Read, Write};

use stompy::{AckMode, Command, Error, StompClient, Version};

use crate::args::{ConnOpts, ListenArgs, SendArgs};
use crate::connect::secs;
use crate::error::CliError;
use crate::format::write_frame;

/// `stompy send DESTINATION [BODY]`.
pub(crate) fn send(conn: &ConnOpts, args: &SendArgs) -> Result<(), CliError> {
    let body = body_of(args)?;
    let mut client = conn.connect()?;
    for _ in 0..args.count {
        let mut m = client.message(&args.destination).body(body.clone());
        for (k, v) in &args.headers {
            m = m.header(k, v);
        }
        if let Some(ct) = &args.content_type {
            m = m.content_type(ct);
        }
        if args.receipt {
            m.send_and_wait(conn.wait())?;
        } else {
            m.send()?;
        }
    }
    // DISCONNECT waits for its receipt: every message above reached the broker.
    client.disconnect()?;
    Ok(())
}

fn body_of(args: &SendArgs) -> Result<Vec<u8>, CliError> {
    if let Some(b) = &args.body {
        return Ok(b.clone().into_bytes());
    }
    if let Some(path) = &args.file {
        return std::fs::read(path)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())));
    }
    let mut body = Vec::new();
    io::stdin().read_to_end(&mut body)?;
    Ok(body)
}

/// `stompy listen DESTINATION`: prints messages until --count, the idle --timeout, or the
/// connection closes.
pub(crate) fn listen(conn: &ConnOpts, args: &ListenArgs) -> Result<(), CliError> {
    let mut client = conn.connect()?;
    let ack = listen_ack_mode(args, client.version());
    let mut sub = client
        .subscription(&args.destination)
        .ack(ack)
        .auto_ack(false)
        .wait_receipt(conn.wait());
    if let Some(n) = args.count {
        // Take no more than asked for from a queue shared with other consumers.
        sub = sub.prefetch(u32::try_from(n).unwrap_or(u32::MAX));
    }
    for (k, v) in &args.headers {
        sub = sub.header(k, v);
    }
    sub.subscribe()?;
    let mut seen = 0u64;
    while args.count.is_none_or(|n| seen < n) {
        let Some(frame) = next(&mut client, args.timeout)? else {
            break;
        };
        if frame.command() != Command::Message {
            continue;
        }
        if !print(&frame, args)? {
            break; // nobody reads our output any more
        }
        if ack.needs_ack() {
            client.ack(&frame)?;
        }
        seen += 1;
    }
    client.disconnect()?;
    Ok(())
}

/// The ack mode to subscribe with. With --count and `auto`, messages are acknowledged one by
/// one as they are printed instead, so that the broker keeps (and redelivers) whatever it
/// had already pushed past the count when the listener stops.
fn listen_ack_mode(args: &ListenArgs, version: Version) -> AckMode {
    match (args.ack, args.count, version) {
        (AckMode::Auto, Some(_), Version::V1_0) => AckMode::Client,
        (AckMode::Auto, Some(_), _) => AckMode::ClientIndividual,
        (mode, _, _) => mode,
    }
}

/// The next frame; `None` at a clean close or after `idle` seconds without one.
fn next(client: &mut StompClient, idle: Option<f64>) -> Result<Option<stompy::Frame>, CliError> {
    let got = match idle {
        Some(s) => client.recv_timeout(secs(s)),
        None => client.recv(),
    };
    match got {
        Ok(Some(f)) => Ok(Some(f)),
        Ok(None) => match client.close_reason() {
            Some(e) => Err(CliError::usage(format!(
                "connection closed: {}",
                e.report()
            ))),
            None => Ok(None),
        },
        Err(Error::Timeout(stompy::Timeout::Recv(_))) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Prints one message; false when standard output is closed.
fn print(frame: &stompy::Frame, args: &ListenArgs) -> Result<bool, CliError> {
    let mut out = io::stdout().lock();
    match write_frame(&mut out, frame, args.format).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e.into()),
    }
}
