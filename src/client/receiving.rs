//! Receiving: `recv`, iterators, `loop_with`, auto-ACK, explicit ACK/NACK, receipts.

use std::ops::ControlFlow;

use super::driver::Turn;
use super::*;

impl StompClient {
    // ---- receiving -----------------------------------------------------------------------

    /// The next frame: `Ok(None)` when the connection closed cleanly (see
    /// [`StompClient::close_reason`]).
    ///
    /// Before waiting, the client ACKs the message it handed out last, if its subscription
    /// is in a client ack mode with auto-ACK on: the application has come back, so it is done
    /// with it. RECEIPT frames never come out of here; they complete receipt waits.
    ///
    /// # Errors
    /// [`Error::Broker`] for an ERROR frame, [`Error::Io`] / [`Error::Protocol`] / a
    /// heart-beat [`Timeout`] when the connection failed (then, with auto-reconnect on, the
    /// client reconnects instead and goes on waiting).
    pub fn recv(&mut self) -> Result<Option<Frame>, Error> {
        self.recv_inner(None, None)
    }

    /// Like [`StompClient::recv`], waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] with [`Timeout::Recv`] when no frame came in time: the connection
    /// stays usable. Otherwise as [`StompClient::recv`].
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Frame>, Error> {
        self.recv_inner(Some(timeout), None)
    }

