//! The auto-ACK the client owes: the message handed to the application last, ACKed when the
//! application comes back for the next one (or its callback returns), never before.

use crate::codec::encode_ack_1_2;
use crate::frame::{header, Command, FrameRef, Version};
use crate::session::{auto_acked, AckIds, Session};

/// What identifies a message, copied out of it (the frame may be a lent one, gone by the time
/// the ACK is sent): the value its ACK names it by in the session's version (`ack`, or
/// `message-id` where the broker sent none, in 1.2; `message-id` before), then its
/// `subscription`. The buffer is reused from message to message.
///
/// In 1.2 the ACK itself is written first, as it will be sent ([`Ids::wire`]): sending it is
/// then a copy, and the id is read from it when escaping left it as it was (the usual case).
#[derive(Debug)]
pub(super) struct Ids {
    bytes: Vec<u8>,
    /// Where each value lies in `bytes`, or `None` when the message had no such header.
    spans: [Option<(u32, u32)>; 2],
    /// `bytes[..wire]` is the encoded 1.2 ACK (0: none).
    wire: u32,
    version: Version,
}

impl Default for Ids {
    fn default() -> Self {
        Ids {
            bytes: Vec::new(),
            spans: [None; 2],
            wire: 0,
            version: Version::V1_2,
        }
    }
}

impl Ids {
    /// Keeps `values` (the id, the subscription) of a message received in `version`, and in
    /// 1.2 the ACK that names it (in transaction `tx`).
    #[inline]
    fn fill(&mut self, version: Version, values: [Option<&[u8]>; 2], tx: Option<&str>) {
        self.version = version;
        self.bytes.clear();
        self.wire = 0;
        let [id, sub] = values;
        if let (Version::V1_2, Some(id)) = (version, id) {
            let written = encode_ack_1_2(Command::Ack, id, tx.map(str::as_bytes), &mut self.bytes);
            self.wire = self.bytes.len() as u32;
            // Escaping only lengthens: at the same length, the id is there as it was.
            if written.len() == id.len() {
                let id = (written.start as u32, written.end as u32);
                self.spans = [Some(id), sub.map(|v| self.push(v))];
                return;
            }
        }
        self.spans = values.map(|v| v.map(|v| self.push(v)));
    }

    /// Appends `v`; returns where it lies.
    #[inline]
    fn push(&mut self, v: &[u8]) -> (u32, u32) {
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(v);
        (start, self.bytes.len() as u32)
    }

    /// The 1.2 ACK, encoded when the message was handed out.
    #[inline]
    pub(super) fn wire(&self) -> Option<&[u8]> {
        (self.wire > 0).then(|| &self.bytes[..self.wire as usize])
    }

    /// Value `i` of [`Ids::fill`]'s.
    #[inline]
    fn get(&self, i: usize) -> Option<&[u8]> {
        let (start, end) = self.spans[i]?;
        self.bytes.get(start as usize..end as usize)
    }

    /// The identifiers, borrowed.
    pub(super) fn ids(&self) -> AckIds<'_> {
        let (id, sub) = (self.get(0), self.get(1));
        match self.version {
            Version::V1_2 => AckIds::new(None, sub, id),
            _ => AckIds::new(id, sub, None),
        }
    }
}

/// A message the client must still ACK because the application has seen it. Boxed and reused
/// from message to message: handing one on moves a pointer.
#[derive(Debug, Default)]
pub(super) struct PendingAck {
    /// What identifies the message.
    pub(super) ids: Ids,
    pub(super) transaction: Option<String>,
    /// The connection it came on: on another one the ACK means nothing (the broker
    /// redelivers the message).
    pub(super) epoch: u64,
}

/// See the [module docs](self).
#[derive(Debug, Default)]
pub(super) struct AutoAcks {
    /// Due when the application next asks for a frame.
    pending: Option<Box<PendingAck>>,
    /// The ACK of the frame a `loop_with` callback is handling, due when it returns.
    in_callback: Option<Box<PendingAck>>,
    /// An ACK sent, for the next one.
    spare: Option<Box<PendingAck>>,
}

impl PendingAck {
    /// What identifies the message.
    pub(super) fn ids(&self) -> AckIds<'_> {
        self.ids.ids()
    }
}

