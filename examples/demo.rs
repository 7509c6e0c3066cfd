//! The tour: a consumer loop, a callback worker and a transactional batch, against the
//! embedded broker started in-process (or `STOMP_URL`).
//!
//! Run: `cargo run --example demo`.

// Each example is also a program of its own with `mod common;`, so `common` is compiled once
// for the tour and once inside each included example.
#![allow(clippy::duplicate_mod)]

#[path = "batch.rs"]
mod batch;
mod common;
#[path = "consumer.rs"]
mod consumer;
#[path = "worker.rs"]
mod worker;

use common::Target;

fn main() -> Result<(), stompy::Error> {
    let target = Target::from_env()?;
    println!("\n== 1. consumer loop: for frame in &mut client ==");
    consumer::run(&|| target.connect())?;
    println!("\n== 2. callback worker: loop_with, ACK / NACK ==");
    worker::run(&|| target.connect())?;
    println!("\n== 3. transactional batch: commit, or abort on drop ==");
    batch::run(&|| target.connect())?;
    println!("\nall done");
    Ok(())
}