    /// The next frame, lent: read in place in the buffer it arrived in, with nothing copied or
    /// allocated for it. It is valid until the next call on the client: the fastest way to
    /// consume, for loops that read each frame and let it go (make a [`Frame`] of one to keep
    /// with [`FrameRef::to_frame`]). Otherwise as [`StompClient::recv`]: the same frames, in
    /// the same order, the same auto-ACKs and errors.
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let mut client = stompy::StompClient::connect(broker.addr())?;
    /// use stompy::AckMode;
    /// client.subscribe("/queue/ticks", AckMode::Auto)?;
    /// for n in 1..=3 {
    ///     client.send("/queue/ticks", n.to_string())?;
    /// }
    /// let mut total = 0;
    /// while let Some(frame) = client.recv_ref()? {
    ///     total += frame.text()?.parse::<u32>().unwrap();
    ///     if total == 6 {
    ///         break;
    ///     }
    /// }
    /// assert_eq!(total, 6);
    /// # Ok::<(), stompy::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`StompClient::recv`].
    pub fn recv_ref(&mut self) -> Result<Option<FrameRef<'_>>, Error> {
        self.recv_ref_inner(None)
    }

    /// Like [`StompClient::recv_ref`], waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`StompClient::recv_timeout`].
    pub fn recv_ref_timeout(&mut self, timeout: Duration) -> Result<Option<FrameRef<'_>>, Error> {
        self.recv_ref_inner(Some(timeout))
    }

    #[inline(always)]
    fn recv_ref_inner(&mut self, timeout: Option<Duration>) -> Result<Option<FrameRef<'_>>, Error> {
        self.lent = None;
        Ok(match self.next_for_app(timeout, None)? {
            None => None,
            Some(Got::Lent) => Some(self.session.lend()),
            Some(Got::Held) => self.lent.as_ref().map(Frame::as_ref),
        })
    }

    pub(crate) fn recv_inner(
        &mut self,
        timeout: Option<Duration>,
        transaction: Option<&str>,
    ) -> Result<Option<Frame>, Error> {
        Ok(match self.next_for_app(timeout, transaction)? {
            None => None,
            Some(Got::Held) => self.lent.take(),
            Some(Got::Lent) => Some(self.session.take()),
        })
    }

    /// The next frame for the application, its auto-ACK owed: held, or where it lies in the
    /// read buffer when it was decoded from bytes already read (the caller lends or takes it).
    #[inline]
    fn next_for_app(
        &mut self,
        timeout: Option<Duration>,
        transaction: Option<&str>,
    ) -> Result<Option<Got>, Error> {
        // Read from the clock when the call first has to wait: a frame already read goes out
        // without a clock read (one per frame costs a fast consumer a third of its rate).
        let mut deadline = Deadline { timeout, at: None };
        let expired = || Error::Timeout(Timeout::Recv(timeout.unwrap_or_default()));
        self.send_due_ack()?;
        loop {
            if let Some(f) = self.inbox.pop() {
                self.track_ack(f.as_ref(), transaction);
                self.lent = Some(f);
                return Ok(Some(Got::Held));
            }
            if self.conn.is_none() && self.reconnecting.is_none() {
                return self.deferred_error.take().map_or(Ok(None), Err);
            }
            let turned = match self.pump_buffered() {
                Ok(Some(Polled::Message { auto_ack, sub })) => {
                    self.heard_since_connected = true;
                    if auto_ack {
                        let session = &self.session;
                        let (message, version) = (session.lend(), session.version());
                        // The subscription's id is the header's value: no need to look it up.
                        let sub = sub.and_then(|i| session.subscription_at(i));
                        let sub = sub.map(|s| s.id.as_bytes());
                        self.acks
                            .owe_for(message, version, sub, transaction, self.epoch);
                    }
                    return Ok(Some(Got::Lent));
                }
                // Proof of life, which the session's clock saw when the bytes came.
                Ok(Some(Polled::Event(Event::HeartBeat))) => continue,
                Ok(Some(Polled::Event(ev))) => {
                    self.heard_since_connected = true;
                    self.settle(Ok(Pumped::Event(ev)), deadline.get())
                }
                Err(e) => self.settle(Err(e), deadline.get()),
                Ok(None) => self.turn(deadline.get()),
            };
            match turned {
                // Nothing is held (the loop checked): the frame goes straight out.
                Ok(Turn::Frame(f)) => {
                    self.track_ack(f.as_ref(), transaction);
                    self.lent = Some(f);
                    return Ok(Some(Got::Held));
                }
                Ok(Turn::Progress | Turn::Reconnected | Turn::Closed) => {}
                Ok(Turn::Deadline | Turn::Reconnecting) => return Err(expired()),
                // A broker that closes every connection right after CONNECTED must not keep
                // the client reconnecting past the deadline.
                Err(e) if self.conn.is_none() && self.reconnecting.is_none() => {
                    if self.inbox.is_empty() {
                        return Err(e);
                    }
                    // Frames that arrived before the failure go first.
                    self.deferred_error = Some(e);
                }
                Err(e) => return Err(e),
            }
            if deadline.get().is_some_and(|d| Instant::now() >= d) && self.inbox.is_empty() {
                return Err(expired());
            }
        }
    }

    /// Remembers a MESSAGE the application is about to see, if the client must ACK it later.
    #[inline]
    pub(super) fn track_ack(&mut self, frame: FrameRef<'_>, tx: Option<&str>) {
        if self.session.auto_acks_any() {
            self.acks.track(&self.session, frame, tx, self.epoch);
        }
    }

    /// Sends the auto-ACK that is due, if any. An ACK the broker's MESSAGE gave no way to
    /// write (a missing header) is logged and skipped: the consumer goes on.
    pub(super) fn send_pending_ack(&mut self) -> Result<(), Error> {
        let Some(p) = self.acks.take_due() else {
            return Ok(());
        };
        if p.epoch != self.epoch || self.conn.is_none() {
            self.acks.recycle(p);
            return Ok(()); // the broker redelivers it on the new connection
        }
        let now = self.recent();
        let tx = p.transaction.as_deref();
        let encoded = match p.ids.wire() {
            Some(ack) => self.session.acknowledge_encoded(ack, now),
            None => Ok(false),
        };
        let res = match encoded {
            Ok(false) => self.session.acknowledge_ids(p.ids(), Command::Ack, tx, now),
            other => other.map(drop),
        };
        if let Err(e) = &res {
            if !e.is_fatal() {
                log::warn!("skipped the auto-ACK of {:?}: {}", p.ids(), e.report());
            }
        }
        self.acks.recycle(p);
        match res {
            Err(e) if e.is_fatal() => Err(e),
            Err(_) => Ok(()),
            Ok(()) => self.flush_after_ack(),
        }
    }

    /// [`StompClient::send_pending_ack`]; when the write finds the connection gone, the
    /// connection is dropped (the broker redelivers the message) and `Ok`: the call goes on
    /// and reconnects, with auto-reconnect.
    #[inline]
    pub(super) fn send_due_ack(&mut self) -> Result<(), Error> {
        if !self.acks.has_due() {
            return Ok(());
        }
        // The usual `Ok` is not handed on: moving the whole result costs more than the ACK.
        match self.send_pending_ack() {
            Ok(()) => Ok(()),
            Err(e) => self.ride_out_lost_write(Err(e)),
        }
    }

    /// Forgets the pending auto-ACKs of a subscription that ended.
    pub(super) fn forget_acks_of(&mut self, subscription: &str) {
        self.acks
            .cancel(|p| p.ids().subscription() == Some(subscription.as_bytes()));
    }

    /// Forgets the pending auto-ACKs of every subscription no longer active.
    pub(super) fn forget_unsubscribed_acks(&mut self) {
        let session = &self.session;
        self.acks.cancel(|p| {
            let sub = p.ids().subscription();
            sub.is_some_and(|s| session.subscription_by_bytes(s).is_none())
        });
    }

    /// An iterator of `Result<Frame, Error>`: errors come inline; it ends on a clean close or
    /// after a fatal error.
    pub fn frames(&mut self) -> Frames<'_> {
        Frames::new(self)
    }

    /// Runs `callback` on every frame until it returns `Some(value)` (then `Ok(Some(value))`)
    /// or the connection closes (`Ok(None)`). Auto-ACKs are sent when the callback returns,
    /// so a panic inside it leaves the message un-ACKed. For a callback that can fail, use
    /// [`StompClient::try_loop_with`], where `?` works.
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let mut client = stompy::StompClient::connect(broker.addr())?;
    /// use stompy::AckMode;
    /// client.subscribe("/queue/jobs", AckMode::ClientIndividual)?;
    /// client.send("/queue/jobs", "stop")?;
    /// let got = client.loop_with(|_client, frame| {
    ///     (frame.body() == b"stop").then(|| frame.body().to_vec())
    /// })?;
    /// assert_eq!(got.as_deref(), Some(&b"stop"[..]));
    /// # Ok::<(), stompy::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`StompClient::recv`].
    pub fn loop_with<T, F>(&mut self, callback: F) -> Result<Option<T>, Error>
    where
        F: FnMut(&mut StompClient, Frame) -> Option<T>,
    {
        self.loop_with_options(LoopOptions::default(), callback)
    }

    /// [`StompClient::loop_with`] with a per-frame timeout and a transaction that the loop's
    /// auto-ACKs join.
    ///
    /// # Errors
    /// As [`StompClient::recv_timeout`] when a timeout is given.
    pub fn loop_with_options<T, F>(
        &mut self,
        options: LoopOptions,
        mut callback: F,
    ) -> Result<Option<T>, Error>
    where
        F: FnMut(&mut StompClient, Frame) -> Option<T>,
    {
        let mut simple = |c: &mut StompClient, f: Frame| -> Result<ControlFlow<T>, Error> {
            Ok(callback(c, f).map_or(ControlFlow::Continue(()), ControlFlow::Break))
        };
        run_loop(self, |c| c, &options, &mut simple)
    }

    /// Runs `callback` on every frame until it breaks (`Ok(ControlFlow::Break(value))`, then
    /// `Ok(Some(value))`), fails (its error comes back, and the loop stops), or the
    /// connection closes (`Ok(None)`). `?` works inside it, for stompy's errors and the
    /// application's own (any `E: From<stompy::Error>`).
    ///
    /// The message the callback was handling is auto-ACKed when it returns `Ok`; when it
    /// returns `Err` or panics, it stays un-ACKed and the broker redelivers it.
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let mut client = stompy::StompClient::connect(broker.addr())?;
    /// use std::ops::ControlFlow;
    /// use stompy::AckMode;
    /// client.subscription("/queue/jobs").ack(AckMode::ClientIndividual).auto_ack(false).subscribe()?;
    /// client.send("/queue/jobs", "17")?;
    /// let total = client.try_loop_with(|client, frame| {
    ///     let n: u32 = frame.text()?.parse().map_err(|_| stompy::Error::Invalid("nan".into()))?;
    ///     client.ack(&frame)?; // a failed ACK stops the loop and comes back
    ///     Ok::<_, stompy::Error>(ControlFlow::Break(n))
    /// })?;
    /// assert_eq!(total, Some(17));
    /// # Ok::<(), stompy::Error>(())
    /// ```
    ///
    /// # Errors
    /// The callback's error, or the client's (as [`StompClient::recv`]) converted into `E`.
    pub fn try_loop_with<T, E, F>(&mut self, mut callback: F) -> Result<Option<T>, E>
    where
        E: From<Error>,
        F: FnMut(&mut StompClient, Frame) -> Result<ControlFlow<T>, E>,
    {
        run_loop(self, |c| c, &LoopOptions::default(), &mut callback)
    }

    // ---- receipts ------------------------------------------------------------------------

    /// A new unique receipt id.
    pub fn new_receipt_id(&self) -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// Waits until the RECEIPT for `receipt_id` arrives. Frames that arrive meanwhile are kept,
    /// in order, for the next [`StompClient::recv`].
    ///
    /// A receipt belongs to the connection that asked for it: when that connection is lost
    /// (or was lost before the wait), the wait ends at once with [`Error::ReceiptLost`],
    /// except for a confirmed send, which is sent again on the new connection and waited for
    /// there.
    ///
    /// # Errors
    /// [`Error::Timeout`] with [`Timeout::Receipt`] when it does not come in time;
    /// [`Error::Broker`] for an ERROR frame meanwhile; [`Error::ReceiptLost`] when its
    /// connection is gone.
    pub fn wait_for_receipt(&mut self, receipt_id: &str, timeout: Duration) -> Result<(), Error> {
        let deadline = deadline_after(Instant::now(), timeout);
        let expired = || Error::Timeout(Timeout::Receipt(timeout));
        loop {
            if self.inbox.take_receipt(receipt_id) {
                return Ok(());
            }
            // A confirmed send is sent again after a reconnect, and asks again.
            let resent = self.session.is_confirming(receipt_id);
            let asked = self.conn.is_some() && self.session.is_receipt_pending(receipt_id);
            if !asked && !resent {
                return Err(Error::ReceiptLost(receipt_id.to_owned()));
            }
            match self.turn(Some(deadline))? {
                Turn::Frame(f) => self.inbox.push(f)?,
                Turn::Progress | Turn::Reconnected => {}
                Turn::Deadline | Turn::Reconnecting => return Err(expired()),
                Turn::Closed if resent => return Err(self.not_connected()),
                Turn::Closed => {}
            }
            // Frames that keep coming must not hold off the deadline.
            if Instant::now() >= deadline {
                return match self.inbox.take_receipt(receipt_id) {
                    true => Ok(()),
                    false => Err(expired()),
                };
            }
        }
    }

    // ---- acknowledgements ----------------------------------------------------------------

    /// ACKs a MESSAGE with the headers the protocol version wants.
    ///
    /// # Errors
    /// As [`StompClient::send_frame`].
    pub fn ack(&mut self, message: &Frame) -> Result<(), Error> {
        self.acknowledge(message, Command::Ack, None)
    }

    /// NACKs a MESSAGE (STOMP 1.1+): the broker may redeliver or dead-letter it.
    ///
    /// # Errors
    /// [`Error::Invalid`] on STOMP 1.0; otherwise as [`StompClient::send_frame`].
    pub fn nack(&mut self, message: &Frame) -> Result<(), Error> {
        self.acknowledge(message, Command::Nack, None)
    }

    /// ACKs a message by its [`AckToken`] (kept from the MESSAGE with [`AckToken::of`], or
    /// built from ids stored elsewhere): the frame itself need not be kept.
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let mut client = stompy::StompClient::connect(broker.addr())?;
    /// use stompy::{AckMode, AckToken};
    /// client.subscription("/queue/later").ack(AckMode::ClientIndividual).auto_ack(false).subscribe()?;
    /// client.send("/queue/later", "x")?;
    /// let token = AckToken::of(&client.recv()?.unwrap()); // the frame can go
    /// client.ack_token(&token)?;
    /// # Ok::<(), stompy::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`StompClient::send_frame`].
    pub fn ack_token(&mut self, token: &AckToken) -> Result<(), Error> {
        self.acknowledge_ids(token.ids(), Command::Ack, None)
    }

    /// NACKs a message by its [`AckToken`] (STOMP 1.1+).
    ///
    /// # Errors
    /// [`Error::Invalid`] on STOMP 1.0; otherwise as [`StompClient::send_frame`].
    pub fn nack_token(&mut self, token: &AckToken) -> Result<(), Error> {
        self.acknowledge_ids(token.ids(), Command::Nack, None)
    }

    /// ACKs a message with a receipt and waits for it: once this returns `Ok`, the broker has
    /// processed the ACK, and will not redeliver the message.
    ///
    /// # Errors
    /// As [`StompClient::wait_for_receipt`].
    pub fn ack_and_wait(&mut self, token: &AckToken, timeout: Duration) -> Result<(), Error> {
        self.acknowledge_and_wait(token, Command::Ack, timeout)
    }

    /// NACKs a message with a receipt and waits for it.
    ///
    /// # Errors
    /// As [`StompClient::wait_for_receipt`]; [`Error::Invalid`] on STOMP 1.0.
    pub fn nack_and_wait(&mut self, token: &AckToken, timeout: Duration) -> Result<(), Error> {
        self.acknowledge_and_wait(token, Command::Nack, timeout)
    }

    fn acknowledge_and_wait(
        &mut self,
        token: &AckToken,
        command: Command,
        timeout: Duration,
    ) -> Result<(), Error> {
        self.ensure_connected()?;
        self.acks.cancel_ids(token.ids());
        let receipt = self.new_receipt_id();
        let frame = token
            .frame(command, self.version(), None)?
            .with_header(header::RECEIPT, &receipt);
        self.write_or_fail(|c| {
            let now = c.recent();
            c.session.send_frame(&frame, now)?;
            c.flush_after_send()
        })?;
        self.wait_for_receipt(&receipt, timeout)
    }

    pub(crate) fn acknowledge(
        &mut self,
        message: &Frame,
        command: Command,
        transaction: Option<&str>,
    ) -> Result<(), Error> {
        self.acknowledge_ids(AckIds::of(message), command, transaction)
    }

    fn acknowledge_ids(
        &mut self,
        ids: AckIds<'_>,
        command: Command,
        transaction: Option<&str>,
    ) -> Result<(), Error> {
        self.ensure_connected()?;
        self.acks.cancel_ids(ids);
        self.write_or_fail(|c| {
            let now = c.recent();
            c.session.acknowledge_ids(ids, command, transaction, now)?;
            c.flush_after_send()
        })
    }
}

