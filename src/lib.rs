//! # stompy
//!
//! A single-threaded, pull-style STOMP 1.0/1.1/1.2 client: you ask the client for the next
//! frame and it hands you one.
//!
//! ```text
//!   your code ──recv()/for frame in &mut client──▶ StompClient
//!                                                   │ session: negotiation, acks, receipts,
//!                                                   │          transactions, heart-beat clocks
//!                                                   │ codec:   bytes ⇄ frames, limits
//!                                                   ▼
//!                                    transport: mio TCP │ rustls TLS │ WebSocket
//! ```
//!
//! The protocol core ([`codec`], [`session`]) is sans-IO: it is fed bytes and time, and emits
//! bytes and events. [`StompClient`] is a thin mio driver on top of it. An embedded broker
//! ([`broker`], feature `broker`) makes examples and tests run with no setup.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "broker")]
pub mod broker;
mod client;
pub mod codec;
mod error;
mod frame;
pub mod session;
mod transport;

// The public interface is:
pub use client::{
    ClientBuilder, Frames, IntoAddresses, LoopOptions, ReconnectPolicy, SendBuilder, StompClient,
    SubscribeBuilder, Transaction,
};
pub use codec::Limits;
pub use error::{BrokerError, Error, ProtocolError, Timeout};
pub use frame::{header, Command, Frame, Headers, Version};
pub use session::{AckMode, Subscription};
#[cfg(feature = "tls")]
pub use transport::TlsConfig;
pub use transport::{Address, Scheme};
