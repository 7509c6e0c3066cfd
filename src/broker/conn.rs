//! One client connection's protocol state, without a socket: the decoder fed with the bytes
//! that arrived, the buffer of bytes to send, the negotiated version, subscriptions with their
//! un-ACKed deliveries, open transactions and heart-beat clocks.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::queue::{Message, Pending};
use super::tx::Transactions;
use crate::codec::{encode_frame, encode_heartbeat, encode_parts, Decoder, Limits, OutBuf};
use crate::frame::{header, Command, Frame, Version};
use crate::session::heartbeat::{HeartBeat, Policy};
use crate::session::AckMode;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for CONNECT or STOMP.
    AwaitConnect,
    /// Session open.
    Open,
    /// ERROR or the DISCONNECT receipt is queued: no more input is handled, close once flushed.
    Closing,
}

/// A message sent to the client and not yet ACKed.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// Per-connection delivery id (the `ack` header); increases with delivery order.
    pub(crate) ack: u64,
    pub(crate) msg: Arc<Message>,
}

/// One subscription of this connection.
#[derive(Debug)]
pub(crate) struct Subscription {
    pub(crate) id: Arc<str>,
    pub(crate) destination: Arc<str>,
    pub(crate) mode: AckMode,
    /// Most un-ACKed deliveries at once (`usize::MAX`: no limit).
    pub(crate) prefetch: usize,
    /// Un-ACKed deliveries, oldest first (so sorted by `ack`).
    pub(crate) unacked: VecDeque<Delivery>,
}

impl Subscription {
    /// Takes the delivery `ack` out, with every earlier one when `cumulative`. `None` when this
    /// subscription has no such delivery.
    pub(crate) fn take(&mut self, ack: u64, cumulative: bool) -> Option<Vec<Delivery>> {
        let i = self.unacked.binary_search_by_key(&ack, |d| d.ack).ok()?;
        if cumulative {
            Some(self.unacked.drain(..=i).collect())
        } else {
            self.unacked.remove(i).map(|d| vec![d])
        }
    }

    /// True when the subscription's in-flight limit allows one more delivery.
    pub(crate) fn has_room(&self) -> bool {
        !self.mode.needs_ack() || self.unacked.len() < self.prefetch
    }
}

/// Output above this many bytes stops deliveries to the connection until it drains.
pub(crate) const HIGH_WATER: usize = 1 << 20;

/// Output above this many bytes stops the server reading the connection until the client
/// catches up.
pub(crate) const READ_PAUSE: usize = 4 * HIGH_WATER;

/// A connection whose CONNECT is not done this long after it was accepted is dropped (as
/// RabbitMQ's handshake timeout: 10 s).
const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// How the broker judges a connection that has not sent CONNECT yet: unless its CONNECT is
/// handled within [`CONNECT_WAIT`], it is dropped, however many bytes it sends meanwhile.
const AWAITING_CONNECT: Policy = Policy {
    tolerance: 1.0,
    first_beat_grace: false,
    fixed_deadline: true,
    max_interval: CONNECT_WAIT,
};

/// How the broker judges a client's silence once connected: dead after 2 of the intervals it
/// promised, with intervals cut to a day so that clock arithmetic cannot overflow.
pub(crate) const CONNECTED: Policy = Policy {
    tolerance: 2.0,
    first_beat_grace: false,
    fixed_deadline: false,
    max_interval: Duration::from_secs(86_400),
};

/// The state of one client connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) decoder: Decoder,
    out: OutBuf,
    /// Output from this offset on waits for the store's commit (`Engine::commit`, which the
    /// server runs before it writes anything).
    hold: Option<usize>,
    pub(crate) version: Version,
    pub(crate) phase: Phase,
    pub(crate) session: u64,
    pub(crate) subs: Vec<Subscription>,
    pub(crate) txs: Transactions,
    pub(crate) heartbeat: HeartBeat,
    next_ack: u64,
    /// A delivery was skipped because the output was full; retry once it drains.
    pub(crate) starved: bool,
    /// The queue this connection's last SEND filled up (see `Engine::may_read`).
    pub(crate) blocked_on: Option<Arc<str>>,
    /// The connection ends because of an ERROR (not a DISCONNECT): a WebSocket says so in
    /// its Close status.
    pub(crate) errored: bool,
}

