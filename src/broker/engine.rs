//! The broker's sans-IO core: every connection's protocol state plus the destinations, fed
//! bytes and time, emitting bytes per connection. The server in `server.rs` only moves bytes
//! between sockets and this engine; tests drive it directly.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use super::conn::{Conn, Delivery, Phase, READ_PAUSE};
use super::queue::{is_topic, Consumer, Message, Pending, Queue};
use super::store::{is_persistent, Durable};
use crate::codec::{Item, Limits};

/// The broker's settings.
/// The shortest heart-beat interval the broker agrees to by default: a client that asks for
/// 1 ms gets 100 ms (RabbitMQ's floor is 1 s; 100 ms keeps fast failure detection possible).
pub(crate) const DEFAULT_HEART_BEAT_FLOOR_MS: u64 = 100;

/// The longest by default: a day.
pub(crate) const DEFAULT_HEART_BEAT_CEILING_MS: u64 = 86_400_000;

#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// login → passcode; empty: any login is accepted.
    pub(crate) users: HashMap<String, String>,
    pub(crate) max_queue_len: usize,
    /// Most bytes one queue holds before its senders pause.
    pub(crate) max_queue_bytes: usize,
    /// Most subscriptions one connection may hold.
    pub(crate) max_subscriptions: usize,
    /// Most un-ACKed messages one subscription is given (also when its `prefetch-count` asks
    /// for more, or for none).
    pub(crate) max_unacked: usize,
    /// The heart-beat intervals the broker agrees to, in ms: (floor, ceiling). A client's
    /// wish is clamped into this range; a client that asks for none gets none.
    pub(crate) heart_beat: (u64, u64),
    pub(crate) limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            users: HashMap::new(),
            max_queue_len: 100_000,
            max_queue_bytes: 64 * 1024 * 1024,
            max_subscriptions: 10_000,
            max_unacked: 10_000,
            heart_beat: (DEFAULT_HEART_BEAT_FLOOR_MS, DEFAULT_HEART_BEAT_CEILING_MS),
            limits: Limits::default(),
        }
    }
}

/// Queued messages that outlive a broker run.
#[derive(Debug, Default)]
pub(crate) struct Stored {
    pub(crate) queues: Vec<(Arc<str>, VecDeque<Pending>)>,
    pub(crate) next_msg: u64,
    /// The id of the store whose records the messages' `durable` numbers name, if any.
    pub(crate) store_id: Option<u128>,
}

/// Topic output above this many bytes makes the broker drop topic messages for that connection.
const TOPIC_DROP_WATER: usize = 16 * super::conn::HIGH_WATER;

/// All connections and destinations.
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) cfg: Config,
    pub(super) conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    pub(super) queues: HashMap<Arc<str>, Queue>,
    pub(super) topics: HashMap<Arc<str>, Vec<Consumer>>,
    pub(super) next_msg: u64,
    next_session: u64,
    /// The data directory's store, when the broker has one (persistent messages).
    pub(super) durable: Option<Durable>,
    /// Without a store: the store the messages' `durable` numbers came from (a hand-over
    /// from a broker with a data directory), handed on by [`Engine::into_stored`].
    origin_store: Option<u128>,
}

impl Engine {
    /// An engine holding `stored` messages, without a store.
    #[cfg(test)]
    pub(crate) fn new(cfg: Config, stored: Stored) -> Self {
        Self::with_store(cfg, stored, None)
    }

    /// An engine holding `stored` messages, keeping persistent ones in `durable` (see
    /// `store::recover`, which makes both).
    pub(crate) fn with_store(cfg: Config, stored: Stored, durable: Option<Durable>) -> Self {
        let mut queues = HashMap::new();
        for (name, messages) in stored.queues {
            let q: &mut Queue = queues.entry(name).or_default();
            for p in messages {
                q.push_back(p);
            }
        }
        Engine {
            cfg,
            conns: Vec::new(),
            free: Vec::new(),
            queues,
            topics: HashMap::new(),
            next_msg: stored.next_msg.max(1),
            next_session: 1,
            origin_store: stored.store_id.filter(|_| durable.is_none()),
            durable,
        }
    }

