//! Connecting, reconnecting and closing: rounds over the address list with back-off,
//! CONNECT and CONNECTED, re-subscribing after a loss, DISCONNECT with a receipt.

use super::*;

impl StompClient {
    // ---- connecting ----------------------------------------------------------------------

    pub(super) fn connect_rounds(&mut self) -> Result<(), Error> {
        let mut attempts = 0u32;
        let mut rounds = 0u32;
        let overall = (self.cfg.connect_total_timeout).map(|t| deadline_after(Instant::now(), t));
        let out_of_time = |t: &Option<Instant>| t.is_some_and(|t| Instant::now() >= t);
        let mut last = None;
        loop {
            let mut permanent_everywhere = true;
            let mut tried = false;
            for addr in self.cfg.addresses.clone() {
                if attempts > 0 && out_of_time(&overall) {
                    break;
                }
                attempts += 1;
                tried = true;
                match self.connect_one(&addr, overall) {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        log::info!("connect to {addr} failed: {e}");
                        permanent_everywhere &= e.is_permanent();
                        last = Some(e);
                    }
                }
            }
            rounds += 1;
            let delay = self.cfg.reconnect.delay(rounds);
            let too_late = overall.is_some_and(|t| deadline_after(Instant::now(), delay) >= t);
            // The overall deadline can pass while the back-off sleeps (a sleep may overrun), so
            // that a round tries nothing: the last error is then the previous round's.
            if !tried || permanent_everywhere || too_late || !self.cfg.reconnect.allows(rounds) {
                let last =
                    last.unwrap_or(Error::Timeout(Timeout::Connect(self.cfg.connect_timeout)));
                return Err(if attempts == 1 {
                    last
                } else {
                    Error::ConnectFailed {
                        attempts,
                        last: Box::new(last),
                    }
                });
            }
            std::thread::sleep(delay); // the back-off between rounds
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
        let resubscribed = self
            .session
            .resubscribe_all(Instant::now())
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

    /// After a lost connection: reconnect if configured, else record why it ended.
    /// Returns Ok(true) when a new connection is up.
    pub(super) fn on_connection_lost(&mut self, err: Option<Error>) -> Result<bool, Error> {
        // Frames that arrived whole before the failure (a failed write finds them still in
        // the decoder) are delivered, not dropped with the connection.
        self.hold_decoded();
        self.drop_connection();
        let disconnecting = self.session.phase() == Phase::Disconnecting;
        let reason = err.or_else(|| self.last_broker_error.take());
        self.listeners.each(|l| l.on_disconnected(reason.as_ref()));
        if self.cfg.auto_reconnect && !disconnecting {
            log::warn!(
                "connection lost ({}); reconnecting",
                reason
                    .as_ref()
                    .map_or("closed by broker".into(), |e| e.to_string())
            );
            self.pending_ack = None;
            self.loop_ack = None;
            // A broker that closes every connection right after CONNECTED must not be
            // reconnected to in a tight loop: such a drop counts as a failed round.
            let quick = !self.heard_since_connected
                && self.connected_at.is_some_and(|t| t.elapsed() < QUICK_DROP);
            self.quick_drops = if quick { self.quick_drops + 1 } else { 0 };
            if self.quick_drops > 0 {
                // The reconnect that follows is a round; past the policy's rounds, give up.
                if !self.cfg.reconnect.allows(self.quick_drops - 1) {
                    self.close_reason = reason;
                    return Ok(false);
                }
                let mut delay = self.cfg.reconnect.delay(self.quick_drops);
                if let Some(d) = self.call_deadline {
                    delay = delay.min(d.saturating_duration_since(Instant::now()));
                }
                std::thread::sleep(delay);
            }
            match self.connect_rounds() {
                Ok(()) => {
                    self.drop_held_unacked();
                    self.reconnects += 1;
                    let n = self.reconnects;
                    self.listeners.each(|l| l.on_reconnected(n));
                    return Ok(true);
                }
                Err(e) => {
                    self.close_reason = Some(e);
                    return Ok(false);
                }
            }
        }
        self.close_reason = reason;
        Ok(false)
    }

    // ---- closing -------------------------------------------------------------------------

    /// Sends DISCONNECT with a receipt, waits for it (at most the disconnect timeout), and
    /// closes. A message handed out but not yet auto-ACKed stays un-ACKed.
    ///
    /// # Errors
    /// A receipt [`Timeout`] or I/O error; the connection is closed either way.
    pub fn disconnect(&mut self) -> Result<(), Error> {
        let timeout = self.cfg.disconnect_timeout;
        self.disconnect_within(timeout)
    }

    pub(super) fn disconnect_within(&mut self, timeout: Duration) -> Result<(), Error> {
        self.pending_ack = None;
        self.loop_ack = None;
        if self.conn.is_none() || self.session.phase() != Phase::Connected {
            self.drop_connection();
            return Ok(());
        }
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
        match res {
            Err(Error::NotConnected(_)) => Ok(()), // closed right after the receipt: fine
            other => other,
        }
    }
}