impl AutoAcks {
    /// Owes an ACK for `frame` if it is a MESSAGE of a subscription whose messages the
    /// client ACKs for the application, replacing any owed before (which the caller sent
    /// first).
    pub(super) fn track(
        &mut self,
        session: &Session,
        frame: FrameRef<'_>,
        transaction: Option<&str>,
        epoch: u64,
    ) {
        if frame.command() != Command::Message {
            return;
        }
        let sub = frame.get_bytes(header::SUBSCRIPTION);
        if session.message_is_of(sub, || frame.destination(), auto_acked) {
            self.owe_for(frame, session.version(), sub, transaction, epoch);
        }
    }

    /// Owes an ACK for `message` (received in `version`, its `subscription` header `sub`),
    /// replacing any owed before (which the caller sent first). What identifies it is copied:
    /// the frame may be a lent one.
    #[inline(never)]
    pub(super) fn owe_for(
        &mut self,
        message: FrameRef<'_>,
        version: Version,
        sub: Option<&[u8]>,
        transaction: Option<&str>,
        epoch: u64,
    ) {
        let headers = message.headers();
        let id = match version {
            Version::V1_2 => headers.get_bytes(header::ACK),
            _ => None,
        };
        let id = id.or_else(|| headers.get_bytes(header::MESSAGE_ID));
        let values = [id, sub];
        self.owe(version, values, transaction, epoch);
    }

    /// Owes an ACK for the message `values` (its id and subscription, see [`Ids`]) identify,
    /// replacing any owed before.
    #[inline]
    fn owe(
        &mut self,
        version: Version,
        values: [Option<&[u8]>; 2],
        transaction: Option<&str>,
        epoch: u64,
    ) {
        let mut new = self.spare.take().unwrap_or_default();
        new.ids.fill(version, values, transaction);
        match (transaction, &mut new.transaction) {
            (Some(tx), Some(kept)) => tx.clone_into(kept),
            (tx, kept) => *kept = tx.map(str::to_owned),
        }
        new.epoch = epoch;
        if let Some(old) = self.pending.replace(new) {
            self.spare = Some(old);
        }
    }

    /// Takes back an ACK that was sent (or dropped), for the next one.
    #[inline]
    pub(super) fn recycle(&mut self, ack: Box<PendingAck>) {
        self.spare = Some(ack);
    }

    /// True when an ACK is due now.
    #[inline]
    pub(super) fn has_due(&self) -> bool {
        self.pending.is_some()
    }

    /// The ACK due now, if any.
    pub(super) fn take_due(&mut self) -> Option<Box<PendingAck>> {
        self.pending.take()
    }

    /// Puts an ACK back as due (a transaction ACKs it on commit).
    pub(super) fn set_due(&mut self, ack: Option<Box<PendingAck>>) -> Option<Box<PendingAck>> {
        std::mem::replace(&mut self.pending, ack)
    }

    /// A callback starts with the frame just handed out: its ACK waits until it returns, so
    /// that a panic leaves the message un-ACKed and an ACK or NACK of its own cancels it.
    pub(super) fn enter_callback(&mut self) {
        self.in_callback = self.pending.take();
    }

    /// The callback returned: the ACK it left due, if it did not send its own.
    pub(super) fn leave_callback(&mut self) -> Option<Box<PendingAck>> {
        self.in_callback.take()
    }

    /// Forgets the owed ACKs for which `pred` holds.
    pub(super) fn cancel(&mut self, pred: impl Fn(&PendingAck) -> bool) {
        for slot in [&mut self.pending, &mut self.in_callback] {
            if slot.as_deref().is_some_and(&pred) {
                *slot = None;
            }
        }
    }

    /// Forgets the owed ACK of the message `ids` name (the application acknowledged it).
    pub(super) fn cancel_ids(&mut self, ids: AckIds<'_>) {
        self.cancel(|p| p.ids().same_message(ids, p.ids.version));
    }

    /// Forgets every owed ACK (a connection was lost, or the client disconnects).
    pub(super) fn clear(&mut self) {
        self.pending = None;
        self.in_callback = None;
    }

