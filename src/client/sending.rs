//! Sending: messages, subscriptions, transactions.

use super::*;

impl StompClient {
    // ---- sending -------------------------------------------------------------------------

    /// Sends `body` to `destination`. With [confirmed sends](ClientBuilder::confirmed_sends)
    /// on, as [`StompClient::send_confirmed`]; otherwise the frame is written and forgotten: if
    /// the connection is lost before the broker took it, it is lost too.
    ///
    /// # Errors
    /// As [`StompClient::send_frame`].
    pub fn send(&mut self, destination: &str, body: impl AsRef<[u8]>) -> Result<(), Error> {
        let body = body.as_ref();
        if self.cfg.confirm {
            return self.send_confirmed(destination, body);
        }
        self.ensure_connected()?;
        self.write_or_fail(|c| {
            let now = c.recent();
            c.session.send_to(destination, body, now)?;
            c.flush_after_send()
        })
    }

    /// Sends a SEND frame straight from its headers and body: no [`Frame`] is built.
    pub(crate) fn send_parts(
        &mut self,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), Error> {
        self.ensure_connected()?;
        self.write_or_fail(|c| {
            let now = c.recent();
            let headers = headers.iter().copied();
            c.session.send_parts(Command::Send, headers, body, now)?;
            c.flush_after_send()
        })
    }

    /// Sends `value` as a JSON body with `content-type:application/json`.
    ///
    /// # Errors
    /// [`Error::Body`] when `value` cannot be serialised; otherwise as
    /// [`StompClient::send_frame`].
    pub fn send_json<T: serde::Serialize>(
        &mut self,
        destination: &str,
        value: &T,
    ) -> Result<(), Error> {
        self.message(destination).json(value)?.send().map(drop)
    }

    /// A message with headers, content type, receipt or transaction:
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let mut client = stompy::StompClient::connect(broker.addr())?;
    /// use std::time::Duration;
    /// let receipt = client
    ///     .message("/queue/orders")
    ///     .body("one")
    ///     .header("priority", "9")
    ///     .content_type("text/plain")
    ///     .receipt()
    ///     .send()?;
    /// client.wait_for_receipt(&receipt.unwrap(), Duration::from_secs(5))?;
    /// # Ok::<(), stompy::Error>(())
    /// ```
    pub fn message(&mut self, destination: &str) -> SendBuilder<'_> {
        SendBuilder::new(self, destination)
    }

    // ---- subscriptions -------------------------------------------------------------------

    /// Subscribes to `destination` with auto-ACK on; returns the subscription id.
    ///
    /// # Errors
    /// As [`StompClient::send_frame`]; [`Error::Invalid`] for `client-individual` on 1.0.
    pub fn subscribe(&mut self, destination: &str, ack: AckMode) -> Result<String, Error> {
        self.subscription(destination).ack(ack).subscribe()
    }

    /// A subscription with options: id, extra headers (selector, prefetch-count, ...), auto-ACK
    /// off, a receipt.
    pub fn subscription(&mut self, destination: &str) -> SubscribeBuilder<'_> {
        SubscribeBuilder::new(self, destination)
    }

    /// Ends a subscription.
    ///
    /// A message of this subscription handed out and not yet auto-ACKed stays un-ACKed (as on
    /// disconnect): brokers refuse or ignore ACKs after UNSUBSCRIBE, and redeliver it. Messages
    /// the broker sent before it saw the UNSUBSCRIBE are still delivered, never auto-ACKed.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an unknown id; otherwise as [`StompClient::send_frame`].
    pub fn unsubscribe(&mut self, id: &str) -> Result<(), Error> {
        self.ensure_connected()?;
        self.write_or_fail(|c| {
            c.session.unsubscribe(id, None, Instant::now())?;
            c.forget_acks_of(id);
            c.flush_after_send()
        })
    }

    // ---- transactions --------------------------------------------------------------------

    /// Begins a transaction. The guard sends ABORT when dropped un-committed.
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let mut client = stompy::StompClient::connect(broker.addr())?;
    /// let mut tx = client.transaction()?;
    /// tx.send("/queue/out", "one")?;
    /// tx.send("/queue/out", "two")?;
    /// tx.commit()?; // both or neither
    /// # Ok::<(), stompy::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`StompClient::send_frame`].
    pub fn transaction(&mut self) -> Result<Transaction<'_>, Error> {
        let id = format!("tx-{}", uuid::Uuid::new_v4().simple());
        Transaction::begin(self, id)
    }

    /// Begins a transaction with a chosen id.
    ///
    /// # Errors
    /// As [`StompClient::send_frame`].
    pub fn transaction_with_id(&mut self, id: &str) -> Result<Transaction<'_>, Error> {
        Transaction::begin(self, id.to_owned())
    }
}
