//! Receiving: `recv`, iterators, `loop_with`, auto-ACK, explicit ACK/NACK, receipts.

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

    pub(crate) fn recv_inner(
        &mut self,
        timeout: Option<Duration>,
        transaction: Option<&str>,
    ) -> Result<Option<Frame>, Error> {
        let deadline = timeout.map(|t| deadline_after(Instant::now(), t));
        // A reconnect's back-off inside this call sleeps no further than its deadline.
        self.call_deadline = deadline;
        let res = self.recv_until(deadline, timeout, transaction);
        self.call_deadline = None;
        res
    }

    fn recv_until(
        &mut self,
        deadline: Option<Instant>,
        timeout: Option<Duration>,
        transaction: Option<&str>,
    ) -> Result<Option<Frame>, Error> {
        self.send_pending_ack_or_reconnect()?;
        let mut reconnected = false;
        loop {
            if let Some(f) = self.next_held() {
                self.track_ack(&f, transaction);
                return Ok(Some(f));
            }
            if self.conn.is_none() {
                return self.deferred_error.take().map_or(Ok(None), Err);
            }
            // A broker that closes every connection right after CONNECTED must not keep the
            // client reconnecting past the deadline (a pump that sees the close at once never
            // gets to look at it).
            if reconnected && deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout(Timeout::Recv(timeout.unwrap_or_default())));
            }
            match self.pump(deadline) {
                // Nothing is held (the loop checked): the frame goes straight out.
                Ok(Pumped::Event(Event::Frame(f))) => {
                    self.track_ack(&f, transaction);
                    return Ok(Some(f));
                }
                Ok(Pumped::Event(ev)) => {
                    // Not a frame: never more than one item held here.
                    let _ = self.hold(ev);
                }
                Ok(Pumped::Deadline) => {
                    return Err(Error::Timeout(Timeout::Recv(timeout.unwrap_or_default())));
                }
                Ok(Pumped::Closed) => {
                    if !self.on_connection_lost(None)? {
                        return Ok(None);
                    }
                    reconnected = true;
                }
                Err(e) if e.is_fatal() => {
                    reconnected = self.on_connection_lost(Some(e))?;
                    if !reconnected {
                        let err = self.close_reason.as_ref().map_or_else(
                            || Error::NotConnected("connection lost".into()),
                            clone_error,
                        );
                        if self.inbox.is_empty() {
                            return Err(err);
                        }
                        // Frames that arrived before the failure go first.
                        self.deferred_error = Some(err);
                    }
                }
                Err(e) => {
                    if e.broker_error().is_some() {
                        self.last_broker_error = Some(clone_error(&e));
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Remembers a MESSAGE the application is about to see, if the client must ACK it later.
    pub(super) fn track_ack(&mut self, frame: &Frame, transaction: Option<&str>) {
        if frame.command() != Command::Message || !self.session.auto_acks_any() {
            return;
        }
        if self
            .session
            .message_is(frame, |s| s.auto_ack && s.ack.needs_ack())
        {
            // The last token sent lends its strings: no allocation per message.
            let token = match self.spare_ack.take() {
                Some(mut t) => {
                    t.refill(frame);
                    t
                }
                None => AckToken::of(frame),
            };
            self.pending_ack = Some(PendingAck {
                token,
                transaction: transaction.map(str::to_owned),
                epoch: self.epoch,
            });
        }
    }

    pub(super) fn send_pending_ack(&mut self) -> Result<(), Error> {
        let Some(p) = self.pending_ack.take() else {
            return Ok(());
        };
        if p.epoch != self.epoch || self.conn.is_none() {
            return Ok(()); // the broker redelivers it on the new connection
        }
        let now = self.recent();
        self.session
            .acknowledge(&p.token, Command::Ack, p.transaction.as_deref(), now)?;
        self.spare_ack = Some(p.token);
        self.flush_after_ack()
    }

    /// [`StompClient::send_pending_ack`]; when the write finds the connection gone, the
    /// connection is dropped (and re-established with auto-reconnect, then `Ok`).
    fn send_pending_ack_or_reconnect(&mut self) -> Result<(), Error> {
        if let Err(e) = self.send_pending_ack() {
            // A lost connection loses the ACK too: the broker redelivers the message.
            if !e.is_fatal() || !self.on_connection_lost(Some(clone_error(&e)))? {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Forgets the pending auto-ACK without sending it (used when the application rejected
    /// the message itself).
    pub(super) fn cancel_pending_ack_for(&mut self, frame: &Frame) {
        let ids = AckIds::of(frame);
        for slot in [&mut self.pending_ack, &mut self.loop_ack] {
            if slot.as_ref().is_some_and(|p| p.token.ids() == ids) {
                *slot = None;
            }
        }
    }

    /// Forgets the pending auto-ACKs of a subscription that ended.
    pub(super) fn forget_acks_of(&mut self, subscription: &str) {
        for slot in [&mut self.pending_ack, &mut self.loop_ack] {
            if slot
                .as_ref()
                .is_some_and(|p| p.token.subscription.as_deref() == Some(subscription))
            {
                *slot = None;
            }
        }
    }

    /// An iterator of `Result<Frame, Error>`: errors come inline; it ends on a clean close or
    /// after a fatal error.
    pub fn frames(&mut self) -> Frames<'_> {
        Frames::new(self)
    }

    /// Runs `callback` on every frame until it returns `Some(value)` (then `Ok(Some(value))`)
    /// or the connection closes (`Ok(None)`). Auto-ACKs are sent when the callback returns,
    /// so a panic inside it leaves the message un-ACKed.
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let mut client = stompy::StompClient::connect(broker.addr())?;
    /// use stompy::AckMode;
    /// client.subscribe("/queue/jobs", AckMode::ClientIndividual)?;
    /// client.send("/queue/jobs", "stop")?;
    /// let got = client.loop_with(|_client, frame| {
    ///     (frame.body() == b"stop").then(|| frame.text().unwrap().into_owned())
    /// })?;
    /// assert_eq!(got.as_deref(), Some("stop"));
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
        loop {
            let Some(frame) = self.recv_inner(options.timeout, options.transaction.as_deref())?
            else {
                return Ok(None);
            };
            // The ACK is due once the callback returns; hold it aside while it runs so that a
            // panic leaves the message un-ACKed even if the client is used again afterwards,
            // and so that an ACK or NACK the callback sends itself cancels it.
            self.loop_ack = self.pending_ack.take();
            let out = callback(self, frame);
            if let Some(p) = self.loop_ack.take() {
                let inner = self.pending_ack.replace(p);
                self.send_pending_ack_or_reconnect()?;
                self.pending_ack = inner;
            }
            self.send_pending_ack_or_reconnect()?;
            if out.is_some() {
                return Ok(out);
            }
        }
    }

    // ---- receipts ------------------------------------------------------------------------

    /// A new unique receipt id.
    pub fn new_receipt_id(&self) -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// Waits until the RECEIPT for `receipt_id` arrives. Frames that arrive meanwhile are kept,
    /// in order, for the next [`StompClient::recv`].
    ///
    /// # Errors
    /// [`Error::Timeout`] with [`Timeout::Receipt`] when it does not come in time;
    /// [`Error::Broker`] for an ERROR frame meanwhile; [`Error::NotConnected`] when the
    /// connection closes first.
    pub fn wait_for_receipt(&mut self, receipt_id: &str, timeout: Duration) -> Result<(), Error> {
        let deadline = deadline_after(Instant::now(), timeout);
        loop {
            if self.receipts.remove(receipt_id) {
                return Ok(());
            }
            self.ensure_connected()?;
            match self.pump(Some(deadline)) {
                // Frames that keep coming must not hold off the deadline.
                Ok(Pumped::Event(ev)) if Instant::now() < deadline => self.hold(ev)?,
                Ok(Pumped::Event(ev)) => {
                    self.hold(ev)?;
                    if !self.receipts.remove(receipt_id) {
                        return Err(Error::Timeout(Timeout::Receipt(timeout)));
                    }
                    return Ok(());
                }
                Ok(Pumped::Deadline) => return Err(Error::Timeout(Timeout::Receipt(timeout))),
                Ok(Pumped::Closed) => {
                    self.on_connection_lost(None)?;
                    return Err(Error::NotConnected(format!(
                        "connection closed before receipt {receipt_id:?}"
                    )));
                }
                Err(e) if e.is_fatal() => {
                    self.on_connection_lost(Some(clone_error(&e)))?;
                    return Err(e);
                }
                Err(e) => {
                    if e.broker_error().is_some() {
                        self.last_broker_error = Some(clone_error(&e));
                    }
                    return Err(e);
                }
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

    pub(crate) fn acknowledge(
        &mut self,
        message: &Frame,
        command: Command,
        transaction: Option<&str>,
    ) -> Result<(), Error> {
        self.ensure_connected()?;
        self.cancel_pending_ack_for(message);
        self.write_or_fail(|c| {
            let ids = AckIds::of(message);
            let now = c.recent();
            c.session.acknowledge_ids(ids, command, transaction, now)?;
            c.flush_after_send()
        })
    }
}
