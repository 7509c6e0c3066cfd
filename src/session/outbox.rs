//! The outbox of confirmed sends: every SEND that asked for a receipt on the client's behalf
//! and has not had it yet, in the order sent, bounded in frames and bytes.
//!
//! A RECEIPT releases its frame; after a reconnect every frame still here is written again, in
//! order, before anything new. Frames are kept whole (not encoded) so that a resend to a broker
//! that negotiated another protocol version is escaped for that version.

use std::collections::VecDeque;

use crate::frame::{header, Frame};

/// How many unconfirmed frames (and bytes of them) a client keeps before a confirmed send
/// waits for receipts.
///
/// ```
/// use stompy::session::ConfirmWindow;
/// let w = ConfirmWindow::default();
/// assert_eq!((w.frames, w.bytes), (1024, 16 * 1024 * 1024));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfirmWindow {
    /// Most frames kept unconfirmed (at least 1).
    pub frames: usize,
    /// Most bytes kept unconfirmed (headers and bodies); one frame larger than this is still
    /// sent, alone in the window.
    pub bytes: usize,
}

impl Default for ConfirmWindow {
    fn default() -> Self {
        ConfirmWindow {
            frames: 1024,
            bytes: 16 * 1024 * 1024,
        }
    }
}

/// What a RECEIPT did to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Confirmed {
    /// It released a frame whose receipt id the outbox made up: nobody else waits for it.
    Own,
    /// It released a frame whose receipt id the application chose (and may wait for).
    Named(String),
}

#[derive(Debug)]
struct Entry {
    seq: u64,
    /// The receipt id, when the application chose it; else `prefix` + `seq`.
    named: Option<String>,
    frame: Frame,
    size: usize,
}

/// See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Outbox {
    /// Starts every receipt id the outbox makes up: unique to this client.
    prefix: String,
    next_seq: u64,
    /// Ordered by `seq`.
    entries: VecDeque<Entry>,
    bytes: usize,
    window: ConfirmWindow,
}