    /// The end of a turn, before any output is written: writes the persistent messages that
    /// entered queues and those consumed since the last commit, in one durable transaction
    /// (group commit), then lets out the output that waited for it (the RECEIPTs of the frames
    /// that changed the store). A failed commit closes those connections with an ERROR
    /// instead; what waited is not sent. Without a store, nothing to do.
    pub(crate) fn commit(&mut self, now: Instant) {
        let Some(d) = self.durable.as_mut() else {
            return;
        };
        if !d.is_dirty() {
            return;
        }
        let result = d.commit();
        let mut held = std::mem::take(&mut d.held);
        if let Err(e) = &result {
            log::error!("broker store {}: commit failed: {e}", d.path().display());
        }
        for &id in &held {
            let Some(conn) = self.conn_mut(id) else {
                continue;
            };
            match &result {
                Ok(()) => conn.release_output(),
                Err(e) => {
                    let text = format!("persistent messages could not be stored: {e}");
                    conn.fail_held_output(&text, now);
                }
            }
        }
        held.clear();
        if let Some(d) = self.durable.as_mut() {
            d.held = held; // keeps the allocation
        }
    }

    /// True when [`Engine::commit`] has work: the server then turns again without waiting.
    pub(crate) fn needs_commit(&self) -> bool {
        self.durable.as_ref().is_some_and(Durable::is_dirty)
    }

    /// How many changes the store has seen (`None`: no store); see [`Engine::hold_output`].
    pub(super) fn store_changes(&self) -> Option<u64> {
        self.durable.as_ref().map(Durable::changes)
    }

    /// Makes connection `id`'s output from `mark` on wait for the next commit.
    pub(super) fn hold_output(&mut self, id: usize, mark: usize) {
        let (Some(conn), Some(d)) = (self.conns.get_mut(id), self.durable.as_mut()) else {
            return;
        };
        if conn.as_mut().is_some_and(|c| c.hold_output_from(mark)) {
            d.held.push(id);
        }
    }

    /// Registers a new connection; returns its id.
    pub(crate) fn open(&mut self, now: Instant) -> usize {
        let conn = Conn::new(self.next_session, self.cfg.limits, now);
        self.next_session += 1;
        match self.free.pop() {
            Some(id) => {
                self.conns[id] = Some(conn);
                id
            }
            None => {
                self.conns.push(Some(conn));
                self.conns.len() - 1
            }
        }
    }

    /// The connection `id`, if open.
    pub(crate) fn conn(&self, id: usize) -> Option<&Conn> {
        self.conns.get(id)?.as_ref()
    }

    /// The connection `id`, if open.
    pub(crate) fn conn_mut(&mut self, id: usize) -> Option<&mut Conn> {
        self.conns.get_mut(id)?.as_mut()
    }

    /// Ids of every open connection.
    pub(crate) fn conn_ids(&self) -> Vec<usize> {
        (0..self.conns.len())
            .filter(|&i| self.conns[i].is_some())
            .collect()
    }

    /// Handles every complete frame the connection's decoder holds.
    pub(crate) fn process(&mut self, id: usize, now: Instant) {
        loop {
            let Some(conn) = self.conn_mut(id) else {
                return;
            };
            if conn.phase == Phase::Closing {
                return;
            }
            if conn.blocked_on.is_some() && !self.may_read(id) {
                return;
            }
            let Some(conn) = self.conn_mut(id) else {
                return;
            };
            match conn.decoder.decode() {
                Ok(None) => {
                    conn.decoder.release_idle();
                    return;
                }
                Ok(Some(Item::HeartBeat)) => {}
                Ok(Some(Item::Frame(f))) => self.handle_frame(id, f, now),
                Err(e) => conn.send_error(&e.to_string(), None, now),
            }
        }
    }

    /// Forgets connection `id`: its un-ACKed queue messages go back to their queues as
    /// redelivered, its transactions are dropped.
    pub(crate) fn close(&mut self, id: usize, now: Instant) {
        let Some(mut conn) = self.conns.get_mut(id).and_then(Option::take) else {
            return;
        };
        self.free.push(id);
        for sub in std::mem::take(&mut conn.subs) {
            let consumer = Consumer {
                conn: id,
                sub: sub.id.clone(),
            };
            self.detach(&sub.destination, &consumer);
            self.requeue(sub.unacked.into(), now);
        }
    }

