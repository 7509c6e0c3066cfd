//! The server side of the WebSocket upgrade on an accepted connection: [`WsAccept`] runs
//! tungstenite's handshake as the event loop finds the socket ready, never blocking it, and
//! answers with the highest STOMP subprotocol the client offers. What it gives is the
//! transport's [`WsStream`], as a client's connection has.

use std::io::{self, ErrorKind};

use tungstenite::handshake::server::{Callback, ErrorResponse, Request, Response, ServerHandshake};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use tungstenite::http::{HeaderMap, HeaderValue};
use tungstenite::protocol::WebSocketConfig;

use crate::transport::sock::Sock;
use crate::transport::ws::{into_io, WsStream, SUBPROTOCOLS};
use crate::transport::Base as Inner;

/// The server side of the WebSocket handshake over a non-blocking stream, driven by
/// [`WsAccept::advance`] whenever the socket is ready, until it gives a [`WsStream`].
pub(crate) struct WsAccept {
    mid: Option<MidHandshake<ServerHandshake<Inner, Negotiate>>>,
}

impl WsAccept {
    /// Starts the handshake on an accepted connection (TLS, if any, included). Messages larger
    /// than `max_message` bytes are refused. No I/O happens here.
    pub(crate) fn start(inner: Inner, max_message: usize) -> WsAccept {
        let config = WebSocketConfig::default()
            .max_message_size(Some(max_message))
            .max_frame_size(Some(max_message));
        WsAccept {
            mid: Some(ServerHandshake::start(inner, Negotiate, Some(config))),
        }
    }

    /// Reads the upgrade request and writes the response as far as the socket allows:
    /// `Ok(Some(stream))` once done, `Ok(None)` while it waits for the socket.
    ///
    /// # Errors
    /// A failed handshake (not a WebSocket upgrade, a TLS failure, the peer gone), as an I/O
    /// error that [`crate::transport::io_error`] describes. The connection cannot be used after it.
    pub(crate) fn advance(&mut self) -> io::Result<Option<WsStream>> {
        let Some(mid) = self.mid.take() else {
            return Err(io::Error::new(
                ErrorKind::NotConnected,
                "websocket handshake failed",
            ));
        };
        match mid.handshake() {
            Ok(ws) => Ok(Some(WsStream::new(ws))),
            Err(HandshakeError::Interrupted(mid)) => {
                self.mid = Some(mid);
                Ok(None)
            }
            Err(HandshakeError::Failure(tungstenite::Error::Io(e))) => Err(e),
            Err(HandshakeError::Failure(e)) => Err(into_io(e)),
        }
    }

    /// The stream under the handshake, until it failed.
    fn inner_mut(&mut self) -> Option<&mut Inner> {
        Some(self.mid.as_mut()?.get_mut().get_mut())
    }

    /// The socket, until the handshake failed.
    pub(crate) fn sock_mut(&mut self) -> Option<&mut Sock> {
        Some(self.inner_mut()?.sock_mut())
    }

    /// TLS records under the handshake waiting for the socket.
    pub(crate) fn wants_write(&self) -> bool {
        self.mid
            .as_ref()
            .is_some_and(|m| m.get_ref().get_ref().wants_write())
    }

    /// Pushes those records to the socket; `Ok(true)` when none is left.
    pub(crate) fn flush_tls(&mut self) -> io::Result<bool> {
        match self.inner_mut() {
            #[cfg(feature = "tls")]
            Some(Inner::Tls(t)) => t.flush_tls(),
            _ => Ok(true),
        }
    }
}

/// Answers the upgrade request with the highest STOMP subprotocol the client offers (none when
/// it offers none, as some clients do).
#[derive(Debug, Clone, Copy)]
struct Negotiate;

impl Callback for Negotiate {
    fn on_request(
        self,
        request: &Request,
        mut response: Response,
    ) -> Result<Response, ErrorResponse> {
        if let Some(chosen) = choose_subprotocol(request.headers()) {
            log::debug!("websocket {}: subprotocol {chosen}", request.uri());
            response
                .headers_mut()
                .insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(chosen));
        }
        Ok(response)
    }
}

/// The highest of [`SUBPROTOCOLS`] listed in the `Sec-WebSocket-Protocol` headers.
fn choose_subprotocol(headers: &HeaderMap) -> Option<&'static str> {
    let offered: Vec<&str> = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    SUBPROTOCOLS
        .iter()
        .rev()
        .find(|p| offered.iter().any(|o| o.eq_ignore_ascii_case(p)))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_highest_stomp_subprotocol_offered_wins() {
        let cases: [(&[&str], Option<&str>); 6] = [
            (&["v10.stomp, v11.stomp, v12.stomp"], Some("v12.stomp")),
            (&["v11.stomp", "v10.stomp"], Some("v11.stomp")),
            (&["mqtt", "V10.STOMP"], Some("v10.stomp")),
            (&["v12.stomp,v10.stomp"], Some("v12.stomp")),
            (&["mqtt"], None),
            (&[], None),
        ];
        for (values, expected) in cases {
            assert_eq!(choose_subprotocol(&offer(values)), expected, "{values:?}");
        }
    }
}
