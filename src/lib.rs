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
//!
//! ## The smallest program
//!
//! ```
//! use stompy::{AckMode, StompClient};
//!
//! let broker = stompy::broker::Broker::bind("127.0.0.1:0")?; // or RabbitMQ, ActiveMQ, ...
//! let mut client = StompClient::connect(broker.addr())?;
//! client.subscribe("/queue/greetings", AckMode::ClientIndividual)?;
//! client.send("/queue/greetings", "hello")?;
//! if let Some(frame) = client.recv()? {
//!     println!("{}", frame.text()?); // ACKed when the client is asked for the next frame
//! }
//! client.disconnect()?;
//! # Ok::<(), stompy::Error>(())
//! ```
//!
//! ## In scope
//! STOMP 1.0, 1.1 and 1.2 with version negotiation and header escaping; `recv`, iterators and
//! callbacks ([`StompClient::loop_with`]), and frames lent from the read buffer for hot loops
//! ([`StompClient::recv_ref`], [`FrameRef`]); auto-ACK that never acknowledges a message before
//! the application saw it; receipts; transactions ([`Transaction`], aborted on drop);
//! heart-beats; failover and reconnect ([`ReconnectPolicy`]); TLS ([`TlsConfig`], feature
//! `tls`); WebSocket (feature `websocket`); connection events ([`Listener`]); hard limits on
//! what a broker may make the client allocate ([`Limits`]).
//!
//! ## Out of scope
//! Threads and async: one client is driven by the thread that calls it. Use one client per
//! thread, or wrap it in your own worker.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "broker")]
pub mod broker;
mod client;
mod clock;
pub mod codec;
mod error;
mod frame;
pub mod session;
mod transport;

// The public interface is:
/// The shared byte buffer of [`Frame::body_bytes`] (the `bytes` crate's).
pub use bytes::Bytes;
pub use client::{
    ClientBuilder, Frames, IntoAddresses, Listener, LoopOptions, PrintingListener, ReconnectPolicy,
    SendBuilder, Stats, StatsListener, StompClient, SubscribeBuilder, Transaction,
};
pub use codec::Limits;
pub use error::{BrokerError, ContextError, Error, ErrorChain, ProtocolError, Timeout};
pub use frame::{header, Command, Frame, FrameRef, Headers, HeadersRef, Version};
pub use session::{AckMode, AckToken, Subscription};
#[cfg(feature = "tls")]
pub use transport::TlsConfig;
pub use transport::{Address, Scheme};
