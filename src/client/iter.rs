//! Iterating over frames: `for frame in &mut client` and [`Frames`].

use super::{clone_error, StompClient};
use crate::error::Error;
use crate::frame::Frame;

/// `for frame in &mut client`: yields frames until the connection closes or fails.
/// Afterwards [`StompClient::close_reason`] tells why it ended (`None` for a clean close).
impl Iterator for &mut StompClient {
    type Item = Frame;

    fn next(&mut self) -> Option<Frame> {
        match self.recv() {
            Ok(f) => f,
            Err(e) => {
                self.close_reason = Some(e);
                None
            }
        }
    }
}

/// An iterator of `Result<Frame, Error>` from [`StompClient::frames`]: ERROR frames and other
/// non-fatal errors come inline and iteration goes on; it ends on a clean close, or after
/// yielding a fatal error.
#[derive(Debug)]
pub struct Frames<'a> {
    client: &'a mut StompClient,
    done: bool,
}

impl<'a> Frames<'a> {
    pub(super) fn new(client: &'a mut StompClient) -> Self {
        Frames {
            client,
            done: false,
        }
    }
}

impl Iterator for Frames<'_> {
    type Item = Result<Frame, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.client.recv() {
            Ok(Some(f)) => Some(Ok(f)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                if e.is_fatal() || !self.client.is_connected() {
                    self.done = true;
                    self.client.close_reason = Some(clone_error(&e));
                }
                Some(Err(e))
            }
        }
    }
}
