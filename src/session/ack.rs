//! Subscriptions, ack modes and the ACK / NACK frames each protocol version wants.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ProtocolError};
use crate::frame::{header, Command, Frame, FrameRef, Headers, Version};

/// How the broker expects messages of a subscription to be acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AckMode {
    /// The broker considers a message delivered when it sends it. No ACKs.
    #[default]
    Auto,
    /// ACK is cumulative: acknowledging a message acknowledges every earlier one of the
    /// subscription.
    Client,
    /// Each message is acknowledged on its own (STOMP 1.1+).
    ClientIndividual,
}

impl AckMode {
    /// The value of the `ack` header.
    pub fn as_str(self) -> &'static str {
        match self {
            AckMode::Auto => "auto",
            AckMode::Client => "client",
            AckMode::ClientIndividual => "client-individual",
        }
    }

    /// True when messages of this mode must be acknowledged.
    pub fn needs_ack(self) -> bool {
        self != AckMode::Auto
    }
}

impl fmt::Display for AckMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AckMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "auto" => Ok(AckMode::Auto),
            "client" => Ok(AckMode::Client),
            "client-individual" => Ok(AckMode::ClientIndividual),
            other => Err(Error::invalid(format!("unknown ack mode {other:?}"))),
        }
    }
}

/// One active subscription, as the session remembers it (to re-subscribe after a reconnect).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Subscription {
    /// The subscription id.
    pub id: String,
    /// The destination.
    pub destination: String,
    /// The ack mode.
    pub ack: AckMode,
    /// Extra headers sent with SUBSCRIBE (selector, prefetch-count, ...).
    pub headers: Headers,
    /// Whether the client ACKs messages itself when the application comes back for more.
    pub auto_ack: bool,
}

impl Subscription {
    /// The subscription a SUBSCRIBE frame asks for: its `id` (or one from `new_id` when it has
    /// none, as a STOMP 1.0 frame may), `destination`, `ack` mode (default `auto`) and every
    /// other header but `receipt`. Auto-ACK is on, as for a subscription made by the client.
    ///
    /// # Errors
    /// [`Error::Invalid`] without a `destination` or with an unknown `ack` mode.
    pub fn from_frame(frame: &Frame, new_id: impl FnOnce() -> String) -> Result<Self, Error> {
        let destination = frame
            .destination()
            .ok_or_else(|| Error::invalid("SUBSCRIBE needs a destination"))?;
        let ack = frame
            .get(header::ACK)
            .map_or(Ok(AckMode::Auto), str::parse)?;
        let mut headers = Headers::new();
        let own = [
            header::DESTINATION,
            header::ID,
            header::ACK,
            header::RECEIPT,
        ];
        for (k, v) in frame.headers().iter().filter(|(k, _)| !own.contains(k)) {
            headers.push(k, v);
        }
        Ok(Subscription {
            id: frame.get(header::ID).map_or_else(new_id, str::to_owned),
            destination: destination.to_owned(),
            ack,
            headers,
            auto_ack: true,
        })
    }

    /// The SUBSCRIBE frame for this subscription.
    pub fn subscribe_frame(&self) -> Frame {
        let mut f = Frame::new(Command::Subscribe)
            .with_header(header::DESTINATION, &self.destination)
            .with_header(header::ID, &self.id)
            .with_header(header::ACK, self.ack.as_str());
        for (k, v) in self.headers.iter() {
            f.headers_mut().push(k, v);
        }
        f
    }
}

/// What is needed to acknowledge one received MESSAGE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckToken {
    /// `message-id` of the MESSAGE (1.0 / 1.1).
    pub message_id: Option<String>,
    /// `subscription` of the MESSAGE (1.1).
    pub subscription: Option<String>,
    /// `ack` of the MESSAGE (1.2).
    pub ack: Option<String>,
}

impl AckToken {
    /// The token of a MESSAGE frame: a [`Frame`], or a [`FrameRef`] lent by
    /// [`StompClient::recv_ref`](crate::StompClient::recv_ref) (keep the token, let the frame
    /// go, then ACK).
    ///
    /// ```
    /// # let broker = stompy::broker::Broker::bind("127.0.0.1:0")?;
    /// # let mut client = stompy::StompClient::connect(broker.addr())?;
    /// use stompy::{AckMode, AckToken};
    /// client.subscription("/queue/lent").ack(AckMode::ClientIndividual).auto_ack(false).subscribe()?;
    /// client.send("/queue/lent", "x")?;
    /// let token = AckToken::of(client.recv_ref()?.unwrap());
    /// client.ack_token(&token)?;
    /// # Ok::<(), stompy::Error>(())
    /// ```
    pub fn of<'a>(frame: impl Into<FrameRef<'a>>) -> Self {
        let frame = frame.into();
        let text = |name| frame.get(name).map(str::to_owned);
        AckToken {
            message_id: text(header::MESSAGE_ID),
            subscription: text(header::SUBSCRIPTION),
            ack: text(header::ACK),
        }
    }

    /// Builds the ACK or NACK frame `version` wants: 1.0 `message-id`; 1.1 `message-id` +
    /// `subscription`; 1.2 `id` = the MESSAGE's `ack` header.
    ///
    /// # Errors
    /// [`Error::Invalid`] for NACK on 1.0, or when the MESSAGE lacked the header needed.
    pub fn frame(
        &self,
        command: Command,
        version: Version,
        transaction: Option<&str>,
    ) -> Result<Frame, Error> {
        let mut f = Frame::new(command);
        for (name, value) in self
            .ids()
            .headers(command, version, transaction)?
            .iter()
            .flatten()
        {
            f.headers_mut().push(name, &String::from_utf8_lossy(value));
        }
        Ok(f)
    }

    /// The token's identifiers, borrowed.
    pub(crate) fn ids(&self) -> AckIds<'_> {
        AckIds {
            message_id: self.message_id.as_deref().map(str::as_bytes),
            subscription: self.subscription.as_deref().map(str::as_bytes),
            ack: self.ack.as_deref().map(str::as_bytes),
        }
    }
}