/// Where the frame for the application that [`StompClient::next_for_app`] found is: a few
/// bytes to return, not the frame.
enum Got {
    /// In `lent`: it had been held, or it was read by a full turn.
    Held,
    /// Left where it lies in the read buffer ([`Session::lend`](crate::session::Session::lend)).
    Lent,
}

/// The loop behind [`StompClient::loop_with`], [`StompClient::try_loop_with`] and
/// [`Transaction::loop_with`](crate::Transaction::loop_with): `ctx` is what the callback gets
/// (the client, or a transaction), `client` reaches the client in it.
pub(super) fn run_loop<C, T, E, F>(
    ctx: &mut C,
    client: impl Fn(&mut C) -> &mut StompClient,
    options: &LoopOptions,
    callback: &mut F,
) -> Result<Option<T>, E>
where
    E: From<Error>,
    F: FnMut(&mut C, Frame) -> Result<ControlFlow<T>, E>,
{
    loop {
        let tx = options.transaction.as_deref();
        let Some(frame) = client(ctx).recv_inner(options.timeout, tx)? else {
            return Ok(None);
        };
        // The ACK is due once the callback returns; hold it aside while it runs so that a
        // panic or an error leaves the message un-ACKed even if the client is used again
        // afterwards, and so that an ACK or NACK the callback sends itself cancels it.
        client(ctx).acks.enter_callback();
        let out = callback(ctx, frame);
        let c = client(ctx);
        let owed = c.acks.leave_callback();
        let out = out?;
        if let Some(p) = owed {
            let inner = c.acks.set_due(Some(p));
            c.send_due_ack()?;
            c.acks.set_due(inner);
        }
        c.send_due_ack()?;
        if let ControlFlow::Break(value) = out {
            return Ok(Some(value));
        }
    }
}

/// A call's deadline, read from the clock the first time it is asked for.
struct Deadline {
    timeout: Option<Duration>,
    at: Option<Instant>,
}

impl Deadline {
    /// `None` without a timeout; else now + timeout, now being the first call.
    #[inline]
    fn get(&mut self) -> Option<Instant> {
        let t = self.timeout?;
        Some(
            *self
                .at
                .get_or_insert_with(|| deadline_after(Instant::now(), t)),
        )
    }
}
