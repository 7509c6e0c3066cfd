//! A cheap reading of the monotonic clock, for checks made once per frame.
//!
//! `Instant::now()` costs about 20 ns on a common x86 server, and the `rdtsc` it runs is
//! ordered against the code around it: read once per frame (to see whether a heart-beat is
//! due), it made a lent receive with heart-beats on about 30% slower. The kernel's coarse
//! monotonic clock (`CLOCK_MONOTONIC_COARSE`: the same clock, at the resolution of a scheduler
//! tick, 1 to 4 ms) is read from memory the kernel keeps up to date, in a few nanoseconds and
//! with no barrier. A fine reading taken at the same moment anchors it, so it can be compared
//! with the `Instant`s the rest of the crate keeps; it is off by at most one tick, which a
//! heart-beat interval (at least a second in practice) does not notice. Where no coarse clock
//! exists, [`Anchor::now`] reads the fine one.

use std::time::{Duration, Instant};

/// A fine clock reading and the coarse clock's reading at the same moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Anchor {
    at: Instant,
    coarse: Option<Duration>,
}

impl Anchor {
    /// Anchors the coarse clock at `at`, a fine reading just taken.
    pub(crate) fn new(at: Instant) -> Self {
        Anchor {
            at,
            coarse: coarse(),
        }
    }

    /// The fine reading the anchor was made at.
    #[inline]
    pub(crate) fn at(&self) -> Instant {
        self.at
    }

    /// Now, within one tick of the coarse clock, and never before the anchor.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        match (self.coarse, coarse()) {
            (Some(then), Some(now)) => self.at + now.saturating_sub(then),
            _ => Instant::now(),
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
#[inline]
fn coarse() -> Option<Duration> {
    use rustix::time::{clock_gettime_dynamic, ClockId, DynamicClockId};
    // The fallible form: a kernel or sandbox without this clock means the fine one, not a panic.
    let t = clock_gettime_dynamic(DynamicClockId::Known(ClockId::MonotonicCoarse)).ok()?;
    let secs = u64::try_from(t.tv_sec).ok()?;
    let nanos = u32::try_from(t.tv_nsec).ok()?;
    Some(Duration::new(secs, nanos))
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
#[inline]
fn coarse() -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests {
    use super::Anchor;
    use std::time::{Duration, Instant};

    #[test]
    fn the_coarse_clock_follows_the_fine_one_within_a_tick() {
        let anchor = Anchor::new(Instant::now());
        // A tick is at most 10 ms even at HZ=100.
        let tick = Duration::from_millis(10);
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(50) {
            let (coarse, fine) = (anchor.now(), Instant::now());
            assert!(
                coarse <= fine + tick && fine <= coarse + tick + tick,
                "{coarse:?} {fine:?}"
            );
        }
        assert!(anchor.now() >= start + Duration::from_millis(50) - tick);
    }
}
