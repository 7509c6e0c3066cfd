//! Heart-beat negotiation and clocks. Time is an argument: nothing here reads the clock.

use std::time::{Duration, Instant};

/// The broker's `heart-beat` answer to a client that offered `(cx, cy)`: it sends every `cy`
/// and expects the client every `cx`, each clamped into `(floor, ceiling)`; a `0` (none
/// wanted, or none promised) stays `0`.
pub(crate) fn answer(client: (u64, u64), (floor, ceiling): (u64, u64)) -> (u64, u64) {
    let clamp = |ms: u64| {
        if ms == 0 {
            0
        } else {
            ms.clamp(floor, ceiling.max(floor))
        }
    };
    (clamp(client.1), clamp(client.0))
}

/// The heart-beat clocks of one connection.
#[derive(Debug)]
pub(crate) struct HeartBeat {
    /// How often the broker must send something, when it must.
    send_every: Option<Duration>,
    /// How often the client promised to send something, when it did.
    expect_every: Option<Duration>,
    last_sent: Instant,
    last_received: Instant,
    /// Bytes received do not move the deadline: the whole CONNECT must come in time, so a
    /// client dripping it a byte at a time is cut off too.
    fixed_deadline: bool,
}

/// What a connection's clocks ask for at some instant.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Due {
    /// Nothing yet.
    Nothing,
    /// The broker should send a heart-beat now.
    Send,
    /// The client has been silent too long: drop it.
    Dead,
}

/// Longer intervals are cut to this (a day), so that clock arithmetic cannot overflow.
const MAX_INTERVAL_MS: u64 = 86_400_000;

/// How many promised intervals of silence are tolerated before a client counts as dead.
const TOLERANCE: u32 = 2;

impl HeartBeat {
    /// Clocks for a connection that has not sent CONNECT yet: unless its CONNECT is handled
    /// within `wait`, it is dropped (however many bytes it sends meanwhile).
    pub(crate) fn awaiting_connect(wait: Duration, now: Instant) -> Self {
        HeartBeat {
            expect_every: Some(wait / TOLERANCE),
            fixed_deadline: true,
            ..HeartBeat::off(now)
        }
    }

    /// Clocks that ask for nothing (heart-beats off).
    pub(crate) fn off(now: Instant) -> Self {
        HeartBeat {
            send_every: None,
            expect_every: None,
            last_sent: now,
            last_received: now,
            fixed_deadline: false,
        }
    }

    /// Negotiates per spec: the client offers `(cx, cy)`, the broker `(sx, sy)`. The broker
    /// sends every `max(sx, cy)` when both are non-zero and expects the client every
    /// `max(cx, sy)` when both are non-zero. Returns the clocks and the broker's `heart-beat`
    /// answer, which is `(sx, sy)`.
    pub(crate) fn negotiate(client: (u64, u64), broker: (u64, u64), now: Instant) -> Self {
        let every = |a: u64, b: u64| {
            (a != 0 && b != 0).then(|| Duration::from_millis(a.max(b).min(MAX_INTERVAL_MS)))
        };
        HeartBeat {
            send_every: every(broker.0, client.1),
            expect_every: every(client.0, broker.1),
            last_sent: now,
            last_received: now,
            fixed_deadline: false,
        }
    }

    /// Records that bytes arrived from the client.
    pub(crate) fn received(&mut self, now: Instant) {
        if !self.fixed_deadline {
            self.last_received = now;
        }
    }

    /// Records that bytes were queued for the client.
    pub(crate) fn sent(&mut self, now: Instant) {
        self.last_sent = now;
    }

    /// The next instant at which [`HeartBeat::due`] may answer something other than `Nothing`.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let send = self.send_every.map(|d| self.last_sent + d);
        let dead = self
            .expect_every
            .map(|d| self.last_received + d * TOLERANCE);
        match (send, dead) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What is due at `now`.
    pub(crate) fn due(&self, now: Instant) -> Due {
        if let Some(d) = self.expect_every {
            if now >= self.last_received + d * TOLERANCE {
                return Due::Dead;
            }
        }
        match self.send_every {
            Some(d) if now >= self.last_sent + d => Due::Send,
            _ => Due::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_answer_follows_the_client_within_floor_and_ceiling() {
        let limits = (100, 60_000);
        let cases = [
            ((0, 0), (0, 0)),           // none asked: none given
            ((500, 500), (500, 500)),   // as asked
            ((5000, 100), (100, 5000)), // sends at the client's wish, expects at its promise
            ((1, 0), (0, 100)),         // below the floor
            ((0, 3_600_000), (60_000, 0)),
        ];
        for (client, want) in cases {
            assert_eq!(answer(client, limits), want, "{client:?}");
        }
    }

    #[test]
    fn negotiation_takes_the_larger_interval_when_both_sides_agree() {
        let t = Instant::now();
        let hb = HeartBeat::negotiate((100, 500), (1000, 50), t);
        assert_eq!(hb.send_every, Some(1000 * MS));
        assert_eq!(hb.expect_every, Some(100 * MS));
        let hb = HeartBeat::negotiate((0, 500), (1000, 50), t);
        assert_eq!(hb.expect_every, None);
        let hb = HeartBeat::negotiate((100, 0), (1000, 50), t);
        assert_eq!(hb.send_every, None);
    }

    #[test]
    fn huge_intervals_are_cut_to_a_day() {
        let t = Instant::now();
        let hb = HeartBeat::negotiate((u64::MAX, u64::MAX), (1, 1), t);
        assert_eq!(hb.send_every, Some(Duration::from_millis(MAX_INTERVAL_MS)));
        assert!(hb.deadline().is_some());
        assert_eq!(hb.due(t), Due::Nothing);
    }

    #[test]
    fn clocks_send_then_declare_death() {
        let t = Instant::now();
        let mut hb = HeartBeat::negotiate((100, 100), (100, 100), t);
        assert_eq!(hb.deadline(), Some(t + 100 * MS));
        assert_eq!(hb.due(t + 50 * MS), Due::Nothing);
        assert_eq!(hb.due(t + 100 * MS), Due::Send);
        hb.sent(t + 100 * MS);
        hb.received(t + 150 * MS);
        assert_eq!(hb.due(t + 349 * MS), Due::Send);
        assert_eq!(hb.due(t + 350 * MS), Due::Dead);
        assert!(HeartBeat::off(t).deadline().is_none());
        let mut waiting = HeartBeat::awaiting_connect(Duration::from_secs(30), t);
        assert_eq!(waiting.deadline(), Some(t + Duration::from_secs(30)));
        waiting.received(t + Duration::from_secs(29));
        let end = t + Duration::from_secs(30);
        assert_eq!(
            waiting.due(end),
            Due::Dead,
            "bytes do not put off a CONNECT's deadline"
        );
    }
}