    /// Removes `consumer` from `destination`.
    pub(super) fn detach(&mut self, destination: &str, consumer: &Consumer) {
        if is_topic(destination) {
            if let Some(subs) = self.topics.get_mut(destination) {
                subs.retain(|c| c != consumer);
                if subs.is_empty() {
                    self.topics.remove(destination);
                }
            }
        } else if let Some(q) = self.queues.get_mut(destination) {
            q.remove_consumer(consumer);
            if q.is_unused() {
                self.queues.remove(destination);
            }
        }
    }

    /// Puts un-ACKed queue deliveries back at the head of their queues, flagged redelivered,
    /// in their original order, and delivers again. Topic messages are dropped.
    pub(super) fn requeue(&mut self, deliveries: Vec<Delivery>, now: Instant) {
        let mut touched: Vec<Arc<str>> = Vec::new();
        for d in deliveries.into_iter().rev() {
            if is_topic(&d.msg.destination) {
                continue;
            }
            let dest = d.msg.destination.clone();
            let q = self.queues.entry(dest.clone()).or_default();
            q.push_front(Pending {
                msg: d.msg,
                redelivered: true,
            });
            if !touched.contains(&dest) {
                touched.push(dest);
            }
        }
        for dest in touched {
            self.dispatch(&dest, now);
        }
    }

    /// Sends a queue's messages to its consumers, round-robin, while some consumer has room.
    pub(super) fn dispatch(&mut self, dest: &str, now: Instant) {
        let Some(q) = self.queues.get_mut(dest) else {
            return;
        };
        let conns = &mut self.conns;
        let mut durable = self.durable.as_mut();
        while !q.messages.is_empty() {
            let ready = |c: &Consumer| match conns[c.conn].as_mut() {
                Some(conn) if !conn.can_deliver() => {
                    conn.starved = true;
                    false
                }
                Some(conn) => conn
                    .sub_index(&c.sub)
                    .is_some_and(|i| conn.subs[i].has_room()),
                None => false,
            };
            let Some(c) = q.next_consumer(ready) else {
                return;
            };
            let (Some(p), Some(conn)) = (q.pop_front(), conns[c.conn].as_mut()) else {
                return;
            };
            if let Some(i) = conn.sub_index(&c.sub) {
                let consumed = p.msg.durable.filter(|_| !conn.subs[i].mode.needs_ack());
                conn.deliver(i, p, now);
                // Delivered in auto mode: consumed.
                if let (Some(seq), Some(d)) = (consumed, durable.as_mut()) {
                    d.remove(seq);
                }
            }
        }
    }

    /// Routes a message from connection `from` to a topic's current subscribers, or to its
    /// queue. A queue at `max_queue_len` stops the broker handling `from`'s input until the
    /// queue drains below that (producer flow control).
    pub(super) fn route(&mut self, from: usize, msg: Message, now: Instant) -> Result<(), String> {
        let dest = msg.destination.clone();
        if is_topic(&dest) {
            self.fan_out(Arc::new(msg), now);
            return Ok(());
        }
        let mut msg = msg;
        // A persistent message is kept from this turn's commit on, in queue order.
        let durable = self
            .durable
            .as_mut()
            .filter(|_| is_persistent(&msg.headers));
        let msg = match durable {
            Some(d) => {
                msg.durable = Some(d.next_seq());
                let msg = Arc::new(msg);
                d.put(msg.clone());
                msg
            }
            None => Arc::new(msg),
        };
        let q = self.queues.entry(dest.clone()).or_default();
        q.push_back(Pending {
            msg,
            redelivered: false,
        });
        self.dispatch(&dest, now);
        if self.queue_full(&dest) {
            if let Some(conn) = self.conn_mut(from) {
                conn.blocked_on = Some(dest);
            }
        }
        Ok(())
    }

    /// True when the queue holds `max_queue_len` messages or `max_queue_bytes` bytes.
    fn queue_full(&self, dest: &str) -> bool {
        self.queues.get(dest).is_some_and(|q| {
            q.messages.len() >= self.cfg.max_queue_len.max(1)
                || q.bytes >= self.cfg.max_queue_bytes.max(1)
        })
    }