impl Conn {
    pub(crate) fn new(session: u64, limits: Limits, now: Instant) -> Self {
        Conn {
            decoder: Decoder::new(Version::V1_0, limits),
            out: OutBuf::default(),
            hold: None,
            version: Version::V1_0,
            phase: Phase::AwaitConnect,
            session,
            subs: Vec::new(),
            txs: Transactions::default(),
            heartbeat: HeartBeat::new(None, Some(CONNECT_WAIT), &AWAITING_CONNECT, now),
            next_ack: 1,
            starved: false,
            blocked_on: None,
            errored: false,
        }
    }

    /// Reads once from `r` into the decoder (what `read` returned: `Ok(0)` is end of stream).
    pub(crate) fn read_from(&mut self, r: &mut dyn Read, now: Instant) -> io::Result<usize> {
        let n = self.decoder.read_from(r)?;
        if n > 0 {
            self.heartbeat.on_recv(now);
        }
        Ok(n)
    }

    /// True when the last [`Conn::read_from`] got data but filled less than the room offered.
    pub(crate) fn last_read_was_short(&self) -> bool {
        self.decoder.last_read_was_short()
    }

    /// Appends bytes received from the client.
    #[cfg(test)]
    pub(crate) fn feed(&mut self, bytes: &[u8], now: Instant) {
        self.decoder.feed(bytes);
        self.heartbeat.on_recv(now);
    }

    /// Writes queued output to `w` until it is all written or `w` would block, one frame per
    /// write when `frame_per_write` (for a `w` that sends each write as a message).
    pub(crate) fn write_to(
        &mut self,
        w: &mut dyn Write,
        frame_per_write: bool,
    ) -> io::Result<usize> {
        debug_assert!(
            self.hold.is_none(),
            "output written before the store's commit"
        );
        self.out.write_to(w, frame_per_write)
    }

    /// Takes all queued output (for tests).
    #[cfg(test)]
    pub(crate) fn take_output(&mut self) -> Vec<u8> {
        self.out.take()
    }

    /// Bytes queued and not yet written.
    pub(crate) fn pending_output(&self) -> usize {
        self.out.len()
    }

    /// True when deliveries may be queued to this connection now.
    pub(crate) fn can_deliver(&self) -> bool {
        self.phase == Phase::Open && self.pending_output() < HIGH_WATER
    }

    /// Queues a frame for the client.
    pub(crate) fn send(&mut self, frame: &Frame, now: Instant) {
        let version = self.version;
        self.out.push(|out| encode_lenient(frame, version, out));
        self.heartbeat.on_sent(now);
    }

    /// Queues a heart-beat.
    pub(crate) fn send_heartbeat(&mut self, now: Instant) {
        self.out.push(encode_heartbeat);
        self.heartbeat.on_sent(now);
    }

    /// Where the next queued frame will start: see [`Conn::send_receipt_at`].
    pub(crate) fn output_mark(&self) -> usize {
        self.out.mark()
    }

    /// Queues a RECEIPT for `receipt` at `mark`, an [`Conn::output_mark`] taken before the
    /// frame that asked for it was handled: the receipt goes out before the messages that
    /// frame released (as other brokers do), after everything queued earlier.
    pub(crate) fn send_receipt_at(&mut self, mark: usize, receipt: &str, now: Instant) {
        let frame = Frame::new(Command::Receipt).with_header(header::RECEIPT_ID, receipt);
        let version = self.version;
        self.out
            .insert_at(mark, |out| encode_lenient(&frame, version, out));
        self.heartbeat.on_sent(now);
    }

    /// Makes the output from `mark` (an [`Conn::output_mark`]) on wait for the store's commit;
    /// true when nothing waited yet.
    pub(crate) fn hold_output_from(&mut self, mark: usize) -> bool {
        let first = self.hold.is_none();
        self.hold = Some(self.hold.map_or(mark, |h| h.min(mark)));
        first
    }

    /// The commit succeeded: the output that waited for it may go.
    pub(crate) fn release_output(&mut self) {
        self.hold = None;
    }

    /// The commit failed: drops the output that waited for it (the RECEIPTs that would have
    /// confirmed what was not stored, and what followed them), sends an ERROR instead and
    /// closes.
    pub(crate) fn fail_held_output(&mut self, message: &str, now: Instant) {
        if let Some(hold) = self.hold.take() {
            self.out.truncate(hold);
        }
        self.send_error(message, None, now);
    }

