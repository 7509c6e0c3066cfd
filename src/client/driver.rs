//! Driving the connection: pumping I/O, writing (at once or in batches), holding frames
//! that arrive while the application waits for something else, keep-alive and flush.

use super::*;

/// What one turn of driving the connection ([`StompClient::turn`]) gave a waiting call.
#[derive(Debug)]
pub(super) enum Turn {
    /// A frame for the application (a call that waits for something else keeps it).
    Frame(Frame),
    /// Something the client keeps for itself arrived: a RECEIPT, a confirmation.
    Progress,
    /// The deadline passed.
    Deadline,
    /// The connection was lost and is up again.
    Reconnected,
    /// The connection was lost, and the deadline passed before it was back: reconnecting
    /// goes on at the next call.
    Reconnecting,
    /// The connection is gone for good: `close_reason` says why.
    Closed,
}

impl StompClient {
    // ---- the driver ----------------------------------------------------------------------

    /// Drives I/O until the session reports an event, the deadline passes or the peer closes.
    pub(super) fn pump(&mut self, deadline: Option<Instant>) -> Result<Pumped, Error> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Pumped::Closed);
        };
        let res = conn.pump(&mut self.session, deadline);
        self.heard_since_connected |= matches!(res, Ok(Pumped::Event(_)));
        if !self.listeners.is_empty() {
            self.tell_listeners(&res);
        }
        res
    }

    /// Writes whatever the session has queued, without waiting.
    pub(super) fn flush_now(&mut self) -> Result<(), Error> {
        if let Some(conn) = self.conn.as_mut() {
            let res = conn.write_some(&mut self.session);
            if !self.listeners.is_empty() {
                self.tell_listeners(&Ok(Pumped::Deadline));
            }
            res?;
        }
        Ok(())
    }

    /// Reports what a pump or flush did to the listeners: frames and bytes that went out,
    /// what came in, errors.
    pub(super) fn tell_listeners(&mut self, res: &Result<Pumped, Error>) {
        for f in self.session.take_sent() {
            self.listeners.each(|l| l.on_frame_sent(&f));
        }
        if let Some((out, inn)) = self.conn.as_mut().map(Conn::take_bytes) {
            if out + inn > 0 {
                self.listeners.each(|l| l.on_bytes(out, inn));
            }
        }
        let received = match res {
            Ok(Pumped::Event(Event::Frame(f))) => Some(f.clone()),
            Ok(Pumped::Event(Event::Connected)) => self.session.connected_frame().cloned(),
            Ok(Pumped::Event(Event::Receipt(id))) => {
                Some(Frame::new(Command::Receipt).with_header(header::RECEIPT_ID, id))
            }
            Ok(Pumped::Event(Event::Confirmed(id))) => {
                Some(Frame::new(Command::Receipt).with_header(header::RECEIPT_ID, id))
            }
            Err(Error::Broker(b)) => {
                let mut f = Frame::new(Command::Error).with_header(header::MESSAGE, &b.message);
                if let Some(r) = &b.receipt_id {
                    f.headers_mut().push(header::RECEIPT_ID, r);
                }
                Some(f.with_body(b.body.as_bytes()))
            }
            _ => None,
        };
        if let Some(f) = received {
            self.listeners.each(|l| l.on_frame_received(&f));
        }
        if let Err(e) = res {
            self.emit_error(e);
        }
    }

    pub(super) fn emit_error(&mut self, e: &Error) {
        if matches!(e, Error::Timeout(Timeout::HeartBeat(_))) {
            self.listeners.each(|l| l.on_heartbeat_timeout());
        }
        self.listeners.each(|l| l.on_error(e));
    }

    /// After queueing a frame: write it out now (or, with write batching on, once a batch
    /// has built up); if the broker is not reading, keep driving the connection (holding
    /// arriving frames) until the backlog drains or the write deadline passes.
    #[inline]
    pub(super) fn flush_after_send(&mut self) -> Result<(), Error> {
        if self.session.output_len() < self.write_at {
            return Ok(()); // written by the next wait, flush, or a fuller batch
        }
        self.flush_batch()
    }

    /// [`StompClient::flush_after_send`] once a batch is full.
    fn flush_batch(&mut self) -> Result<(), Error> {
        self.flush_output()?;
        // When the socket took everything, the next batch fills from empty; when it is full,
        // retrying on every send would cost a failed system call per frame: wait for another
        // batch's worth (waits and flush() still write at once).
        let queued = self.session.output().len();
        self.write_at = if queued == 0 {
            self.cfg.write_batch
        } else {
            queued + conn::BATCH_BYTES
        };
        Ok(())
    }

    /// After queueing an ACK: while more received frames wait to be handed out, the client
    /// is about to be called again without waiting, so the ACK joins the next write instead
    /// of costing a system call of its own. Every wait writes pending output first.
    pub(super) fn flush_after_ack(&mut self) -> Result<(), Error> {
        let more_ready = !self.inbox.is_empty() || self.session.has_input_buffered();
        if more_ready && self.session.output().len() < conn::BATCH_BYTES {
            return Ok(());
        }
        self.flush_after_send()
    }

    /// Writes every queued frame that the socket takes now, and waits (up to the write
    /// timeout) while more than [`conn::HIGH_WATER`] bytes are still queued.
    pub(super) fn flush_output(&mut self) -> Result<(), Error> {
        self.flush_now()?;
        if self.session.output().len() <= conn::HIGH_WATER {
            return Ok(());
        }
        self.drain_to(conn::HIGH_WATER)
    }

    /// Drives the connection (holding arriving frames) until at most `level` bytes of output
    /// are queued, or the write timeout passes.
    pub(super) fn drain_to(&mut self, level: usize) -> Result<(), Error> {
        let deadline = deadline_after(Instant::now(), self.cfg.write_timeout);
        let timeout = Error::Timeout(Timeout::Write(self.cfg.write_timeout));
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Err(Error::NotConnected("connection is closed".into()));
            };
            match conn.pump_until_drained(&mut self.session, level, deadline)? {
                None => return Ok(()),
                Some(Pumped::Event(ev)) => {
                    self.keep(ev)?;
                    // Frames that keep coming must not hold off the deadline.
                    if Instant::now() >= deadline {
                        return Err(timeout);
                    }
                }
                Some(Pumped::Deadline) => return Err(timeout),
                Some(Pumped::Closed) => return Err(Error::ConnectionClosed),
            }
        }
    }

    /// One turn of driving the connection for a call that waits until `deadline`: what
    /// arrived, or what became of a lost connection. This is the one place where a failed
    /// read is handled: the connection is dropped and, with auto-reconnect, re-established
    /// within what remains of the deadline.
    ///
    /// # Errors
    /// An ERROR frame (the connection stays); the failure that ended the connection for good.
    pub(super) fn turn(&mut self, deadline: Option<Instant>) -> Result<Turn, Error> {
        if self.conn.is_none() {
            return self.reconnect_within(deadline);
        }
        let res = self.pump(deadline);
        self.settle(res, deadline)
    }

    /// What a turn that pumped `res` comes to: events kept, a lost connection replaced.
    pub(super) fn settle(
        &mut self,
        res: Result<Pumped, Error>,
        deadline: Option<Instant>,
    ) -> Result<Turn, Error> {
        match res {
            Ok(Pumped::Event(Event::Frame(f))) => Ok(Turn::Frame(f)),
            Ok(Pumped::Event(ev)) => {
                self.keep(ev)?;
                Ok(Turn::Progress)
            }
            Ok(Pumped::Deadline) => Ok(Turn::Deadline),
            Ok(Pumped::Closed) => self.lost(None, deadline),
            Err(e) if e.is_fatal() => match self.lost(Some(clone_error(&e)), deadline)? {
                Turn::Closed => Err(e),
                other => Ok(other),
            },
            Err(e) => {
                if e.broker_error().is_some() {
                    self.last_broker_error = Some(clone_error(&e));
                }
                Err(e)
            }
        }
    }

    /// What [`StompClient::pump`] would return at once from bytes already read, without its
    /// rounds: the common case of a consumer whose broker sends faster than it handles. `Ok(None)`
    /// when nothing is buffered, a heart-beat is due, or listeners must hear of what comes (then
    /// `pump` does it all).
    /// A MESSAGE is left where it lies, for the caller to lend or take. The caller notes that
    /// the broker was heard (`heard_since_connected`), as `pump` does.
    #[inline]
    pub(super) fn pump_buffered(&mut self) -> Result<Option<Polled>, Error> {
        let Some(conn) = self.conn.as_mut().filter(|_| self.listeners.is_empty()) else {
            return Ok(None);
        };
        conn.buffered_event(&mut self.session)
    }

    /// Keeps an event that arrived while waiting for something else: a frame for `recv`, a
    /// RECEIPT for a later wait.
    ///
    /// # Errors
    /// [`ProtocolError::Backlog`] when the frames held exceed [`MAX_HELD_BYTES`] (plus room for
    /// one frame as large as allowed): the application must receive them before waiting
    /// longer. They are kept.
    pub(super) fn keep(&mut self, ev: Event) -> Result<(), Error> {
        match ev {
            Event::Frame(f) => return self.inbox.push(f),
            Event::Receipt(id) => self.inbox.add_receipt(&id),
            Event::Connected | Event::HeartBeat | Event::Confirmed(_) => {}
        }
        Ok(())
    }

    /// Moves every whole frame still in the decoder to the held frames (RECEIPTs to the
    /// receipts, an ERROR to `last_broker_error`), before the connection is dropped.
    pub(super) fn hold_decoded(&mut self) {
        if self.conn.is_none() {
            return;
        }
        let now = self.recent();
        loop {
            let res = self.session.poll_event(now);
            if let (false, Ok(Some(ev))) = (self.listeners.is_empty(), &res) {
                // Listeners see these frames as if `pump` had returned them (the error that
                // ended the connection they heard of already: a fatal one repeats here).
                self.tell_listeners(&Ok(Pumped::Event(ev.clone())));
            }
            match res {
                Ok(Some(ev)) => {
                    let _ = self.keep(ev); // past the bound too: nothing is dropped
                }
                Ok(None) => break,
                Err(e) if e.broker_error().is_some() => self.last_broker_error = Some(e),
                Err(e) if !e.is_fatal() => {}
                Err(_) => break,
            }
        }
    }

    /// After a reconnect: frames held from the old connection that needed an ACK can no
    /// longer be acknowledged; the broker redelivers them, so they go.
    pub(super) fn drop_held_unacked(&mut self) {
        let session = &self.session;
        let needs_ack = |f: &Frame| {
            f.command() == Command::Message && session.message_is(f.as_ref(), |s| s.ack.needs_ack())
        };
        self.inbox.retain(|f| !needs_ack(f));
    }

    /// A recent time for stamping queued frames without reading the clock: the last read or
    /// write on the connection (the heart-beat clock is set exactly when output is written).
    #[inline]
    pub(super) fn recent(&self) -> Instant {
        self.conn.as_ref().map_or_else(Instant::now, Conn::recent)
    }

    /// Makes sure there is a connection to write to: a lost one is re-established first
    /// (within `deadline`).
    ///
    /// # Errors
    /// [`Error::NotConnected`] when there is none, or reconnecting did not finish in time;
    /// the error that ended reconnecting.
    pub(super) fn ensure_open(&mut self, deadline: Instant) -> Result<(), Error> {
        if self.conn.is_some() {
            return Ok(());
        }
        if self.reconnecting.is_none() {
            return Err(self.not_connected());
        }
        match self.reconnect_within(Some(deadline))? {
            Turn::Reconnected => Ok(()),
            Turn::Reconnecting => Err(Error::NotConnected("reconnecting".into())),
            _ => Err(self.not_connected()),
        }
    }

    /// [`StompClient::ensure_open`] within the write timeout.
    #[inline]
    pub(super) fn ensure_connected(&mut self) -> Result<(), Error> {
        if self.conn.is_some() {
            return Ok(()); // no clock read on every send
        }
        self.reopen()
    }

    /// [`StompClient::ensure_connected`] without a connection.
    #[cold]
    fn reopen(&mut self) -> Result<(), Error> {
        let deadline = deadline_after(Instant::now(), self.cfg.write_timeout);
        self.ensure_open(deadline)
    }

    pub(super) fn not_connected(&self) -> Error {
        Error::NotConnected(
            self.close_reason
                .as_ref()
                .map_or("connection is closed".into(), |e| e.to_string()),
        )
    }

    /// Sends a frame as it is (headers escaped for the version, `content-length` added), and
    /// keeps the books as the typed calls do: a SUBSCRIBE or UNSUBSCRIBE is recorded (and
    /// re-subscribed after a reconnect), BEGIN, COMMIT and ABORT open and close transactions,
    /// an ACK or NACK cancels the auto-ACK of its message, and with confirmed sends on, a SEND
    /// outside a transaction is confirmed.
    ///
    /// # Errors
    /// [`Error::NotConnected`], [`Error::Invalid`] for a frame the version cannot carry,
    /// [`Error::Io`] or a write [`Timeout`].
    pub fn send_frame(&mut self, frame: &Frame) -> Result<(), Error> {
        let command = frame.command();
        if command == Command::Send
            && self.cfg.confirm
            && !frame.headers().contains(header::TRANSACTION)
        {
            return self.send_confirmed_frame(frame.clone());
        }
        self.ensure_connected()?;
        if matches!(command, Command::Ack | Command::Nack) {
            let version = self.version();
            self.acks.cancel(|p| p.ids().acked_by(frame, version));
        }
        self.write_or_fail(|c| {
            let now = c.recent();
            c.session.send_frame(frame, now)?;
            if command == Command::Unsubscribe {
                c.forget_unsubscribed_acks();
            }
            c.flush_after_send()
        })
    }

    /// Runs a write that must reach the broker; on a fatal error the connection is dropped
    /// (to be re-established by the next call, with auto-reconnect) and the error returned,
    /// since the frame may not have arrived.
    #[inline]
    pub(crate) fn write_or_fail(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), Error>,
    ) -> Result<(), Error> {
        // The usual `Ok` is written anew, not moved: moving the whole result costs more.
        match f(self) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.failed_write(e)),
        }
    }

    /// [`StompClient::write_or_fail`]'s error: a fatal one drops the connection.
    #[cold]
    fn failed_write(&mut self, e: Error) -> Error {
        if e.is_fatal() && self.conn.is_some() {
            self.lost_now(clone_error(&e));
        }
        e
    }

    /// After a write that nothing is lost by retrying (an auto-ACK, a kept confirmed send):
    /// when it found the connection gone, the connection is dropped, and with auto-reconnect
    /// that is no error (the next call reconnects).
    pub(super) fn ride_out_lost_write(&mut self, res: Result<(), Error>) -> Result<(), Error> {
        match res {
            Err(e) if e.is_fatal() && self.conn.is_some() => {
                self.lost_now(clone_error(&e));
                if self.cfg.auto_reconnect {
                    Ok(())
                } else {
                    Err(e)
                }
            }
            other => other,
        }
    }

    /// Sends any heart-beat that is due and checks the broker's, without waiting: call it
    /// during long work between pulls so the connection stays alive.
    ///
    /// # Errors
    /// A heart-beat [`Timeout`], I/O or protocol error (the connection is then dropped, or
    /// re-established with auto-reconnect, as in `recv`), or an ERROR frame from the broker.
    /// Frames that arrive are kept for `recv`.
    pub fn keep_alive(&mut self) -> Result<(), Error> {
        if self.conn.is_none() && self.reconnecting.is_none() {
            return Err(self.not_connected());
        }
        match self.turn(Some(Instant::now()))? {
            // One frame is enough: the rest stay buffered for `recv`.
            Turn::Frame(f) => self.inbox.push(f),
            _ => Ok(()),
        }
    }

    /// Writes every frame queued by [`ClientBuilder::write_batching`] (or a slow socket) and
    /// waits until the socket has taken them all, at most the write timeout. Frames that
    /// arrive meanwhile are kept for `recv`.
    ///
    /// # Errors
    /// [`Error::Io`], or a write [`Timeout`] when the broker does not read.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.ensure_connected()?;
        self.write_or_fail(|c| {
            c.flush_now()?;
            c.drain_to(0)
        })
    }
}
