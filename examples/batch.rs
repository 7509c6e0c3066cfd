//! A transactional batch sender: all of a batch or none of it.
//!
//! `client.transaction()` sends BEGIN; `commit()` makes the batch visible at once; a guard
//! dropped without commit (say, on an early `?` return) sends ABORT.
//!
//! Run: `cargo run --example batch` (embedded broker) or with `STOMP_URL=...`.

mod common;

use std::time::Duration;

use common::{fresh_queue, Target};
use stompy::{AckMode, Error, StompClient};

fn send_batch(client: &mut StompClient, queue: &str, lines: &[&str]) -> Result<(), Error> {
    let mut tx = client.transaction()?;
    for line in lines {
        if line.is_empty() {
            return Err(Error::Invalid("empty line in batch".into())); // `tx` drops: ABORT
        }
        tx.send(queue, line)?;
    }
    tx.commit_and_wait(Duration::from_secs(5))
}

/// Sends one good batch and one bad one, then shows what arrived.
pub(crate) fn run(connect: &dyn Fn() -> Result<StompClient, Error>) -> Result<(), Error> {
    let queue = fresh_queue("ledger");
    let mut client = connect()?;
    client
        .subscription(&queue)
        .ack(AckMode::Auto)
        .wait_receipt(Duration::from_secs(5))
        .subscribe()?;

    send_batch(&mut client, &queue, &["debit 10", "credit 10"])?;
    println!("[batch] committed: debit 10, credit 10");
    match send_batch(&mut client, &queue, &["debit 99", ""]) {
        Err(e) => println!("[batch] second batch aborted: {e}"),
        Ok(()) => unreachable!("the second batch has an empty line"),
    }
    client
        .message(&queue)
        .body("end")
        .send_and_wait(Duration::from_secs(5))?;

    for frame in &mut client {
        let text = frame.text()?.into_owned();
        if text == "end" {
            break;
        }
        println!("[batch] received: {text}");
    }
    client.disconnect()
}

#[allow(dead_code)]
fn main() -> Result<(), Error> {
    let target = Target::from_env()?;
    run(&|| target.connect())
}
