//! Heart-beat negotiation and clocks, for either side of a connection: the client's session
//! and each connection of the broker. What differs between them (how much silence is
//! tolerated, a grace for the first beat, a deadline that input does not move, the longest
//! interval) is a [`Policy`]. Time is always an argument: nothing here reads a clock.

use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::error::ProtocolError;

/// The longest silence a policy can allow.
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

/// How one side judges the peer's silence.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// Silence tolerated, in intervals the peer promised (at least 1).
    pub(crate) tolerance: f64,
    /// The peer's first beat may come one interval late: ActiveMQ, for one, sends its first
    /// heart-beat 2 × n after CONNECTED and every n after that. The first deadline is then
    /// interval × (1 + tolerance) after negotiation, and interval × tolerance after each byte
    /// since.
    pub(crate) first_beat_grace: bool,
    /// Bytes received do not move the deadline: the peer must be done by then, however many
    /// bytes it sends meanwhile.
    pub(crate) fixed_deadline: bool,
    /// Longer intervals are cut to this, so that clock arithmetic cannot overflow.
    pub(crate) max_interval: Duration,
}

/// Negotiated heart-beat intervals and the clocks that enforce them.
#[derive(Debug, Clone)]
pub(crate) struct HeartBeat {
    /// How often we must send something (None: never).
    send_every: Option<Duration>,
    /// The interval the peer promised (None: none).
    recv_every: Option<Duration>,
    /// How long the peer may stay silent before it is considered dead (None: forever).
    recv_timeout: Option<Duration>,
    last_sent: Instant,
    last_recv: Instant,
    /// When bytes last came from the peer (or the clocks began): what a timeout reports.
    /// `last_recv` may lie later, by the grace given for the first beat.
    heard: Instant,
    /// See [`Policy::fixed_deadline`].
    fixed_deadline: bool,
}

impl HeartBeat {
    /// No heart-beats (STOMP 1.0, or either side said 0).
    pub(crate) fn off(now: Instant) -> Self {
        HeartBeat {
            send_every: None,
            recv_every: None,
            recv_timeout: None,
            last_sent: now,
            last_recv: now,
            heard: now,
            fixed_deadline: false,
        }
    }

    /// Clocks that send every `send_every` and expect the peer every `recv_every`, judged by
    /// `policy`.
    pub(crate) fn new(
        send_every: Option<Duration>,
        recv_every: Option<Duration>,
        policy: &Policy,
        now: Instant,
    ) -> Self {
        let cut = |d: Duration| d.min(policy.max_interval);
        let (send_every, recv_every) = (send_every.map(cut), recv_every.map(cut));
        let grace = recv_every.filter(|_| policy.first_beat_grace);
        HeartBeat {
            send_every,
            recv_every,
            // A tolerance too large for a Duration (infinity, say) means a silence of ~100
            // years.
            recv_timeout: recv_every.map(|d| {
                let secs = (d.as_secs_f64() * policy.tolerance.max(1.0))
                    .min(LONGEST_SILENCE.as_secs_f64());
                Duration::try_from_secs_f64(secs).unwrap_or(LONGEST_SILENCE)
            }),
            last_sent: now,
            last_recv: now + grace.unwrap_or_default(),
            heard: now,
            fixed_deadline: policy.fixed_deadline,
        }
    }

    /// Negotiates per the spec, from our `heart-beat` header `(x, y)` and the peer's: we send
    /// every max(our x, their y) when both are non-zero, and expect the peer every max(our y,
    /// their x) when both are non-zero.
    pub(crate) fn negotiate(
        ours: (u64, u64),
        theirs: (u64, u64),
        policy: &Policy,
        now: Instant,
    ) -> Self {
        let every = |a: u64, b: u64| (a != 0 && b != 0).then(|| Duration::from_millis(a.max(b)));
        let send_every = every(ours.0, theirs.1);
        let recv_every = every(ours.1, theirs.0);
        HeartBeat::new(send_every, recv_every, policy, now)
    }

    pub(crate) fn send_interval(&self) -> Option<Duration> {
        self.send_every
    }

    pub(crate) fn recv_interval(&self) -> Option<Duration> {
        self.recv_every
    }

    /// Records that bytes were queued for the peer.
    #[inline]
    pub(crate) fn on_sent(&mut self, now: Instant) {
        // Callers may pass a time read a little earlier: it never moves the clock back.
        self.last_sent = self.last_sent.max(now);
    }

    /// Records that bytes arrived from the peer.
    pub(crate) fn on_recv(&mut self, now: Instant) {
        // Never earlier than the grace given for the first beat.
        if !self.fixed_deadline {
            self.last_recv = self.last_recv.max(now);
        }
        self.heard = self.heard.max(now);
    }

    /// True when a heart-beat is due now.
    pub(crate) fn wants_send(&self, now: Instant) -> bool {
        self.send_every.is_some_and(|d| now >= self.last_sent + d)
    }