    /// Queues an ERROR and stops handling input: the connection closes once it is flushed.
    pub(crate) fn send_error(&mut self, message: &str, receipt: Option<&str>, now: Instant) {
        let mut f = Frame::new(Command::Error)
            .with_header(header::MESSAGE, message)
            .with_header(header::CONTENT_TYPE, "text/plain");
        if self.phase == Phase::AwaitConnect {
            f = f.with_header(header::VERSION, "1.0,1.1,1.2");
        }
        if let Some(r) = receipt {
            f = f.with_header(header::RECEIPT_ID, r);
        }
        self.send(&f.with_body(format!("{message}\n")), now);
        self.phase = Phase::Closing;
        self.errored = true;
    }

    /// The index of the subscription called `id`.
    pub(crate) fn sub_index(&self, id: &str) -> Option<usize> {
        self.subs.iter().position(|s| &*s.id == id)
    }

    /// Encodes `p` as a MESSAGE for subscription `sub` and, unless the subscription is in auto
    /// mode, remembers it as un-ACKed.
    pub(crate) fn deliver(&mut self, sub: usize, p: Pending, now: Instant) {
        let ack = self.next_ack;
        self.next_ack += 1;
        let s = &mut self.subs[sub];
        let (mut id_buf, mut ack_buf) = ([0u8; 20], [0u8; 21]);
        let id = fmt_u64(p.msg.id, &mut id_buf);
        let ack_str = fmt_ack_id(ack, &mut ack_buf);
        let acked = s.mode.needs_ack();
        let ours = [
            (header::SUBSCRIPTION, &*s.id),
            (header::MESSAGE_ID, id),
            (header::DESTINATION, &*p.msg.destination),
        ];
        let ack_h = acked.then_some((header::ACK, ack_str));
        let redelivered = p.redelivered.then_some((header::REDELIVERED, "true"));
        let theirs = p.msg.headers.iter().filter(|(n, _)| !is_reserved(n));
        let headers = ours
            .into_iter()
            .chain(ack_h)
            .chain(redelivered)
            .chain(theirs);
        let version = self.version;
        let body = &p.msg.body;
        let encode =
            |out: &mut Vec<u8>| encode_parts(Command::Message, headers, body, version, out);
        if self.out.push(encode).is_err() {
            let theirs = p.msg.headers.iter().filter(|(n, _)| !is_reserved(n));
            let safe =
                theirs.filter(|(n, v)| !n.contains(['\n', '\r', ':']) && !v.contains(['\n', '\r']));
            let headers = ours.into_iter().chain(ack_h).chain(redelivered).chain(safe);
            let _ = self
                .out
                .push(|out| encode_parts(Command::Message, headers, body, version, out));
        }
        if acked {
            s.unacked.push_back(Delivery { ack, msg: p.msg });
        }
        self.heartbeat.on_sent(now);
    }
}

/// Appends `frame` to `out`; when a header cannot be written in `version` (the only way the
/// encoder fails), the frame goes without such headers.
fn encode_lenient(frame: &Frame, version: Version, out: &mut Vec<u8>) {
    if encode_frame(frame, version, out).is_err() {
        let clean: Frame = Frame::from_parts(
            frame.command(),
            frame
                .headers()
                .iter()
                .filter(|(n, v)| !n.contains(['\n', '\r', ':']) && !v.contains(['\n', '\r']))
                .collect(),
            frame.body().to_vec(),
        );
        let _ = encode_frame(&clean, version, out);
    }
}

/// Headers of a SEND that a MESSAGE does not repeat (the broker writes its own).
fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        header::DESTINATION
            | header::TRANSACTION
            | header::RECEIPT
            | header::CONTENT_LENGTH
            | header::MESSAGE_ID
            | header::SUBSCRIPTION
            | header::ACK
            | header::REDELIVERED
    )
}

/// Writes `n` in decimal into `buf`, without allocating.
/// An `ack` header value: `a` and the delivery's number, so that it never reads as a
/// `message-id` (plain numbers), which a client may send instead.
pub(crate) fn fmt_ack_id(n: u64, buf: &mut [u8; 21]) -> &str {
    let mut digits = [0u8; 20];
    let len = fmt_u64(n, &mut digits).len();
    buf[0] = b'a';
    buf[1..=len].copy_from_slice(&digits[20 - len..]);
    std::str::from_utf8(&buf[..=len]).unwrap_or("a0")
}

/// The delivery number in an `ack` header value written by [`fmt_ack_id`].
pub(crate) fn parse_ack_id(v: &str) -> Option<u64> {
    v.strip_prefix('a')?.parse().ok()
}

pub(crate) fn fmt_u64(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}
