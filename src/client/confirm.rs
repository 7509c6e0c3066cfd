//! Confirmed sends (at-least-once publishing): every SEND carries a receipt, and the client
//! keeps it until the RECEIPT comes, resending it after a reconnect.

use super::driver::Turn;
use super::*;
use crate::frame::Headers;

impl StompClient {
    // ---- confirmed sends -----------------------------------------------------------------

    /// Sends `body` to `destination` and keeps the frame until the broker confirms it with a
    /// RECEIPT (which the client asks for itself). Sends are pipelined: this returns once the
    /// frame is written, not when it is confirmed.
    ///
    /// If the connection is lost first, the frame is sent again on the next one (after the
    /// subscriptions, in the original order, before anything new): nothing confirmed-sent is
    /// lost, and a frame the broker took just before the loss may arrive twice. At most
    /// [`ClientBuilder::confirm_window`] frames wait unconfirmed; a send into a full window
    /// waits for receipts, at most the write timeout. While a lost connection is being
    /// re-established, a send with room in the window is only kept, and returns at once.
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let mut client = stompy::StompClient::connect(broker.addr())?;
    /// use std::time::Duration;
    /// for i in 0..100 {
    ///     client.send_confirmed("/queue/orders", format!("order {i}"))?;
    /// }
    /// client.wait_for_confirms(Duration::from_secs(10))?; // all 100 are with the broker
    /// assert_eq!(client.unconfirmed(), 0);
    /// # Ok::<(), stompy::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Timeout`] with [`Timeout::Confirm`] when the window stayed full past the write
    /// timeout; [`Error::NotConnected`] when the connection is gone for good; an ERROR frame
    /// that arrived meanwhile; [`Error::Invalid`] for a frame the version cannot carry.
    pub fn send_confirmed(
        &mut self,
        destination: &str,
        body: impl AsRef<[u8]>,
    ) -> Result<(), Error> {
        // Room for the receipt header too: one allocation for the headers, one for the body.
        let mut headers = Headers::with_capacity(2, destination.len() + 48);
        headers.push(header::DESTINATION, destination);
        let frame = Frame::from_parts(Command::Send, headers, body.as_ref().to_vec());
        self.send_confirmed_frame(frame)
    }

    /// Sends a SEND frame (outside any transaction) as a confirmed send.
    pub(super) fn send_confirmed_frame(&mut self, frame: Frame) -> Result<(), Error> {
        let timeout = self.cfg.write_timeout;
        let deadline = deadline_after(Instant::now(), timeout);
        let size = Session::confirm_size(&frame);
        while !self.session.has_confirm_room(size) {
            self.wait_for_progress(deadline, Timeout::Confirm(timeout))?;
        }
        if self.conn.is_none() {
            if self.reconnecting.is_none() {
                return Err(self.not_connected());
            }
            // Kept: written when the connection is back.
            return self.session.send_confirmed(frame, Instant::now());
        }
        let now = self.recent();
        self.session.send_confirmed(frame, now)?;
        // A write that finds the connection gone: the frame is kept, and sent again on the
        // next connection.
        let res = self.flush_after_send();
        self.ride_out_lost_write(res)
    }

    /// Waits until every confirmed send so far is confirmed. Frames that arrive meanwhile are
    /// kept for `recv`; a lost connection is re-established (with auto-reconnect) and the
    /// unconfirmed frames sent again, all within `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] with [`Timeout::Confirm`] when some are still unconfirmed at the
    /// deadline (see [`StompClient::unconfirmed_frames`]); [`Error::Unconfirmed`] when the
    /// connection is gone for good; an ERROR frame that arrived meanwhile.
    pub fn wait_for_confirms(&mut self, timeout: Duration) -> Result<(), Error> {
        let deadline = deadline_after(Instant::now(), timeout);
        self.confirm_until(deadline, timeout)
    }

    pub(super) fn confirm_until(
        &mut self,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), Error> {
        while self.unconfirmed() > 0 {
            if self.conn.is_none() && self.reconnecting.is_none() {
                let count = self.unconfirmed();
                return Err(Error::Unconfirmed { count });
            }
            self.wait_for_progress(deadline, Timeout::Confirm(timeout))?;
        }
        Ok(())
    }

    /// One turn of waiting for receipts: frames are kept for `recv`, a lost connection is
    /// re-established.
    fn wait_for_progress(&mut self, deadline: Instant, timeout: Timeout) -> Result<(), Error> {
        match self.turn(Some(deadline))? {
            Turn::Frame(f) => self.inbox.push(f)?,
            Turn::Progress | Turn::Reconnected => {}
            Turn::Closed => return Err(self.not_connected()),
            Turn::Deadline | Turn::Reconnecting => return Err(Error::Timeout(timeout)),
        }
        // Frames that keep coming must not hold off the deadline.
        if Instant::now() >= deadline {
            return Err(Error::Timeout(timeout));
        }
        Ok(())
    }

    /// How many confirmed sends wait for their receipts.
    pub fn unconfirmed(&self) -> usize {
        self.session.unconfirmed_len().0
    }

    /// The confirmed sends that wait for their receipts, oldest first, each with the
    /// `receipt` header the client gave it.
    pub fn unconfirmed_frames(&self) -> impl Iterator<Item = &Frame> + '_ {
        self.session.unconfirmed()
    }

    /// Gives up on the confirmed sends still unconfirmed: the client forgets them (they are
    /// not sent again) and hands them back, oldest first, for the application to keep,
    /// log or send elsewhere.
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let mut client = stompy::StompClient::connect(broker.addr())?;
    /// use std::time::Duration;
    /// client.send_confirmed("/queue/orders", "one")?;
    /// if client.wait_for_confirms(Duration::from_secs(5)).is_err() {
    ///     for frame in client.take_unconfirmed() {
    ///         eprintln!("not confirmed: {:?}", frame.text());
    ///     }
    /// }
    /// # Ok::<(), stompy::Error>(())
    /// ```
    pub fn take_unconfirmed(&mut self) -> Vec<Frame> {
        self.session.take_unconfirmed()
    }
}