    /// How long the peer has been silent, when that is past what it may.
    pub(crate) fn overdue(&self, now: Instant) -> Option<Duration> {
        match self.recv_timeout {
            // The silence since the peer's last byte, the first beat's grace included.
            Some(t) if now >= self.last_recv + t => Some(now.saturating_duration_since(self.heard)),
            _ => None,
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

    const MS: Duration = Duration::from_millis(1);

    /// A client's policy: 1.5 intervals of silence, one more for the first beat.
    const CLIENT: Policy = Policy {
        tolerance: 1.5,
        first_beat_grace: true,
        fixed_deadline: false,
        max_interval: Duration::MAX,
    };

    /// A broker's policy: 2 intervals of silence, intervals cut to a day.
    const TWO_INTERVALS: Policy = Policy {
        tolerance: 2.0,
        first_beat_grace: false,
        fixed_deadline: false,
        max_interval: Duration::from_secs(86_400),
    };

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

    #[test]
    fn negotiation_takes_the_larger_interval_when_both_sides_agree() {
        let t = Instant::now();
        let hb = HeartBeat::negotiate((1000, 50), (100, 500), &TWO_INTERVALS, t);
        assert_eq!(hb.send_interval(), Some(1000 * MS));
        assert_eq!(hb.recv_interval(), Some(100 * MS));
        let hb = HeartBeat::negotiate((1000, 50), (0, 500), &TWO_INTERVALS, t);
        assert_eq!(hb.recv_interval(), None);
        let hb = HeartBeat::negotiate((1000, 50), (100, 0), &TWO_INTERVALS, t);
        assert_eq!(hb.send_interval(), None);
    }

    #[test]
    fn huge_intervals_are_cut_to_the_longest() {
        let t = Instant::now();
        let hb = HeartBeat::negotiate((1, 1), (u64::MAX, u64::MAX), &TWO_INTERVALS, t);
        assert_eq!(hb.send_interval(), Some(Duration::from_secs(86_400)));
        assert!(hb.next_deadline().is_some());
        assert!(!hb.wants_send(t));
        assert_eq!(hb.overdue(t), None);
    }

    #[test]
    fn clocks_send_then_declare_death() {
        let t = Instant::now();
        let mut hb = HeartBeat::negotiate((100, 100), (100, 100), &TWO_INTERVALS, t);
        assert_eq!(hb.next_deadline(), Some(t + 100 * MS));
        assert!(!hb.wants_send(t + 50 * MS));
        assert!(hb.wants_send(t + 100 * MS));
        hb.on_sent(t + 100 * MS);
        hb.on_recv(t + 150 * MS);
        assert!(hb.wants_send(t + 349 * MS));
        assert_eq!(hb.overdue(t + 349 * MS), None);
        assert_eq!(hb.overdue(t + 350 * MS), Some(200 * MS));
        assert!(HeartBeat::off(t).next_deadline().is_none());
    }

    #[test]
    fn a_fixed_deadline_is_not_put_off_by_input() {
        let t = Instant::now();
        let policy = Policy {
            tolerance: 1.0,
            fixed_deadline: true,
            ..TWO_INTERVALS
        };
        let wait = Duration::from_secs(10);
        let mut waiting = HeartBeat::new(None, Some(wait), &policy, t);
        assert_eq!(waiting.next_deadline(), Some(t + wait));
        waiting.on_recv(t + Duration::from_secs(9));
        assert!(
            waiting.overdue(t + wait).is_some(),
            "bytes do not put off the deadline"
        );
        assert!(!waiting.wants_send(t + wait));
    }

    #[test]
    fn a_timeout_reports_the_silence_since_the_peers_last_byte() {
        let t = Instant::now();
        let policy = CLIENT;
        let mut hb = HeartBeat::negotiate((0, 100), (100, 0), &policy, t);
        assert_eq!(
            hb.overdue(t + 250 * MS),
            Some(250 * MS),
            "the grace counts too"
        );
        hb.on_recv(t + 300 * MS);
        assert_eq!(hb.overdue(t + 460 * MS), Some(160 * MS));
    }

    #[test]
    fn the_first_beat_may_come_one_interval_late_and_the_tolerance_scales() {
        let t = Instant::now();
        let policy = CLIENT;
        let mut hb = HeartBeat::negotiate((0, 100), (100, 0), &policy, t);
        assert_eq!(hb.next_deadline(), Some(t + 250 * MS));
        hb.on_recv(t + 10 * MS); // before the grace ends: changes nothing
        assert_eq!(hb.overdue(t + 249 * MS), None);
        assert!(hb.overdue(t + 250 * MS).is_some());
        hb.on_recv(t + 300 * MS);
        assert_eq!(hb.next_deadline(), Some(t + 450 * MS));
        // An endless tolerance is a silence of a century, not a panic.
        let endless = Policy {
            tolerance: f64::INFINITY,
            ..policy
        };
        let hb = HeartBeat::negotiate((0, 100), (100, 0), &endless, t);
        assert_eq!(hb.next_deadline(), Some(t + 100 * MS + LONGEST_SILENCE));
    }
}
