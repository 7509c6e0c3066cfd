//! The codec: an incremental [`Decoder`] (bytes in, frames and heart-beats out) and an encoder.
//!
//! Neither touches a socket. Feed the decoder whatever bytes arrived, in any split, and ask it
//! for items until it says it needs more:
//!
//! ```
//! use stompy::codec::{Decoder, Item};
//! use stompy::{Limits, Version};
//! let mut d = Decoder::new(Version::V1_2, Limits::default());
//! d.feed(b"\nMESSAGE\ndestination:/queue/a\n\nhi\0");
//! assert!(matches!(d.decode()?, Some(Item::HeartBeat)));
//! let Some(Item::Frame(f)) = d.decode()? else { panic!() };
//! assert_eq!(f.body(), b"hi");
//! assert!(d.decode()?.is_none()); // needs more bytes
//! # Ok::<(), stompy::ProtocolError>(())
//! ```

mod decode;
mod encode;
mod escape;
mod head;
mod out;
mod swar;

pub use decode::{Decoder, Item, ItemRef};
pub(crate) use decode::{Found, ONE_PEER_READ_CHUNK};
pub(crate) use encode::{encode_ack_1_2, encode_parts_with, has_nul, write_decimal};
pub use encode::{encode_frame, encode_heartbeat, encode_parts};
pub(crate) use out::OutBuf;

/// Hard limits on what the peer may send, so that a hostile peer cannot make stompy allocate
/// without bound. Each breach is a typed [`ProtocolError`](crate::ProtocolError).
///
/// ```
/// let limits = stompy::Limits::default().max_body(1024 * 1024).max_headers(100);
/// assert_eq!(limits.max_body, 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest command or header line, in bytes, escapes included. Default 64 KiB: far above
    /// any real header (ActiveMQ refuses 10 KB), far below memory trouble.
    pub max_header_line: usize,
    /// Most header lines in one frame. Default 1000, ActiveMQ's limit.
    pub max_headers: usize,
    /// Largest body, in bytes. Default 128 MiB, RabbitMQ's `max_message_size`.
    pub max_body: usize,
}

impl Limits {
    /// Sets [`Limits::max_header_line`].
    pub fn max_header_line(mut self, bytes: usize) -> Self {
        self.max_header_line = bytes;
        self
    }

    /// Sets [`Limits::max_headers`].
    pub fn max_headers(mut self, count: usize) -> Self {
        self.max_headers = count;
        self
    }

    /// Sets [`Limits::max_body`].
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_line: 64 * 1024,
            max_headers: 1000,
            max_body: 128 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests;
