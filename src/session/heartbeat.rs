//! Heart-beat negotiation and clocks. Time is always an argument: nothing here reads a clock.

use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::error::{Error, ProtocolError, Timeout};

/// The longest silence a heart-beat scale can allow.
const LONGEST_SILENCE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Parses a `heart-beat` header value `"x,y"` (milliseconds, blanks around each number
/// allowed) into numbers of type `T` (`u32`, `u64`, ...): a value out of `T`'s range is
/// malformed too.
///
/// ```
/// use stompy::session::parse_heart_beat;
/// assert_eq!(parse_heart_beat::<u32>(" 0 , 5 ")?, (0, 5));
/// assert!(parse_heart_beat::<u32>("10").is_err());
/// # Ok::<(), stompy::ProtocolError>(())
/// ```
pub fn parse_heart_beat<T: FromStr>(v: &str) -> Result<(T, T), ProtocolError> {
    let bad = || ProtocolError::InvalidHeartBeat(v.chars().take(64).collect());
    let (x, y) = v.split_once(',').ok_or_else(bad)?;
    let x = x.trim().parse().map_err(|_| bad())?;
    let y = y.trim().parse().map_err(|_| bad())?;
    Ok((x, y))
}

/// Negotiated heart-beat intervals and the clocks that enforce them.
#[derive(Debug, Clone)]
pub(crate) struct HeartBeat {
    /// How often we must send something (None: never).
    send_every: Option<Duration>,
    /// How long the peer may stay silent before it is considered dead (None: forever).
    recv_timeout: Option<Duration>,
    /// The interval the peer promised (for error messages).
    recv_every: Option<Duration>,
    last_sent: Instant,
    last_recv: Instant,
}

impl HeartBeat {
    /// No heart-beats (STOMP 1.0, or either side said 0).
    pub(crate) fn off(now: Instant) -> Self {
        HeartBeat {
            send_every: None,
            recv_timeout: None,
            recv_every: None,
            last_sent: now,
            last_recv: now,
        }
    }

    /// Negotiates per the spec: we send every max(cx, sy) when both are non-zero, and expect
    /// the peer every max(cy, sx) when both are non-zero; silence for that × `scale` is fatal.
    ///
    /// The peer's first beat may come one interval late: ActiveMQ, for one, sends its first
    /// heart-beat 2 × n after CONNECTED and every n after that. So the first deadline is
    /// interval × (1 + scale) after CONNECTED, and interval × scale after each byte since.
    pub(crate) fn negotiate(
        ours: (u32, u32),
        theirs: (u32, u32),
        scale: f64,
        now: Instant,
    ) -> Self {
        let (cx, cy) = ours;
        let (sx, sy) = theirs;
        let ms =
            |a: u32, b: u32| (a != 0 && b != 0).then(|| Duration::from_millis(a.max(b) as u64));
        let recv_every = ms(cy, sx);
        HeartBeat {
            send_every: ms(cx, sy),
            // A scale too large for a Duration (infinity, say) means a silence of ~100 years.
            recv_timeout: recv_every.map(|d| {
                let secs = (d.as_secs_f64() * scale.max(1.0)).min(LONGEST_SILENCE.as_secs_f64());
                Duration::try_from_secs_f64(secs).unwrap_or(LONGEST_SILENCE)
            }),
            recv_every,
            last_sent: now,
            last_recv: now + recv_every.unwrap_or_default(),
        }
    }

    pub(crate) fn send_interval(&self) -> Option<Duration> {
        self.send_every
    }

    pub(crate) fn recv_interval(&self) -> Option<Duration> {
        self.recv_every
    }

    pub(crate) fn on_sent(&mut self, now: Instant) {
        // Callers may pass a time read a little earlier: it never moves the clock back.
        self.last_sent = self.last_sent.max(now);
    }

    pub(crate) fn on_recv(&mut self, now: Instant) {
        // Never earlier than the grace given for the first beat.
        self.last_recv = self.last_recv.max(now);
    }

    /// True when a heart-beat is due now.
    pub(crate) fn wants_send(&self, now: Instant) -> bool {
        self.send_every.is_some_and(|d| now >= self.last_sent + d)
    }

    /// An error when the peer has been silent too long.
    pub(crate) fn check_recv(&self, now: Instant) -> Result<(), Error> {
        match self.recv_timeout {
            Some(t) if now >= self.last_recv + t => Err(Error::Timeout(Timeout::HeartBeat(
                now.saturating_duration_since(self.last_recv),
            ))),
            _ => Ok(()),
        }
    }

    /// The next instant something must happen (a send due, or the receive deadline).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let send = self.send_every.map(|d| self.last_sent + d);
        let recv = self.recv_timeout.map(|t| self.last_recv + t);
        match (send, recv) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_headers() {
        let parse = |v| parse_heart_beat::<u64>(v).ok();
        assert_eq!(parse("10,20"), Some((10, 20)));
        assert_eq!(parse(" 0 , 5 "), Some((0, 5)));
        assert_eq!(parse("10"), None);
        assert_eq!(parse("a,1"), None);
        assert_eq!(parse("-1,1"), None);
        assert_eq!(parse("5000000000,0"), Some((5_000_000_000, 0)));
        assert!(parse_heart_beat::<u32>("5000000000,0").is_err());
    }
}