    /// True when the due ACK joins transaction `tx`.
    pub(super) fn due_in(&self, tx: &str) -> bool {
        let p = self.pending.as_ref();
        p.is_some_and(|p| p.transaction.as_deref() == Some(tx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owe(acks: &mut AutoAcks, id: &str, sub: &str, tx: Option<&str>, epoch: u64) {
        let values = [Some(id.as_bytes()), Some(sub.as_bytes())];
        acks.owe(Version::V1_2, values, tx, epoch);
    }

    #[test]
    fn ids_keep_each_value_and_each_absence() {
        let mut ids = Ids::default();
        for values in [
            [Some(&b"m-1"[..]), Some(b"s")],
            [None, Some(b"sub")],
            [Some(b""), None],
            [None, None],
        ] {
            for version in [Version::V1_0, Version::V1_2] {
                ids.fill(version, values, None);
                assert_eq!([ids.get(0), ids.get(1)], values);
                let want = match version {
                    Version::V1_2 => AckIds::new(None, values[1], values[0]),
                    _ => AckIds::new(values[0], values[1], None),
                };
                assert!(ids.ids() == want);
            }
        }
    }

    #[test]
    fn the_last_message_handed_out_is_due_once() {
        let mut acks = AutoAcks::default();
        owe(&mut acks, "1", "s", None, 7);
        owe(&mut acks, "2", "s", Some("tx"), 7);
        assert!(acks.due_in("tx"));
        let due = acks.take_due().unwrap();
        assert_eq!(due.ids().subscription(), Some(&b"s"[..]));
        assert_eq!(due.ids.get(0), Some(&b"2"[..]));
        assert_eq!(due.epoch, 7);
        acks.recycle(due);
        assert!(acks.take_due().is_none());
        owe(&mut acks, "3", "s", None, 8);
        let due = acks.take_due().unwrap();
        assert_eq!(due.ids.get(0), Some(&b"3"[..]));
    }

    #[test]
    fn an_ack_of_its_own_cancels_what_a_callback_owes() {
        let mut acks = AutoAcks::default();
        owe(&mut acks, "1", "s", None, 1);
        acks.enter_callback();
        assert!(
            acks.take_due().is_none(),
            "nothing is due while the callback runs"
        );
        // As the application's own ACK names it: from the frame's three headers.
        acks.cancel_ids(AckIds::new(Some(b"m-1"), Some(b"s"), Some(b"1")));
        assert!(acks.leave_callback().is_none());
        owe(&mut acks, "1", "s", None, 1);
        acks.enter_callback();
        assert!(acks.leave_callback().is_some());
    }

    #[test]
    fn the_ids_kept_name_the_message_as_the_version_does() {
        use Version::{V1_1, V1_2};
        let f = |m: &'static [u8], a: Option<&'static [u8]>| AckIds::new(Some(m), Some(b"s"), a);
        let other_sub = AckIds::new(Some(b"m-1"), Some(b"t"), None);
        // (version, the id kept, the ids of another frame, the same message?)
        let cases: [(_, Option<&[u8]>, _, _); 7] = [
            (V1_1, Some(b"m-1"), f(b"m-1", Some(b"a-9")), true),
            (V1_1, Some(b"m-1"), other_sub, false),
            (V1_1, Some(b"m-1"), f(b"m-2", Some(b"a-9")), false),
            (V1_2, Some(b"a-9"), f(b"m-1", Some(b"a-9")), true),
            (V1_2, Some(b"a-9"), f(b"a-9", Some(b"a-8")), false),
            // Without `ack`, 1.2 names a message by its `message-id`.
            (V1_2, Some(b"a-9"), f(b"a-9", None), true),
            (V1_2, None, AckIds::new(None, Some(b"s"), None), false),
        ];
        let mut ids = Ids::default();
        for (version, id, other, same) in cases {
            ids.fill(version, [id, Some(b"s")], None);
            assert_eq!(ids.ids().same_message(other, version), same, "{other:?}");
        }
    }

    #[test]
    fn cancel_and_clear_forget() {
        let mut acks = AutoAcks::default();
        owe(&mut acks, "1", "gone", None, 1);
        acks.cancel(|p| p.ids().subscription() == Some(&b"gone"[..]));
        assert!(acks.take_due().is_none());
        owe(&mut acks, "2", "s", None, 1);
        acks.clear();
        assert!(acks.take_due().is_none());
    }
}
