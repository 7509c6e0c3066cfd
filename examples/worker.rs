//! A callback worker: `try_loop_with`, client-individual acks, NACK on failure.
//!
//! The callback ACKs what it handled and NACKs what it could not, and stops the loop by
//! returning `Some` when it sees the "stop" job.
//!
//! Run: `cargo run --example worker` (embedded broker) or with `STOMP_URL=...`.

mod common;

use std::ops::ControlFlow;
use std::time::Duration;

use common::{fresh_queue, Target};
use stompy::{AckMode, Error, Frame, StompClient};

/// What the worker does with one job: Ok(done), Err(why it failed).
fn handle(job: &str) -> Result<bool, String> {
    match job {
        "stop" => Ok(true),
        j if j.starts_with("resize:") => Ok(false),
        other => Err(format!("unknown job {other:?}")),
    }
}

/// Sends jobs, then runs the worker until the "stop" job.
pub(crate) fn run(connect: &dyn Fn() -> Result<StompClient, Error>) -> Result<(), Error> {
    let queue = fresh_queue("jobs");
    let mut client = connect()?;
    client
        .subscription(&queue)
        .ack(AckMode::ClientIndividual)
        .auto_ack(false) // this worker decides: ACK or NACK
        .wait_receipt(Duration::from_secs(5))
        .subscribe()?;
    for job in ["resize:cat.png", "explode", "resize:dog.png", "stop"] {
        client.send(&queue, job)?;
    }

    let mut failures = 0;
    // `try_loop_with`: a failed ACK or NACK stops the loop and comes back here through `?`.
    let stopped = client.try_loop_with(|client: &mut StompClient, frame: Frame| {
        let job = frame.text()?.into_owned();
        match handle(&job) {
            Ok(stop) => {
                println!("[worker] done: {job}");
                client.ack(&frame)?;
                if stop {
                    return Ok(ControlFlow::Break(()));
                }
            }
            Err(why) if frame.is_redelivered() || failures > 0 => {
                println!("[worker] giving up on {job:?}: {why}");
                client.ack(&frame)?; // drop it rather than loop forever
            }
            Err(why) => {
                failures += 1;
                println!("[worker] failed ({why}): NACK");
                client.nack(&frame)?;
            }
        }
        Ok::<_, Error>(ControlFlow::Continue(()))
    })?;
    println!(
        "[worker] stopped: {}",
        if stopped.is_some() {
            "on request"
        } else {
            "connection closed"
        }
    );
    client.disconnect()
}

#[allow(dead_code)]
fn main() -> Result<(), Error> {
    let target = Target::from_env()?;
    run(&|| target.connect())
}
