//! Builders for frames with options: [`SendBuilder`] and [`SubscribeBuilder`].

use std::time::{Duration, Instant};

use super::StompClient;
use crate::error::Error;
use crate::frame::{header, Command, Frame, Headers};
use crate::session::{AckMode, Subscription};

/// A SEND being built; from [`StompClient::message`] or
/// [`Transaction::message`](crate::Transaction::message).
#[must_use = "nothing is sent until .send()"]
#[derive(Debug)]
pub struct SendBuilder<'a> {
    client: &'a mut StompClient,
    frame: Frame,
    receipt: Option<String>,
    confirm: bool,
}

impl<'a> SendBuilder<'a> {
    pub(super) fn new(client: &'a mut StompClient, destination: &str) -> Self {
        let frame = Frame::new(Command::Send).with_header(header::DESTINATION, destination);
        SendBuilder {
            client,
            frame,
            receipt: None,
            confirm: false,
        }
    }

    /// The body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.frame = self.frame.with_body(body);
        self
    }

    /// `value` as a JSON body, with `content-type:application/json` unless one is set.
    ///
    /// # Errors
    /// [`Error::Body`] when `value` cannot be serialised.
    pub fn json<T: serde::Serialize>(mut self, value: &T) -> Result<Self, Error> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Error::body_caused("cannot serialise the body as JSON", e))?;
        if !self.frame.headers().contains(header::CONTENT_TYPE) {
            self.frame
                .headers_mut()
                .push(header::CONTENT_TYPE, "application/json");
        }
        Ok(self.body(body))
    }

    /// A header (the first given for a name wins).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.frame.headers_mut().push(name, value);
        self
    }

    /// Several headers.
    pub fn headers(mut self, headers: &Headers) -> Self {
        self.frame.headers_mut().extend(headers.iter());
        self
    }

    /// `content-type`, e.g. `text/plain;charset=utf-8`.
    pub fn content_type(self, content_type: &str) -> Self {
        self.header(header::CONTENT_TYPE, content_type)
    }

    /// Asks for a receipt with a new id; [`SendBuilder::send`] returns it.
    pub fn receipt(mut self) -> Self {
        self.receipt = Some(self.client.new_receipt_id());
        self
    }

    /// Asks for a receipt with this id.
    pub fn receipt_id(mut self, id: &str) -> Self {
        self.receipt = Some(id.to_owned());
        self
    }

    /// Sends this message as a confirmed send ([`StompClient::send_confirmed`]), whether or
    /// not the client confirms every send.
    pub fn confirmed(mut self) -> Self {
        self.confirm = true;
        self
    }

    /// Sends inside this transaction.
    pub fn transaction(self, id: &str) -> Self {
        self.header(header::TRANSACTION, id)
    }

    /// Sends; returns the receipt id when one was asked for.
    ///
    /// # Errors
    /// As [`StompClient::send_frame`].
    pub fn send(mut self) -> Result<Option<String>, Error> {
        if let Some(r) = &self.receipt {
            self.frame.headers_mut().set(header::RECEIPT, r);
        }
        send_built(self.client, self.frame, self.confirm)?;
        Ok(self.receipt)
    }

    /// Sends with a receipt and waits for it.
    ///
    /// # Errors
    /// As [`StompClient::wait_for_receipt`].
    pub fn send_and_wait(mut self, timeout: Duration) -> Result<(), Error> {
        if self.receipt.is_none() {
            self = self.receipt();
        }
        let receipt = self.receipt.take().unwrap_or_default();
        let SendBuilder {
            client,
            mut frame,
            confirm,
            ..
        } = self;
        frame.headers_mut().set(header::RECEIPT, &receipt);
        send_built(client, frame, confirm)?;
        client.wait_for_receipt(&receipt, timeout)
    }
}

/// Sends a built SEND: confirmed when this send or the client's settings ask for it (outside
/// a transaction), the frame moving into the outbox without a copy; else as it is.
fn send_built(client: &mut StompClient, frame: Frame, confirm: bool) -> Result<(), Error> {
    let in_tx = frame.headers().contains(header::TRANSACTION);
    if (confirm || client.cfg.confirm) && !in_tx {
        client.send_confirmed_frame(frame)
    } else {
        client.send_frame(&frame)
    }
}

/// A SUBSCRIBE being built; from [`StompClient::subscription`].
#[must_use = "nothing is sent until .subscribe()"]
#[derive(Debug)]
pub struct SubscribeBuilder<'a> {
    client: &'a mut StompClient,
    sub: Subscription,
    receipt: Option<Duration>,
}

impl<'a> SubscribeBuilder<'a> {
    pub(super) fn new(client: &'a mut StompClient, destination: &str) -> Self {
        let id = client.session.next_id("sub");
        let sub = Subscription {
            id,
            destination: destination.to_owned(),
            ack: AckMode::Auto,
            headers: Headers::new(),
            auto_ack: true,
        };
        SubscribeBuilder {
            client,
            sub,
            receipt: None,
        }
    }

    /// The ack mode (default `auto`).
    pub fn ack(mut self, mode: AckMode) -> Self {
        self.sub.ack = mode;
        self
    }

    /// A chosen subscription id (default: `sub-N`, unique in this client).
    pub fn id(mut self, id: &str) -> Self {
        self.sub.id = id.to_owned();
        self
    }

    /// An extra SUBSCRIBE header: `selector`, `prefetch-count`, `activemq.prefetchSize`,
    /// `durable`, ...
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.sub.headers.push(name, value);
        self
    }

    /// `prefetch-count`: how many un-ACKed messages the broker may send at once (RabbitMQ and
    /// the embedded broker; ActiveMQ reads `activemq.prefetchSize`, which is sent too).
    pub fn prefetch(self, n: u32) -> Self {
        let n = n.to_string();
        self.header("prefetch-count", &n)
            .header("activemq.prefetchSize", &n)
    }

    /// Whether the client ACKs each message itself when the application comes back for the
    /// next one (default on; only matters in client ack modes).
    pub fn auto_ack(mut self, yes: bool) -> Self {
        self.sub.auto_ack = yes;
        self
    }

    /// Waits for the broker's RECEIPT of the SUBSCRIBE, so that messages sent afterwards by
    /// anyone are sure to reach this subscription.
    pub fn wait_receipt(mut self, timeout: Duration) -> Self {
        self.receipt = Some(timeout);
        self
    }

    /// Subscribes; returns the subscription id.
    ///
    /// # Errors
    /// As [`StompClient::send_frame`]; [`Error::Invalid`] for an id already in use or
    /// `client-individual` on STOMP 1.0; a receipt error when waiting.
    pub fn subscribe(self) -> Result<String, Error> {
        let SubscribeBuilder {
            client,
            sub,
            receipt,
        } = self;
        client.ensure_connected()?;
        let id = sub.id.clone();
        let receipt_id = receipt.map(|_| client.new_receipt_id());
        client.write_or_fail(|c| {
            c.session
                .subscribe(sub, receipt_id.as_deref(), Instant::now())?;
            c.flush_after_send()
        })?;
        if let (Some(r), Some(t)) = (receipt_id, receipt) {
            client.wait_for_receipt(&r, t)?;
        }
        Ok(id)
    }
}