/// The headers of an ACK or NACK: up to three names and values.
pub(crate) type AckHeaders<'a> = [Option<(&'static str, &'a [u8])>; 3];

/// What identifies a MESSAGE to ACK or NACK, borrowed from the frame or from an [`AckToken`]:
/// an explicit ACK needs no copy of its headers, and no proof that they are UTF-8 (they are
/// only compared and written back).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct AckIds<'a> {
    message_id: Option<&'a [u8]>,
    subscription: Option<&'a [u8]>,
    ack: Option<&'a [u8]>,
}

impl std::fmt::Debug for AckIds<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn text(v: Option<&[u8]>) -> Option<std::borrow::Cow<'_, str>> {
            v.map(String::from_utf8_lossy)
        }
        f.debug_struct("AckIds")
            .field("message_id", &text(self.message_id))
            .field("subscription", &text(self.subscription))
            .field("ack", &text(self.ack))
            .finish()
    }
}

impl<'a> AckIds<'a> {
    /// Identifiers given one by one.
    pub(crate) fn new(
        message_id: Option<&'a [u8]>,
        subscription: Option<&'a [u8]>,
        ack: Option<&'a [u8]>,
    ) -> Self {
        AckIds {
            message_id,
            subscription,
            ack,
        }
    }

    /// The identifiers of a MESSAGE frame.
    pub(crate) fn of(frame: &'a Frame) -> Self {
        Self::of_headers(frame.headers())
    }

    /// The identifiers in a MESSAGE frame's headers.
    pub(crate) fn of_headers(headers: &'a Headers) -> Self {
        let [message_id, subscription, ack] =
            headers.get_bytes_each([header::MESSAGE_ID, header::SUBSCRIPTION, header::ACK]);
        AckIds {
            message_id,
            subscription,
            ack,
        }
    }

    /// What a STOMP 1.2 ACK names the MESSAGE by: its `ack` or, from a broker that sends none,
    /// its `message-id` (as RabbitMQ, where the two are equal, and the embedded broker accept).
    #[inline]
    pub(crate) fn id_1_2(&self) -> Option<&'a [u8]> {
        self.ack.or(self.message_id)
    }

    /// The `subscription` the MESSAGE named.
    pub(crate) fn subscription(&self) -> Option<&'a [u8]> {
        self.subscription
    }

    /// True when `other` names the same MESSAGE as these identifiers in `version`: by what an
    /// ACK names it by (see [`AckIds::headers`]).
    pub(crate) fn same_message(&self, other: AckIds<'_>, version: Version) -> bool {
        match version {
            Version::V1_2 => {
                let id = self.id_1_2();
                id.is_some() && id == other.id_1_2()
            }
            _ => {
                self.message_id.is_some()
                    && self.message_id == other.message_id
                    && self.subscription == other.subscription
            }
        }
    }

    /// True when an ACK or NACK frame (written for `version`) acknowledges the MESSAGE these
    /// identifiers came from.
    pub(crate) fn acked_by(&self, ack_frame: &Frame, version: Version) -> bool {
        match version {
            Version::V1_2 => {
                let id = ack_frame.get_bytes(header::ID);
                id.is_some() && id == self.id_1_2()
            }
            _ => {
                let id = ack_frame.get_bytes(header::MESSAGE_ID);
                let sub = ack_frame.get_bytes(header::SUBSCRIPTION);
                id.is_some() && id == self.message_id && (sub.is_none() || sub == self.subscription)
            }
        }
    }

    /// The headers of [`AckToken::frame`], borrowed: lets the session encode an ACK without
    /// building a frame.
    pub(crate) fn headers<'b>(
        self,
        command: Command,
        version: Version,
        transaction: Option<&'b str>,
    ) -> Result<AckHeaders<'b>, Error>
    where
        'a: 'b,
    {
        let missing = |h: &str| {
            Error::Protocol(ProtocolError::Unexpected(format!(
                "cannot {command}: the MESSAGE has no {h} header"
            )))
        };
        let mut out = [None; 3];
        match version {
            Version::V1_0 => {
                if command == Command::Nack {
                    return Err(Error::invalid("NACK does not exist in STOMP 1.0"));
                }
                let id = self.message_id.ok_or_else(|| missing("message-id"))?;
                out[0] = Some((header::MESSAGE_ID, id));
            }
            Version::V1_1 => {
                let id = self.message_id.ok_or_else(|| missing("message-id"))?;
                let sub = self.subscription.ok_or_else(|| missing("subscription"))?;
                out[0] = Some((header::MESSAGE_ID, id));
                out[1] = Some((header::SUBSCRIPTION, sub));
            }
            Version::V1_2 => {
                out[0] = Some((header::ID, self.id_1_2().ok_or_else(|| missing("ack"))?));
            }
        }
        out[2] = transaction.map(|tx| (header::TRANSACTION, tx.as_bytes()));
        Ok(out)
    }
}