impl Outbox {
    pub(crate) fn new(window: ConfirmWindow) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Outbox {
            prefix: format!("c{}-", &id[..12]),
            next_seq: 0,
            entries: VecDeque::new(),
            bytes: 0,
            window,
        }
    }

    /// Frames sent and not yet confirmed.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes of the frames not yet confirmed.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// True when a frame of `size` bytes fits in the window now.
    pub(crate) fn has_room(&self, size: usize) -> bool {
        self.entries.is_empty()
            || (self.entries.len() < self.window.frames.max(1)
                && self.bytes.saturating_add(size) <= self.window.bytes)
    }

    /// The bytes a frame accounts for in the window.
    pub(crate) fn size_of(frame: &Frame) -> usize {
        frame.body().len() + frame.headers().byte_len() + 32
    }

    /// The receipt id the next frame pushed without a name of its own will carry.
    pub(crate) fn next_receipt_id(&self) -> String {
        use std::fmt::Write;
        let mut id = String::with_capacity(self.prefix.len() + 20);
        id.push_str(&self.prefix);
        let _ = write!(id, "{}", self.next_seq);
        id
    }

    /// Keeps `frame`, which carries `receipt` (made by [`Outbox::next_receipt_id`] or chosen by
    /// the application), until its RECEIPT comes. The caller checked [`Outbox::has_room`].
    pub(crate) fn push(&mut self, frame: Frame) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let receipt = frame.get(header::RECEIPT).unwrap_or_default();
        let named = (self.seq_of(receipt) != Some(seq)).then(|| receipt.to_owned());
        let size = Self::size_of(&frame);
        self.bytes += size;
        self.entries.push_back(Entry {
            seq,
            named,
            frame,
            size,
        });
    }

    fn seq_of(&self, receipt_id: &str) -> Option<u64> {
        receipt_id.strip_prefix(&self.prefix)?.parse().ok()
    }

    /// True when a RECEIPT for `receipt_id` would release a frame.
    pub(crate) fn awaits(&self, receipt_id: &str) -> bool {
        self.find(receipt_id).is_some()
    }

    fn find(&self, receipt_id: &str) -> Option<usize> {
        if let Some(seq) = self.seq_of(receipt_id) {
            // Receipts come in order: the first entry, nearly always.
            let i = match self.entries.front() {
                Some(e) if e.seq == seq => 0,
                _ => self.entries.binary_search_by_key(&seq, |e| e.seq).ok()?,
            };
            return self.entries[i].named.is_none().then_some(i);
        }
        self.entries
            .iter()
            .position(|e| e.named.as_deref() == Some(receipt_id))
    }

    /// Releases the frame a RECEIPT for `receipt_id` confirms; `None` when no frame waits
    /// for it.
    pub(crate) fn confirm(&mut self, receipt_id: &str) -> Option<Confirmed> {
        let i = self.find(receipt_id)?;
        let e = self.entries.remove(i)?;
        self.bytes -= e.size;
        Some(e.named.map_or(Confirmed::Own, Confirmed::Named))
    }

    /// The frames not yet confirmed, oldest first, as they are (re)sent.
    pub(crate) fn unconfirmed(&self) -> impl Iterator<Item = &Frame> + '_ {
        self.entries.iter().map(|e| &e.frame)
    }

    /// Hands back every unconfirmed frame, oldest first, and forgets them.
    pub(crate) fn take_all(&mut self) -> Vec<Frame> {
        self.bytes = 0;
        let all = std::mem::take(&mut self.entries);
        all.into_iter().map(|e| e.frame).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Command;

    fn send(outbox: &Outbox, body: &str, receipt: Option<&str>) -> Frame {
        let id = receipt.map_or_else(|| outbox.next_receipt_id(), str::to_owned);
        Frame::new(Command::Send)
            .with_header(header::DESTINATION, "/queue/a")
            .with_header(header::RECEIPT, &id)
            .with_body(body)
    }

    fn push(outbox: &mut Outbox, body: &str) -> String {
        let f = send(outbox, body, None);
        let id = f.get(header::RECEIPT).unwrap().to_owned();
        outbox.push(f);
        id
    }

    fn bodies(outbox: &Outbox) -> Vec<String> {
        let body = |f: &Frame| String::from_utf8(f.body().to_vec()).unwrap();
        outbox.unconfirmed().map(body).collect()
    }

    #[test]
    fn receipts_release_frames_in_any_order_and_the_rest_stay_in_order() {
        let mut o = Outbox::new(ConfirmWindow::default());
        let ids: Vec<String> = ["a", "b", "c", "d"]
            .iter()
            .map(|b| push(&mut o, b))
            .collect();
        assert_eq!(o.len(), 4);
        assert_eq!(o.confirm(&ids[1]), Some(Confirmed::Own));
        assert_eq!(bodies(&o), ["a", "c", "d"]);
        assert_eq!(
            o.confirm(&ids[1]),
            None,
            "a receipt releases its frame once"
        );
        assert_eq!(o.confirm(&ids[0]), Some(Confirmed::Own));
        assert_eq!(bodies(&o), ["c", "d"]);
        assert!(o.confirm("unknown").is_none() && o.confirm(&format!("{}99", o.prefix)).is_none());
        assert_eq!(o.take_all().len(), 2);
        assert!(o.len() == 0 && o.bytes() == 0);
    }

    #[test]
    fn a_receipt_id_the_application_chose_is_reported_by_name() {
        let mut o = Outbox::new(ConfirmWindow::default());
        push(&mut o, "a");
        o.push(send(&o, "b", Some("mine")));
        assert!(o.awaits("mine"));
        assert_eq!(o.confirm("mine"), Some(Confirmed::Named("mine".into())));
        assert_eq!(bodies(&o), ["a"]);
    }

    #[test]
    fn the_window_bounds_frames_and_bytes_but_always_takes_one() {
        let mut o = Outbox::new(ConfirmWindow {
            frames: 2,
            bytes: 1000,
        });
        assert!(o.has_room(10_000), "an empty window takes any one frame");
        push(&mut o, "a");
        assert!(o.has_room(100));
        assert!(!o.has_room(1000), "bytes bound");
        let id = push(&mut o, "b");
        assert!(!o.has_room(1), "frames bound");
        o.confirm(&id);
        assert!(o.has_room(1));
        let before = o.bytes();
        o.take_all();
        assert!(before > 0 && o.bytes() == 0);
    }
}
