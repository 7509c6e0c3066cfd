//! Stored messages and the destinations that hold them: queues keep messages until a consumer
//! takes them, topics only know their current subscribers.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::frame::Headers;

/// A message as the broker stores it: what the sender sent, minus the headers that only
/// concerned the SEND (`destination`, `transaction`, `receipt`, `content-length`).
#[derive(Debug)]
pub(crate) struct Message {
    /// Broker-wide unique id, written as the `message-id` header.
    pub(crate) id: u64,
    pub(crate) destination: Arc<str>,
    pub(crate) headers: Headers,
    pub(crate) body: Vec<u8>,
    /// Its record in the broker's store (see `store.rs`): a persistent queue message of a
    /// broker with a data directory. The sequence number also orders the queue on recovery.
    pub(crate) durable: Option<u64>,
}

/// A message waiting in a queue.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) msg: Arc<Message>,
    /// True once it was delivered and came back un-ACKed.
    pub(crate) redelivered: bool,
}

/// Which subscription of which connection consumes from a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Consumer {
    pub(crate) conn: usize,
    pub(crate) sub: Arc<str>,
}

/// True when `destination` names a topic (fan-out); every other name is a queue.
pub(crate) fn is_topic(destination: &str) -> bool {
    destination.starts_with("/topic/")
}

/// A queue: pending messages (oldest first) and competing consumers served round-robin.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    /// Change only through [`Queue::push_back`], [`Queue::push_front`] and
    /// [`Queue::pop_front`], which keep `bytes`.
    pub(crate) messages: VecDeque<Pending>,
    /// What the messages hold, about: bodies, headers and bookkeeping.
    pub(crate) bytes: usize,
    pub(crate) consumers: Vec<Consumer>,
    /// Index in `consumers` of the next one to try.
    cursor: usize,
}

/// The bytes a queued message accounts for.
fn size_of(p: &Pending) -> usize {
    p.msg.body.len() + p.msg.headers.byte_len() + 128
}

impl Queue {
    /// Adds a message at the tail.
    pub(crate) fn push_back(&mut self, p: Pending) {
        self.bytes += size_of(&p);
        self.messages.push_back(p);
    }

    /// Puts a message back at the head (a redelivery).
    pub(crate) fn push_front(&mut self, p: Pending) {
        self.bytes += size_of(&p);
        self.messages.push_front(p);
    }

    /// Takes the message at the head.
    pub(crate) fn pop_front(&mut self) -> Option<Pending> {
        let p = self.messages.pop_front()?;
        self.bytes -= size_of(&p);
        Some(p)
    }

    /// Adds a consumer at the end of the round.
    pub(crate) fn add_consumer(&mut self, c: Consumer) {
        self.consumers.push(c);
    }

    /// Removes a consumer; keeps the round where it was.
    pub(crate) fn remove_consumer(&mut self, c: &Consumer) {
        if let Some(i) = self.consumers.iter().position(|x| x == c) {
            self.consumers.remove(i);
            if self.cursor > i {
                self.cursor -= 1;
            }
            if self.cursor >= self.consumers.len() {
                self.cursor = 0;
            }
        }
    }

    /// The first consumer, starting at the cursor, for which `ready` holds; moves the cursor
    /// past it.
    pub(crate) fn next_consumer(
        &mut self,
        mut ready: impl FnMut(&Consumer) -> bool,
    ) -> Option<Consumer> {
        let n = self.consumers.len();
        for i in 0..n {
            let idx = (self.cursor + i) % n;
            if ready(&self.consumers[idx]) {
                self.cursor = (idx + 1) % n;
                return Some(self.consumers[idx].clone());
            }
        }
        None
    }

    /// True when the queue holds nothing and nobody consumes from it (it can be forgotten).
    pub(crate) fn is_unused(&self) -> bool {
        self.messages.is_empty() && self.consumers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(conn: usize) -> Consumer {
        Consumer {
            conn,
            sub: "s".into(),
        }
    }

    #[test]
    fn round_robin_skips_busy_consumers() {
        let mut q = Queue::default();
        for i in 0..3 {
            q.add_consumer(c(i));
        }
        let order: Vec<usize> = (0..4)
            .map(|_| q.next_consumer(|_| true).unwrap().conn)
            .collect();
        assert_eq!(order, [0, 1, 2, 0]);
        assert_eq!(q.next_consumer(|x| x.conn != 1).unwrap().conn, 2);
        assert!(q.next_consumer(|_| false).is_none());
    }

    #[test]
    fn removing_a_consumer_keeps_the_round() {
        let mut q = Queue::default();
        for i in 0..3 {
            q.add_consumer(c(i));
        }
        q.next_consumer(|_| true);
        q.next_consumer(|_| true); // cursor now at 2
        q.remove_consumer(&c(0));
        assert_eq!(q.next_consumer(|_| true).unwrap().conn, 2);
        q.remove_consumer(&c(2));
        assert_eq!(q.next_consumer(|_| true).unwrap().conn, 1);
        assert!(!q.is_unused());
    }

    #[test]
    fn topics_are_named_by_prefix() {
        assert!(is_topic("/topic/a"));
        assert!(!is_topic("/queue/a"));
        assert!(!is_topic("plain"));
    }
}
