//! The [`Transaction`] guard: BEGIN on creation, ABORT when dropped un-committed.

use std::time::{Duration, Instant};

use std::ops::ControlFlow;

use super::receiving::run_loop;
use super::{LoopOptions, SendBuilder, StompClient};
use crate::error::Error;
use crate::frame::{header, Command, Frame};

/// An open transaction, from [`StompClient::transaction`]. SENDs, ACKs and NACKs made through
/// it are held by the broker until [`Transaction::commit`]; dropping the guard un-committed
/// sends ABORT (best effort: errors are logged, never panicked on).
///
/// Messages received through [`Transaction::recv`] are auto-ACKed inside the transaction, so
/// a commit consumes them and an abort gives them back.
///
/// If the client reconnected since BEGIN, the broker has forgotten the transaction: every
/// operation then fails with [`Error::TransactionLost`] rather than commit half of it.
#[derive(Debug)]
pub struct Transaction<'a> {
    client: &'a mut StompClient,
    id: String,
    epoch: u64,
    done: bool,
}

impl<'a> Transaction<'a> {
    pub(super) fn begin(client: &'a mut StompClient, id: String) -> Result<Self, Error> {
        client.send_frame(&Frame::new(Command::Begin).with_header(header::TRANSACTION, &id))?;
        let epoch = client.epoch;
        Ok(Transaction {
            client,
            id,
            epoch,
            done: false,
        })
    }

    /// The transaction id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The client, for anything outside the transaction.
    pub fn client(&mut self) -> &mut StompClient {
        self.client
    }

    fn check(&self) -> Result<(), Error> {
        if self.done {
            return Err(Error::invalid(format!(
                "transaction {} is already finished",
                self.id
            )));
        }
        if self.client.epoch != self.epoch {
            return Err(Error::TransactionLost(self.id.clone()));
        }
        Ok(())
    }

    /// Sends `body` to `destination` inside the transaction.
    ///
    /// # Errors
    /// [`Error::TransactionLost`] after a reconnect; otherwise as [`StompClient::send`].
    pub fn send(&mut self, destination: &str, body: impl AsRef<[u8]>) -> Result<(), Error> {
        self.check()?;
        let headers = [
            (header::DESTINATION, destination),
            (header::TRANSACTION, self.id.as_str()),
        ];
        self.client.send_parts(&headers, body.as_ref())
    }

    /// A message with options, inside the transaction.
    ///
    /// # Errors
    /// [`Error::TransactionLost`] after a reconnect.
    pub fn message(&mut self, destination: &str) -> Result<SendBuilder<'_>, Error> {
        self.check()?;
        let id = self.id.clone();
        Ok(self.client.message(destination).transaction(&id))
    }

    /// ACKs a MESSAGE inside the transaction.
    ///
    /// # Errors
    /// As [`StompClient::ack`].
    pub fn ack(&mut self, message: &Frame) -> Result<(), Error> {
        self.check()?;
        self.client
            .acknowledge(message, Command::Ack, Some(&self.id))
    }

    /// NACKs a MESSAGE inside the transaction.
    ///
    /// # Errors
    /// As [`StompClient::nack`].
    pub fn nack(&mut self, message: &Frame) -> Result<(), Error> {
        self.check()?;
        self.client
            .acknowledge(message, Command::Nack, Some(&self.id))
    }

    /// The next frame; its auto-ACK joins the transaction.
    ///
    /// # Errors
    /// As [`StompClient::recv`].
    pub fn recv(&mut self) -> Result<Option<Frame>, Error> {
        self.check()?;
        self.client.recv_inner(None, Some(&self.id))
    }

    /// The next frame within `timeout`; its auto-ACK joins the transaction.
    ///
    /// # Errors
    /// As [`StompClient::recv_timeout`].
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Frame>, Error> {
        self.check()?;
        self.client.recv_inner(Some(timeout), Some(&self.id))
    }

    /// [`StompClient::try_loop_with`] inside the transaction: the callback gets the
    /// transaction, so what it sends, ACKs and NACKs through it joins the transaction, and
    /// every auto-ACK joins it too. Commit afterwards to apply all of it at once.
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let mut client = stompy::StompClient::connect(broker.addr())?;
    /// use std::ops::ControlFlow;
    /// use stompy::AckMode;
    /// client.subscribe("/queue/in", AckMode::ClientIndividual)?;
    /// client.send("/queue/in", "a")?;
    /// let mut tx = client.transaction()?;
    /// tx.loop_with(|tx, frame| {
    ///     tx.send("/queue/out", frame.body())?; // inside the transaction
    ///     Ok::<_, stompy::Error>(ControlFlow::Break(()))
    /// })?;
    /// tx.commit()?; // the forward and the ACK of "a", together
    /// # Ok::<(), stompy::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`StompClient::try_loop_with`]; [`Error::TransactionLost`] after a reconnect.
    pub fn loop_with<T, E, F>(&mut self, mut callback: F) -> Result<Option<T>, E>
    where
        E: From<Error>,
        F: FnMut(&mut Transaction<'a>, Frame) -> Result<ControlFlow<T>, E>,
    {
        self.check()?;
        let opts = LoopOptions {
            timeout: None,
            transaction: Some(self.id.clone()),
        };
        run_loop(self, |tx| &mut *tx.client, &opts, &mut callback)
    }

    /// Commits: the broker applies every SEND, ACK and NACK of the transaction. The message
    /// last received through the transaction is ACKed first.
    ///
    /// # Errors
    /// [`Error::TransactionLost`] after a reconnect; otherwise as [`StompClient::send_frame`].
    pub fn commit(mut self) -> Result<(), Error> {
        self.finish(Command::Commit, None)
    }

    /// Commits and waits for the broker's receipt.
    ///
    /// # Errors
    /// As [`Transaction::commit`] and [`StompClient::wait_for_receipt`].
    pub fn commit_and_wait(mut self, timeout: Duration) -> Result<(), Error> {
        self.finish(Command::Commit, Some(timeout))
    }

    /// Aborts: the broker drops every SEND, ACK and NACK of the transaction.
    ///
    /// # Errors
    /// As [`StompClient::send_frame`].
    pub fn abort(mut self) -> Result<(), Error> {
        self.finish(Command::Abort, None)
    }

    fn finish(&mut self, command: Command, wait: Option<Duration>) -> Result<(), Error> {
        self.check()?;
        self.done = true;
        if self.client.acks.due_in(&self.id) {
            if command == Command::Commit {
                self.client.send_pending_ack()?;
            } else {
                self.client.acks.take_due();
            }
        }
        let mut f = Frame::new(command).with_header(header::TRANSACTION, &self.id);
        let receipt = wait.map(|_| self.client.new_receipt_id());
        if let Some(r) = &receipt {
            f.headers_mut().push(header::RECEIPT, r);
        }
        self.client.send_frame(&f)?;
        match (receipt, wait) {
            (Some(r), Some(t)) => self.client.wait_for_receipt(&r, t),
            _ => Ok(()),
        }
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.done || self.client.epoch != self.epoch || !self.client.is_connected() {
            return;
        }
        if self.client.acks.due_in(&self.id) {
            self.client.acks.take_due();
        }
        let f = Frame::new(Command::Abort).with_header(header::TRANSACTION, &self.id);
        let res = self.client.session.send_frame(&f, Instant::now());
        if let Err(e) = res.and_then(|()| self.client.flush_now()) {
            log::warn!("could not abort transaction {}: {}", self.id, e.report());
        }
    }
}
