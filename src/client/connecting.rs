//! Connecting, reconnecting and closing: rounds over the address list with back-off,
//! CONNECT and CONNECTED, re-subscribing after a loss, DISCONNECT with a receipt.

use super::driver::Turn;
use super::*;

/// How [`StompClient::run_rounds`] ended.
enum RoundsEnd {
    Connected,
    /// The call's deadline passed first.
    Deadline,
    /// The rounds' budget is spent.
    Over,
}

impl StompClient {
    // ---- connecting ----------------------------------------------------------------------

    /// The first connect: the policy's rounds, failing fast on a wrong address or login.
    pub(super) fn connect_rounds(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        let mut rounds = Rounds::first(self.cfg.reconnect, self.cfg.connect_total_timeout, now);
        match self.run_rounds(&mut rounds, None) {
            RoundsEnd::Connected => Ok(()),
            _ => Err(rounds.into_error(self.connect_timeout_error())),
        }
    }

    fn connect_timeout_error(&self) -> Error {
        Error::Timeout(Timeout::Connect(self.cfg.connect_timeout))
    }

    /// Tries the addresses in rounds, with back-off, until one connects, the rounds are over,
    /// or `deadline` passes (then `rounds` says where to go on). Each attempt gets at most
    /// what remains of the deadline and of the rounds' own budget.
    fn run_rounds(&mut self, rounds: &mut Rounds, deadline: Option<Instant>) -> RoundsEnd {
        let addresses = self.cfg.addresses.len();
        loop {
            let now = Instant::now();
            if rounds.is_over(now) {
                return RoundsEnd::Over;
            }
            let wake = rounds.not_before();
            if wake > now {
                if deadline.is_some_and(|d| d <= wake) {
                    let d = deadline.unwrap_or(wake);
                    std::thread::sleep(d.saturating_duration_since(now));
                    return RoundsEnd::Deadline;
                }
                std::thread::sleep(wake - now); // the back-off between rounds
                continue;
            }
            if deadline.is_some_and(|d| now >= d) {
                return RoundsEnd::Deadline;
            }
            let limit = match (deadline, rounds.attempt_deadline()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let addr = self.cfg.addresses[rounds.next_address() % addresses].clone();
            match self.connect_one(&addr, limit) {
                Ok(()) => return RoundsEnd::Connected,
                Err(e) => {
                    // One cut short by the call's deadline counts too: a node that accepts and
                    // never answers must not hold the next calls on the same address.
                    log::info!("connect to {addr} failed: {}", e.report());
                    rounds.failed(e, addresses, Instant::now());
                }
            }
        }
    }

    /// Goes on re-establishing a lost connection, within `deadline`.
    ///
    /// # Errors
    /// The error that ended reconnecting ([`Error::ConnectFailed`] or the last attempt's),
    /// once the policy gives up; it is the close reason then.
    pub(super) fn reconnect_within(&mut self, deadline: Option<Instant>) -> Result<Turn, Error> {
        let Some(mut rounds) = self.reconnecting.take() else {
            return Ok(Turn::Closed);
        };
        match self.run_rounds(&mut rounds, deadline) {
            RoundsEnd::Connected => {
                self.drop_held_unacked();
                self.reconnects += 1;
                let n = self.reconnects;
                self.listeners.each(|l| l.on_reconnected(n));
                Ok(Turn::Reconnected)
            }
            RoundsEnd::Deadline => {
                self.reconnecting = Some(rounds);
                Ok(Turn::Reconnecting)
            }
            RoundsEnd::Over => {
                let e = rounds.into_error(self.connect_timeout_error());
                log::warn!("gave up reconnecting: {}", e.report());
                self.close_reason = Some(clone_error(&e));
                Err(e)
            }
        }
    }

    pub(super) fn connect_one(
        &mut self,
        addr: &Address,
        overall: Option<Instant>,
    ) -> Result<(), Error> {
        self.drop_connection();
        self.listeners.each(|l| l.on_connecting(addr));
        let conn = Conn::open(addr, &self.cfg, overall).inspect_err(|e| self.emit_error(e))?;
        self.session.set_frame_per_write(conn.frame_per_write());
        self.conn = Some(conn);
        self.last_broker_error = None;
        let now = Instant::now();
        self.session.start(DEFAULT_VHOST, now)?;
        let own = deadline_after(now, self.cfg.connected_timeout);
        let deadline = overall.map_or(own, |o| o.min(own));
        loop {
            match self.pump(Some(deadline)) {
                Ok(Pumped::Event(Event::Connected)) => break,
                Ok(Pumped::Event(ev)) => log::debug!("ignored before CONNECTED: {ev:?}"),
                Ok(Pumped::Deadline) => {
                    self.drop_connection();
                    return Err(Error::Timeout(Timeout::Connected(
                        self.cfg.connected_timeout,
                    )));
                }
                Ok(Pumped::Closed) => {
                    self.drop_connection();
                    return Err(Error::NotConnected(format!(
                        "{addr} closed before CONNECTED"
                    )));
                }
                Err(e) => {
                    self.drop_connection();
                    return Err(e);
                }
            }
        }
        self.epoch += 1;
        self.broker_address = Some(addr.clone());
        self.close_reason = None;
        self.deferred_error = None;
        if let Some(f) = self.session.connected_frame() {
            self.listeners.each(|l| l.on_connected(addr, f));
        }
        // Subscriptions first, then every send still unconfirmed, in order, before anything new.
        let now = Instant::now();
        let resubscribed = self
            .session
            .resubscribe_all(now)
            .and_then(|()| self.session.resend_unconfirmed(now))
            .and_then(|()| self.flush_now());
        if let Err(e) = resubscribed {
            // Gone right after CONNECTED: this attempt failed, and leaves no connection behind.
            self.drop_connection();
            return Err(e);
        }
        log::info!("connected to {addr} (STOMP {})", self.version());
        self.connected_at = Some(Instant::now());
        self.heard_since_connected = false;
        Ok(())
    }

    pub(super) fn drop_connection(&mut self) {
        if let Some(mut c) = self.conn.take() {
            c.close();
        }
    }

    /// After a lost connection: drops it and, with auto-reconnect, re-establishes it within
    /// `deadline`; else records why it ended. `err` is the failure, `None` for a close.
    pub(super) fn lost(
        &mut self,
        err: Option<Error>,
        deadline: Option<Instant>,
    ) -> Result<Turn, Error> {
        self.drop_lost(err);
        self.reconnect_within(deadline)
    }

    /// Drops a connection found broken by a write, and leaves reconnecting to the next call.
    pub(super) fn lost_now(&mut self, err: Error) {
        self.drop_lost(Some(err));
    }

    fn drop_lost(&mut self, err: Option<Error>) {
        // Frames that arrived whole before the failure (a failed write finds them still in
        // the decoder) are delivered, not dropped with the connection.
        self.hold_decoded();
        self.drop_connection();
        let disconnecting = self.session.phase() == Phase::Disconnecting;
        let unasked = (!disconnecting).then_some(Error::ConnectionClosed);
        let reason = err.or_else(|| self.last_broker_error.take()).or(unasked);
        self.listeners.each(|l| l.on_disconnected(reason.as_ref()));
        if !self.cfg.auto_reconnect || disconnecting {
            self.close_reason = reason;
            return;
        }
        let why = reason.as_ref().map_or(String::new(), |e| e.to_string());
        log::warn!("connection lost ({why}); reconnecting");
        self.close_reason = reason;
        self.acks.clear();
        // A broker that closes every connection right after CONNECTED must not be
        // reconnected to in a tight loop: such a drop counts as a failed round.
        let quick = !self.heard_since_connected
            && self.connected_at.is_some_and(|t| t.elapsed() < QUICK_DROP);
        self.quick_drops = if quick { self.quick_drops + 1 } else { 0 };
        let now = Instant::now();
        if !quick {
            self.lost_at = now;
        }
        let (policy, since) = (self.cfg.reconnect, self.lost_at);
        let rounds = Rounds::after_loss(policy, now, since, self.quick_drops);
        let cause = self.close_reason.as_ref().map(clone_error);
        self.reconnecting = Some(rounds.with_cause(cause));
    }

    // ---- closing -------------------------------------------------------------------------

    /// A graceful stop: ACKs the message the application was handed last (if its
    /// subscription is auto-ACKed: the application is done with it, or it would not stop),
    /// waits for every confirmed send to be confirmed, sends DISCONNECT with a receipt, waits
    /// for it, and closes; all within the disconnect timeout. So `break` out of
    /// `for frame in &mut client` and then `disconnect()` does not cause a redelivery;
    /// dropping the client (or a panic) still leaves that message un-ACKed.
    ///
    /// # Errors
    /// [`Error::Unconfirmed`] when confirmed sends are still unconfirmed (they can be taken
    /// back with [`StompClient::take_unconfirmed`]); a receipt [`Timeout`] or I/O error. The
    /// connection is closed either way.
    pub fn disconnect(&mut self) -> Result<(), Error> {
        if let Some(p) = self.acks.leave_callback() {
            self.acks.set_due(Some(p)); // disconnect() from inside a callback
        }
        if let Err(e) = self.send_pending_ack() {
            log::warn!(
                "could not ACK the last message before disconnecting: {}",
                e.report()
            );
        }
        let timeout = self.cfg.disconnect_timeout;
        self.disconnect_within(timeout)
    }

    pub(super) fn disconnect_within(&mut self, timeout: Duration) -> Result<(), Error> {
        let deadline = deadline_after(Instant::now(), timeout);
        let confirmed = self.confirm_until(deadline, timeout);
        self.acks.clear();
        self.reconnecting = None;
        let unconfirmed = self.unconfirmed();
        if self.conn.is_none() || self.session.phase() != Phase::Connected {
            self.drop_connection();
            return match unconfirmed {
                0 => Ok(()),
                count => Err(Error::Unconfirmed { count }),
            };
        }
        let timeout = deadline.saturating_duration_since(Instant::now());
        let receipt = self.new_receipt_id();
        let f = Frame::new(Command::Disconnect).with_header(header::RECEIPT, &receipt);
        let res = self
            .session
            .send_frame(&f, Instant::now())
            .and_then(|()| self.flush_now())
            .and_then(|()| self.wait_for_receipt(&receipt, timeout));
        self.drop_connection();
        self.close_reason = None;
        self.listeners.each(|l| l.on_disconnected(None));
        if unconfirmed > 0 {
            log::warn!("disconnected with {unconfirmed} sends unconfirmed: {confirmed:?}");
            return Err(Error::Unconfirmed { count: unconfirmed });
        }
        match res {
            // Closed right after the receipt: fine.
            Err(Error::NotConnected(_) | Error::ReceiptLost(_)) => Ok(()),
            other => other,
        }
    }
}
