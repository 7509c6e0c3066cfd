//! A consumer loop: `for frame in &mut client`, with client-individual acks.
//!
//! Each message is ACKed when the loop asks for the next one, never before the body of the
//! loop saw it: break out (or crash) and the message goes back to the queue.
//!
//! Run: `cargo run --example consumer` (embedded broker) or with `STOMP_URL=...`.

mod common;

use std::time::Duration;

use common::{fresh_queue, Target};
use stompy::{AckMode, Error, StompClient};

/// Sends five orders, then consumes them in a `for` loop.
pub(crate) fn run(connect: &dyn Fn() -> Result<StompClient, Error>) -> Result<(), Error> {
    let queue = fresh_queue("orders");
    let mut producer = connect()?;
    for n in 1..=5 {
        producer
            .message(&queue)
            .body(format!("order #{n}"))
            .send()?;
    }
    producer.disconnect()?;

    let mut client = connect()?;
    client
        .subscription(&queue)
        .ack(AckMode::ClientIndividual)
        .wait_receipt(Duration::from_secs(5))
        .subscribe()?;
    let mut handled = 0;
    for frame in &mut client {
        println!(
            "[consumer] {} (message-id {})",
            frame.text()?,
            frame.message_id().unwrap_or("?")
        );
        handled += 1;
        if handled == 5 {
            break;
        }
    }
    println!("[consumer] handled {handled} orders");
    client.disconnect() // a graceful stop ACKs order #5 too: nothing handled comes again
}

#[allow(dead_code)]
fn main() -> Result<(), Error> {
    let target = Target::from_env()?;
    run(&|| target.connect())
}
