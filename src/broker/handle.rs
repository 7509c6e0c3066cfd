//! What the broker does with each client frame. Every handler returns `Err(message)` for a
//! protocol violation; the caller then sends ERROR and closes the connection.

use std::sync::Arc;
use std::time::Instant;

use super::conn::{self, parse_ack_id, Phase, Subscription};
use super::engine::Engine;
use super::queue::{is_topic, Consumer, Message};
use super::tx::TxOp;
use crate::frame::{header, Command, Frame, Version};
use crate::session::heartbeat::HeartBeat;
use crate::session::{parse_heart_beat, AckMode};

type Handled = Result<(), String>;

/// The broker's `heart-beat` answer to a client that offered `(cx, cy)`: it sends every `cy`
/// and expects the client every `cx`, each clamped into `(floor, ceiling)`; a `0` (none
/// wanted, or none promised) stays `0`.
pub(super) fn heart_beat_answer(client: (u64, u64), (floor, ceiling): (u64, u64)) -> (u64, u64) {
    let clamp = |ms: u64| {
        if ms == 0 {
            0
        } else {
            ms.clamp(floor, ceiling.max(floor))
        }
    };
    (clamp(client.1), clamp(client.0))
}

impl Engine {
    /// Handles one decoded frame from connection `id`.
    pub(super) fn handle_frame(&mut self, id: usize, frame: Frame, now: Instant) {
        let Some(phase) = self.conn(id).map(|c| c.phase) else {
            return;
        };
        let command = frame.command();
        let receipt = frame.get(header::RECEIPT).map(str::to_owned);
        let mark = self.conn(id).map_or(0, |c| c.output_mark());
        let changes = self.store_changes();
        let result = match (phase, command) {
            (Phase::AwaitConnect, Command::Connect | Command::Stomp) => {
                self.on_connect(id, &frame, now)
            }
            (Phase::AwaitConnect, c) => Err(format!("expected CONNECT, got {c}")),
            (_, Command::Connect | Command::Stomp) => Err("already connected".into()),
            (_, Command::Send) => self.on_send(id, frame, now),
            (_, Command::Subscribe) => self.on_subscribe(id, &frame, now),
            (_, Command::Unsubscribe) => self.on_unsubscribe(id, &frame, now),
            (_, Command::Ack) => self.on_ack(id, &frame, false, now),
            (_, Command::Nack) => self.on_ack(id, &frame, true, now),
            (_, Command::Begin) => self.on_begin(id, &frame),
            (_, Command::Commit) => self.on_end(id, &frame, true, now),
            (_, Command::Abort) => self.on_end(id, &frame, false, now),
            (_, Command::Disconnect) => Ok(()),
            (_, c) => Err(format!("{c} is a server frame")),
        };
        // The frame changed the store: its RECEIPT (and what follows) waits for the commit.
        let hold = changes.is_some() && self.store_changes() != changes;
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        match result {
            Err(msg) => conn.send_error(&msg, receipt.as_deref(), now),
            Ok(()) => {
                if let Some(r) = receipt.as_deref().filter(|_| !command.is_unescaped()) {
                    conn.send_receipt_at(mark, r, now);
                }
                if command == Command::Disconnect {
                    conn.phase = Phase::Closing;
                }
                if hold {
                    self.hold_output(id, mark);
                }
            }
        }
    }

    fn on_connect(&mut self, id: usize, frame: &Frame, now: Instant) -> Handled {
        let version = match frame.get(header::ACCEPT_VERSION) {
            None => Version::V1_0,
            Some(list) => list
                .split(',')
                .filter_map(|v| v.parse::<Version>().ok())
                .max()
                .ok_or_else(|| format!("unsupported protocol versions: {list}"))?,
        };
        if !self.cfg.users.is_empty() {
            // A 1.0 client may pad its CONNECT headers as that spec's examples do
            // (`login: guest`); 1.1+ values are taken as they are.
            let field = |name| {
                let v = frame.get(name);
                match version {
                    Version::V1_0 => v.map(|v| v.trim_matches([' ', '\t'])),
                    _ => v,
                }
            };
            let known = field(header::LOGIN).and_then(|l| self.cfg.users.get(l));
            let ok = known.is_some_and(|p| Some(p.as_str()) == field(header::PASSCODE));
            if !ok {
                return Err("login failed".into());
            }
        }
        let client = match (version, frame.get(header::HEART_BEAT)) {
            (Version::V1_0, _) | (_, None) => (0, 0),
            (_, Some(v)) => parse_heart_beat(v).map_err(|_| format!("invalid heart-beat {v:?}"))?,
        };
        let offer = heart_beat_answer(client, self.cfg.heart_beat);
        let conn = self.conn_mut(id).ok_or("gone")?;
        conn.version = version;
        conn.decoder.set_version(version);
        conn.phase = Phase::Open;
        conn.heartbeat = HeartBeat::negotiate(offer, client, &conn::CONNECTED, now);
        let mut connected = Frame::new(Command::Connected)
            .with_header(header::VERSION, version.as_str())
            .with_header(
                header::SERVER,
                concat!("stompy/", env!("CARGO_PKG_VERSION")),
            )
            .with_header(header::SESSION, &format!("session-{}", conn.session));
        if version != Version::V1_0 {
            let hb = format!("{},{}", offer.0, offer.1);
            connected.headers_mut().push(header::HEART_BEAT, &hb);
        }
        conn.send(&connected, now);
        Ok(())
    }

