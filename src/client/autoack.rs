//! The auto-ACK the client owes: the message handed to the application last, ACKed when the
//! application comes back for the next one (or its callback returns), never before.

use crate::frame::{header, Command, Frame, FrameRef, Headers};
use crate::session::{AckIds, Session};

/// A message the client must still ACK because the application has seen it.
#[derive(Debug)]
pub(super) struct PendingAck {
    /// The message's headers, which hold what identifies it: a received frame's are shared,
    /// not copied (no allocation per message).
    pub(super) headers: Headers,
    pub(super) transaction: Option<String>,
    /// The connection it came on: on another one the ACK means nothing (the broker
    /// redelivers the message).
    pub(super) epoch: u64,
}

/// See the [module docs](self).
#[derive(Debug, Default)]
pub(super) struct AutoAcks {
    /// Due when the application next asks for a frame.
    pending: Option<PendingAck>,
    /// The ACK of the frame a `loop_with` callback is handling, due when it returns.
    in_callback: Option<PendingAck>,
}

impl PendingAck {
    /// What identifies the message.
    pub(super) fn ids(&self) -> AckIds<'_> {
        AckIds::of_headers(&self.headers)
    }
}

impl AutoAcks {
    /// Owes an ACK for `frame` if it is a MESSAGE of a subscription whose messages the
    /// client ACKs for the application, replacing any owed before (which the caller sent
    /// first). `owned`: the frame made, whose headers are kept (shared, not copied); a lent
    /// frame's identifiers are copied.
    #[inline]
    pub(super) fn track(
        &mut self,
        session: &Session,
        frame: FrameRef<'_>,
        owned: Option<&Frame>,
        transaction: Option<&str>,
        epoch: u64,
    ) {
        let auto = |s: &crate::Subscription| s.auto_ack && s.ack.needs_ack();
        if frame.command() != Command::Message || !session.message_is(frame, auto) {
            return;
        }
        let headers = match owned {
            Some(f) => f.headers().clone(),
            None => {
                let mut ids = Headers::with_capacity(3, 64);
                for name in [header::MESSAGE_ID, header::SUBSCRIPTION, header::ACK] {
                    if let Some(v) = frame.get(name) {
                        ids.push(name, v);
                    }
                }
                ids
            }
        };
        self.owe(headers, transaction, epoch);
    }

    /// Owes an ACK for the message whose headers are `headers`, replacing any owed before.
    fn owe(&mut self, headers: Headers, transaction: Option<&str>, epoch: u64) {
        self.pending = Some(PendingAck {
            headers,
            transaction: transaction.map(str::to_owned),
            epoch,
        });
    }

    /// True when an ACK is due now.
    #[inline]
    pub(super) fn has_due(&self) -> bool {
        self.pending.is_some()
    }

    /// The ACK due now, if any.
    pub(super) fn take_due(&mut self) -> Option<PendingAck> {
        self.pending.take()
    }

    /// Puts an ACK back as due (a transaction ACKs it on commit).
    pub(super) fn set_due(&mut self, ack: Option<PendingAck>) -> Option<PendingAck> {
        std::mem::replace(&mut self.pending, ack)
    }

    /// A callback starts with the frame just handed out: its ACK waits until it returns, so
    /// that a panic leaves the message un-ACKed and an ACK or NACK of its own cancels it.
    pub(super) fn enter_callback(&mut self) {
        self.in_callback = self.pending.take();
    }

    /// The callback returned: the ACK it left due, if it did not send its own.
    pub(super) fn leave_callback(&mut self) -> Option<PendingAck> {
        self.in_callback.take()
    }

    /// Forgets the owed ACKs for which `pred` holds.
    pub(super) fn cancel(&mut self, pred: impl Fn(&PendingAck) -> bool) {
        for slot in [&mut self.pending, &mut self.in_callback] {
            if slot.as_ref().is_some_and(&pred) {
                *slot = None;
            }
        }
    }

    /// Forgets the owed ACK of the message `ids` name (the application acknowledged it).
    pub(super) fn cancel_ids(&mut self, ids: AckIds<'_>) {
        self.cancel(|p| p.ids() == ids);
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

    fn msg(id: &str, sub: &str) -> Frame {
        Frame::new(Command::Message)
            .with_header(header::MESSAGE_ID, id)
            .with_header(header::SUBSCRIPTION, sub)
            .with_header(header::ACK, id)
    }

    #[test]
    fn the_last_message_handed_out_is_due_once() {
        let mut acks = AutoAcks::default();
        acks.owe(msg("1", "s").headers().clone(), None, 7);
        acks.owe(msg("2", "s").headers().clone(), Some("tx"), 7);
        assert!(acks.due_in("tx"));
        let due = acks.take_due().unwrap();
        assert_eq!(due.headers.get(header::MESSAGE_ID), Some("2"));
        assert_eq!(due.epoch, 7);
        assert!(acks.take_due().is_none());
        acks.owe(msg("3", "s").headers().clone(), None, 8);
        let due = acks.take_due().unwrap();
        assert_eq!(due.headers.get(header::MESSAGE_ID), Some("3"));
    }

    #[test]
    fn an_ack_of_its_own_cancels_what_a_callback_owes() {
        let mut acks = AutoAcks::default();
        let m = msg("1", "s");
        acks.owe(m.headers().clone(), None, 1);
        acks.enter_callback();
        assert!(
            acks.take_due().is_none(),
            "nothing is due while the callback runs"
        );
        acks.cancel_ids(AckIds::of(&m));
        assert!(acks.leave_callback().is_none());
        acks.owe(m.headers().clone(), None, 1);
        acks.enter_callback();
        assert!(acks.leave_callback().is_some());
    }

    #[test]
    fn cancel_and_clear_forget() {
        let mut acks = AutoAcks::default();
        acks.owe(msg("1", "gone").headers().clone(), None, 1);
        acks.cancel(|p| p.ids().subscription() == Some(&b"gone"[..]));
        assert!(acks.take_due().is_none());
        acks.owe(msg("2", "s").headers().clone(), None, 1);
        acks.clear();
        assert!(acks.take_due().is_none());
    }
}