    /// False while the connection's last SEND filled a queue that has not drained below
    /// `max_queue_len`: the server then leaves its input unread (producer flow control).
    pub(crate) fn may_read(&self, id: usize) -> bool {
        let blocked = self.conn(id).and_then(|c| c.blocked_on.as_deref());
        blocked.is_none_or(|d| !self.queue_full(d))
    }

    /// Connections whose flow-control block was lifted since the last call (their queue
    /// drained): the caller must [`Engine::process`] them, as frames may wait in their decoder.
    pub(crate) fn unblocked(&mut self) -> Vec<usize> {
        let ids = self.conn_ids().into_iter();
        let lifted: Vec<usize> = ids.filter(|&id| self.is_unblocked(id)).collect();
        for &id in &lifted {
            if let Some(c) = self.conns[id].as_mut() {
                c.blocked_on = None;
            }
        }
        lifted
    }

    /// True when the connection was blocked and may go on now.
    pub(crate) fn is_unblocked(&self, id: usize) -> bool {
        self.conn(id).is_some_and(|c| c.blocked_on.is_some()) && self.may_read(id)
    }

    fn fan_out(&mut self, msg: Arc<Message>, now: Instant) {
        let Some(subs) = self.topics.get(&msg.destination) else {
            return;
        };
        for c in subs {
            let Some(conn) = self.conns[c.conn].as_mut() else {
                continue;
            };
            if conn.phase != Phase::Open || conn.pending_output() > TOPIC_DROP_WATER {
                continue;
            }
            if let Some(i) = conn.sub_index(&c.sub).filter(|&i| conn.subs[i].has_room()) {
                conn.deliver(
                    i,
                    Pending {
                        msg: msg.clone(),
                        redelivered: false,
                    },
                    now,
                );
            }
        }
    }

    /// A shared name for `dest`, reusing the queue's or topic's when it exists.
    pub(super) fn intern(&self, dest: &str) -> Arc<str> {
        if let Some((k, _)) = self.queues.get_key_value(dest) {
            return k.clone();
        }
        match self.topics.get_key_value(dest) {
            Some((k, _)) => k.clone(),
            None => Arc::from(dest),
        }
    }

    /// Call after the connection's output was written: resumes deliveries that waited for room.
    pub(crate) fn handle_drained(&mut self, id: usize, now: Instant) {
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        if !conn.starved || !conn.can_deliver() {
            return;
        }
        conn.starved = false;
        let dests: Vec<Arc<str>> = conn.subs.iter().map(|s| s.destination.clone()).collect();
        for d in dests {
            self.dispatch(&d, now);
        }
    }

    /// Sends due heart-beats; returns the connections that have been silent too long.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Vec<usize> {
        let mut dead = Vec::new();
        for id in self.conn_ids() {
            let blocked = !self.may_read(id);
            let Some(conn) = self.conns[id].as_mut() else {
                continue;
            };
            if blocked || conn.pending_output() >= READ_PAUSE {
                // Its input is left unread on purpose (flow control, or a client that is
                // behind with reading): that is not silence.
                conn.heartbeat.on_recv(now);
            }
            if conn.heartbeat.overdue(now).is_some() {
                dead.push(id);
            } else if conn.heartbeat.wants_send(now) {
                conn.send_heartbeat(now);
            }
        }
        dead
    }

    /// The next instant at which [`Engine::handle_timeout`] has work.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.conns
            .iter()
            .flatten()
            .filter_map(|c| c.heartbeat.next_deadline())
            .min()
    }

    /// Closes every connection (un-ACKed messages return to their queues), commits and closes
    /// the store, and returns what the queues hold.
    pub(crate) fn into_stored(mut self, now: Instant) -> Stored {
        for id in self.conn_ids() {
            self.close(id, now);
        }
        self.commit(now);
        let store_id = self.durable.take().map(|d| d.id()).or(self.origin_store);
        let queues = self
            .queues
            .into_iter()
            .filter(|(_, q)| !q.messages.is_empty())
            .map(|(name, q)| (name, q.messages))
            .collect();
        Stored {
            queues,
            next_msg: self.next_msg,
            store_id,
        }
    }
}