    fn on_send(&mut self, id: usize, frame: Frame, now: Instant) -> Handled {
        let dest = destination(frame.destination()).ok_or("SEND without destination header")?;
        let destination = self.intern(dest);
        let tx = frame.get(header::TRANSACTION).map(str::to_owned);
        // A queued message must not hold the buffer its SEND was read into (other SENDs'
        // bytes with it): headers and body get allocations of their own.
        let (_, mut headers, body) = frame.into_parts();
        headers.detach();
        let msg = Message {
            id: self.next_msg,
            destination,
            headers,
            body,
            durable: None,
        };
        self.next_msg += 1;
        match tx {
            Some(tx) => {
                let conn = self.conn_mut(id).ok_or("gone")?;
                conn.txs
                    .hold(&tx, TxOp::Send(msg))
                    .map_err(|_| unknown_tx(&tx))
            }
            None => self.route(id, msg, now),
        }
    }

    fn on_subscribe(&mut self, id: usize, frame: &Frame, now: Instant) -> Handled {
        let dest =
            destination(frame.destination()).ok_or("SUBSCRIBE without destination header")?;
        let destination = self.intern(dest);
        let conn = self.conn_mut(id).ok_or("gone")?;
        let sub_id: Arc<str> = match frame.get(header::ID) {
            Some(s) => s.into(),
            None if conn.version == Version::V1_0 => destination.clone(),
            None => return Err("SUBSCRIBE without id header".into()),
        };
        if conn.sub_index(&sub_id).is_some() {
            return Err(format!("subscription id {sub_id:?} is already in use"));
        }
        let (max_subs, max_unacked) = (self.cfg.max_subscriptions, self.cfg.max_unacked.max(1));
        let conn = self.conn_mut(id).ok_or("gone")?;
        if conn.subs.len() >= max_subs {
            return Err(format!(
                "too many subscriptions on one connection (limit {max_subs})"
            ));
        }
        let ack = frame.get(header::ACK);
        let mode = ack
            .map_or(Ok(AckMode::Auto), str::parse)
            .map_err(|_| format!("invalid ack mode {:?}", ack.unwrap_or_default()))?;
        let prefetch = frame
            .get("prefetch-count")
            .or_else(|| frame.get("activemq.prefetchSize"))
            .map(|v| {
                v.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("invalid prefetch {v:?}"))
            })
            .transpose()?
            .filter(|&n| n > 0)
            .unwrap_or(usize::MAX)
            .min(max_unacked);
        conn.subs.push(Subscription {
            id: sub_id.clone(),
            destination: destination.clone(),
            mode,
            prefetch,
            unacked: Default::default(),
        });
        let consumer = Consumer {
            conn: id,
            sub: sub_id,
        };
        if is_topic(&destination) {
            self.topics.entry(destination).or_default().push(consumer);
        } else {
            self.queues
                .entry(destination.clone())
                .or_default()
                .add_consumer(consumer);
            self.dispatch(&destination, now);
        }
        Ok(())
    }

    fn on_unsubscribe(&mut self, id: usize, frame: &Frame, now: Instant) -> Handled {
        let conn = self.conn_mut(id).ok_or("gone")?;
        let found = match frame.get(header::ID) {
            Some(s) => conn.sub_index(s),
            None if conn.version == Version::V1_0 => {
                let dest = frame
                    .destination()
                    .ok_or("UNSUBSCRIBE without id or destination")?;
                conn.subs.iter().position(|s| &*s.destination == dest)
            }
            None => return Err("UNSUBSCRIBE without id header".into()),
        };
        let i = found.ok_or("no such subscription")?;
        let sub = conn.subs.remove(i);
        self.detach(
            &sub.destination,
            &Consumer {
                conn: id,
                sub: sub.id.clone(),
            },
        );
        self.requeue(sub.unacked.into(), now);
        Ok(())
    }

    fn on_ack(&mut self, id: usize, frame: &Frame, nack: bool, now: Instant) -> Handled {
        let conn = self.conn_mut(id).ok_or("gone")?;
        let (sub, ack) = find_delivery(conn, frame).ok_or_else(|| {
            format!(
                "{} of a message that is not pending acknowledgement",
                frame.command()
            )
        })?;
        match frame.get(header::TRANSACTION) {
            Some(tx) => conn
                .txs
                .hold(tx, TxOp::Ack { sub, ack, nack })
                .map_err(|_| unknown_tx(tx)),
            None => {
                self.settle(id, &sub, ack, nack, now);
                Ok(())
            }
        }
    }

    /// Applies an ACK or NACK of delivery `ack` on subscription `sub`, if both still exist.
    fn settle(&mut self, id: usize, sub: &str, ack: u64, nack: bool, now: Instant) {
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        let Some(s) = conn.sub_index(sub).map(|i| &mut conn.subs[i]) else {
            return;
        };
        let cumulative = s.mode == AckMode::Client;
        let taken = s.take(ack, cumulative).unwrap_or_default();
        let dest = s.destination.clone();
        if nack {
            self.requeue(taken, now);
        } else if let Some(d) = self.durable.as_mut() {
            // ACKed: consumed.
            for seq in taken.iter().filter_map(|t| t.msg.durable) {
                d.remove(seq);
            }
        }
        self.dispatch(&dest, now);
    }

    fn on_begin(&mut self, id: usize, frame: &Frame) -> Handled {
        let tx = frame
            .get(header::TRANSACTION)
            .ok_or("BEGIN without transaction header")?;
        let conn = self.conn_mut(id).ok_or("gone")?;
        if !conn.txs.begin(tx) {
            return Err(format!("transaction {tx:?} is already open"));
        }
        Ok(())
    }

    fn on_end(&mut self, id: usize, frame: &Frame, commit: bool, now: Instant) -> Handled {
        let what = frame.command();
        let tx = frame
            .get(header::TRANSACTION)
            .ok_or(format!("{what} without transaction header"))?;
        let conn = self.conn_mut(id).ok_or("gone")?;
        let ops = conn.txs.end(tx).ok_or_else(|| unknown_tx(tx))?;
        if !commit {
            return Ok(());
        }
        let mut result = Ok(());
        for op in ops {
            match op {
                TxOp::Send(msg) => result = result.and(self.route(id, msg, now)),
                TxOp::Ack { sub, ack, nack } => self.settle(id, &sub, ack, nack, now),
            }
        }
        result
    }
}

/// A `destination` header's value, unless it is absent or empty (which names nothing).
fn destination(value: Option<&str>) -> Option<&str> {
    value.filter(|d| !d.is_empty())
}

fn unknown_tx(tx: &str) -> String {
    format!("unknown transaction {tx:?}")
}

/// Finds the delivery an ACK or NACK names: by the 1.2 `id` header (the MESSAGE's `ack`), or by
/// 1.0/1.1 `message-id`, optionally narrowed by `subscription`. A 1.2 `id` that is a
/// `message-id` instead (RabbitMQ makes the two equal, so clients get away with it there) finds
/// that message's pending delivery.
fn find_delivery(conn: &super::conn::Conn, frame: &Frame) -> Option<(Arc<str>, u64)> {
    let by_ack = |ack: u64| {
        conn.subs
            .iter()
            .find(|s| s.unacked.binary_search_by_key(&ack, |d| d.ack).is_ok())
            .map(|s| (s.id.clone(), ack))
    };
    let by_message = |msg_id: u64, wanted: Option<&str>| {
        conn.subs
            .iter()
            .filter(|s| wanted.is_none_or(|w| &*s.id == w))
            .find_map(|s| {
                s.unacked
                    .iter()
                    .find(|d| d.msg.id == msg_id)
                    .map(|d| (s.id.clone(), d.ack))
            })
    };
    let id = frame.get(header::ID);
    let ack_id = id.and_then(parse_ack_id);
    if conn.version == Version::V1_2 {
        return match ack_id {
            Some(ack) => by_ack(ack),
            None => by_message(id?.parse().ok()?, None),
        };
    }
    match frame.message_id().and_then(|v| v.parse::<u64>().ok()) {
        Some(msg_id) => by_message(msg_id, frame.subscription()),
        None => by_ack(ack_id?),
    }
}
