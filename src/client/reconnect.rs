//! Reconnect back-off, with stomp.py's knobs, and the state of a connect in rounds.

use std::time::{Duration, Instant};

use super::deadline_after;
use crate::error::Error;

/// How often and how patiently the client connects, in rounds over the address list.
///
/// Two budgets, because two situations differ:
/// - **The first connect** gives up after `attempts` rounds (default 3, about 0.25 s against a
///   closed port): a wrong address or password shows at once.
/// - **After a lost connection** (with [`auto_reconnect`](crate::ClientBuilder::auto_reconnect)),
///   the client retries until `give_up_after` has passed since the loss (default: never gives
///   up), waiting at most `max` (5 s) between rounds: a broker restart or a cluster failover
///   is ridden out, and the client is back within `max` of the broker. Every call's own
///   deadline still holds meanwhile (`recv_timeout` returns by its timeout and reconnecting
///   goes on at the next call).
///
/// Waits between rounds follow stomp.py's knobs: the first 0.1 s, each next one 50 % longer,
/// plus up to 10 % random jitter.
///
/// ```
/// use std::time::Duration;
/// use stompy::ReconnectPolicy;
/// let p = ReconnectPolicy::default().give_up_after(Some(Duration::from_secs(120)));
/// assert_eq!(p.initial, Duration::from_millis(100));
/// assert_eq!(p.attempts, Some(3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ReconnectPolicy {
    /// Wait before the second round (`reconnect_sleep_initial`, 0.1 s).
    pub initial: Duration,
    /// Growth of the wait per round (`reconnect_sleep_increase`, 0.5 = +50 %).
    pub increase: f64,
    /// Random extra, as a fraction of the wait (`reconnect_sleep_jitter`, 0.1).
    pub jitter: f64,
    /// Longest wait between rounds (5 s).
    pub max: Duration,
    /// Rounds over the address list before the first connect gives up
    /// (`reconnect_attempts_max`, 3); `None` retries forever.
    pub attempts: Option<u32>,
    /// How long after losing a connection the client stops trying to get it back; `None`
    /// (the default) never stops. At least one round is always tried.
    pub give_up_after: Option<Duration>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial: Duration::from_millis(100),
            increase: 0.5,
            jitter: 0.1,
            max: Duration::from_secs(5),
            attempts: Some(3),
            give_up_after: None,
        }
    }
}

impl ReconnectPolicy {
    /// One round, no retry: for the first connect and after a loss.
    pub fn once() -> Self {
        ReconnectPolicy {
            attempts: Some(1),
            give_up_after: Some(Duration::ZERO),
            ..Self::default()
        }
    }

    /// Sets [`ReconnectPolicy::initial`].
    pub fn initial(mut self, wait: Duration) -> Self {
        self.initial = wait;
        self
    }

    /// Sets [`ReconnectPolicy::increase`].
    pub fn increase(mut self, factor: f64) -> Self {
        self.increase = factor;
        self
    }

    /// Sets [`ReconnectPolicy::jitter`].
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// Sets [`ReconnectPolicy::max`].
    pub fn max(mut self, wait: Duration) -> Self {
        self.max = wait;
        self
    }

    /// Sets [`ReconnectPolicy::attempts`] (`None`: the first connect retries forever).
    pub fn attempts(mut self, rounds: Option<u32>) -> Self {
        self.attempts = rounds;
        self
    }

    /// Sets [`ReconnectPolicy::give_up_after`] (`None`: a reconnect never gives up).
    pub fn give_up_after(mut self, after: Option<Duration>) -> Self {
        self.give_up_after = after;
        self
    }

    /// The wait after `round` failed rounds (1 = after the first), jitter included.
    pub fn delay(&self, round: u32) -> Duration {
        let base = self.initial.as_secs_f64()
            * (1.0 + self.increase).powi(round.saturating_sub(1).min(1000) as i32);
        let base = base.min(self.max.as_secs_f64());
        let jitter = base * self.jitter * random_unit();
        let secs = (base + jitter).min(self.max.as_secs_f64()).max(0.0);
        Duration::try_from_secs_f64(secs).unwrap_or(self.max)
    }

    /// True when another round of the first connect may start after `rounds` failed ones.
    pub fn allows(&self, rounds: u32) -> bool {
        match self.attempts {
            None => true,
            Some(max) => rounds < max.max(1),
        }
    }
}

/// Where a connect stands: rounds over the address list, the next address, the back-off and
/// the budget. A value of its own, so that a connect cut short by a call's deadline goes on
/// where it stopped at the next call.
#[derive(Debug)]
pub(super) struct Rounds {
    policy: ReconnectPolicy,
    /// Past this, no new attempt starts.
    give_up_at: Option<Instant>,
    /// The first connect counts rounds; a reconnect counts time.
    counts_rounds: bool,
    failed_rounds: u32,
    /// Rounds the back-off counts as failed before the first (quick drops).
    backoff_from: u32,
    next_addr: usize,
    /// The back-off: no attempt before this.
    not_before: Instant,
    attempts: u32,
    /// Every attempt of the round so far failed in a way retrying will not cure.
    all_permanent: bool,
    last: Option<Error>,
}

impl Rounds {
    /// The first connect: `policy.attempts` rounds, within `total` if given.
    pub(super) fn first(policy: ReconnectPolicy, total: Option<Duration>, now: Instant) -> Self {
        Rounds {
            give_up_at: total.map(|t| deadline_after(now, t)),
            counts_rounds: true,
            ..Rounds::new(policy, now)
        }
    }

    /// After a lost connection: until `policy.give_up_after` past `since`, when the first of
    /// the losses in a row happened. `quick_drops` connections in a row ended right after
    /// CONNECTED: each counts as a failed round, so that a broker that accepts and drops is
    /// not reconnected to in a tight loop, and their time counts towards giving up.
    pub(super) fn after_loss(
        policy: ReconnectPolicy,
        now: Instant,
        since: Instant,
        quick_drops: u32,
    ) -> Self {
        let mut r = Rounds {
            give_up_at: policy.give_up_after.map(|t| deadline_after(since, t)),
            counts_rounds: false,
            ..Rounds::new(policy, now)
        };
        if quick_drops > 0 {
            r.backoff_from = quick_drops;
            r.not_before = now + policy.delay(quick_drops);
        }
        r
    }

    fn new(policy: ReconnectPolicy, now: Instant) -> Self {
        Rounds {
            policy,
            give_up_at: None,
            counts_rounds: true,
            failed_rounds: 0,
            backoff_from: 0,
            next_addr: 0,
            not_before: now,
            attempts: 0,
            all_permanent: false,
            last: None,
        }
    }

    /// The index of the address to try next.
    pub(super) fn next_address(&self) -> usize {
        self.next_addr
    }

    /// No attempt may start before this.
    pub(super) fn not_before(&self) -> Instant {
        self.not_before
    }

    /// The time by which an attempt must end, if any: the first connect's total deadline.
    /// (A reconnect's give-up time only stops new attempts from starting.)
    pub(super) fn attempt_deadline(&self) -> Option<Instant> {
        self.give_up_at.filter(|_| self.counts_rounds)
    }

    /// Records a failed attempt on the address [`Rounds::next_address`] named, out of
    /// `addresses`.
    pub(super) fn failed(&mut self, e: Error, addresses: usize, now: Instant) {
        if self.next_addr == 0 {
            self.all_permanent = true; // a new round
        }
        self.attempts += 1;
        self.all_permanent &= e.is_permanent();
        self.last = Some(e);
        self.next_addr += 1;
        if self.next_addr >= addresses {
            self.next_addr = 0;
            self.failed_rounds += 1;
            let backoff = self.failed_rounds.saturating_add(self.backoff_from);
            self.not_before = now + self.policy.delay(backoff);
        }
    }

    /// True when no further attempt may start.
    pub(super) fn is_over(&self, now: Instant) -> bool {
        let round_over = self.next_addr == 0 && self.failed_rounds > 0;
        if !round_over {
            let out_of_time = self.give_up_at.is_some_and(|t| now >= t);
            if self.attempts == 0 {
                // Quick drops in a row are failed rounds: past the first, they use up the
                // time as failed rounds do.
                return !self.counts_rounds && self.backoff_from > 1 && out_of_time;
            }
            // A reconnect's round under way finishes; the first connect's stops when its
            // total time is up.
            return self.counts_rounds && out_of_time;
        }
        let out_of_time = self
            .give_up_at
            .is_some_and(|t| now >= t || self.not_before >= t);
        if self.counts_rounds {
            self.all_permanent || out_of_time || !self.policy.allows(self.failed_rounds)
        } else {
            out_of_time
        }
    }

    /// What ended the last connection, until an attempt fails.
    pub(super) fn with_cause(mut self, cause: Option<Error>) -> Self {
        self.last = cause;
        self
    }

    /// The error that ends the rounds: the first connect's single attempt's as it is, else
    /// [`Error::ConnectFailed`] with the last error.
    pub(super) fn into_error(self, fallback: Error) -> Error {
        let last = self.last.unwrap_or(fallback);
        if self.attempts <= 1 && self.counts_rounds {
            return last;
        }
        Error::ConnectFailed {
            attempts: self.attempts,
            last: Box::new(last),
        }
    }
}

fn random_unit() -> f64 {
    (uuid::Uuid::new_v4().as_u128() >> 64) as f64 / u64::MAX as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_by_increase_and_stop_at_max() {
        let p = ReconnectPolicy {
            jitter: 0.0,
            max: Duration::from_millis(300),
            ..Default::default()
        };
        let d: Vec<u128> = (1..=5).map(|r| p.delay(r).as_millis()).collect();
        assert_eq!(d, [100, 150, 225, 300, 300]);
    }

    #[test]
    fn jitter_adds_at_most_its_fraction() {
        let p = ReconnectPolicy::default();
        for _ in 0..100 {
            let d = p.delay(1);
            assert!(
                d >= Duration::from_millis(100) && d <= Duration::from_millis(110),
                "{d:?}"
            );
        }
    }

    fn quick() -> ReconnectPolicy {
        ReconnectPolicy {
            initial: Duration::from_millis(10),
            jitter: 0.0,
            ..Default::default()
        }
    }

    fn refused() -> Error {
        Error::Io(std::io::ErrorKind::ConnectionRefused.into())
    }

    #[test]
    fn the_first_connect_stops_after_its_rounds_and_a_reconnect_goes_on() {
        let now = Instant::now();
        let mut first = Rounds::first(quick(), None, now);
        let mut again = Rounds::after_loss(quick(), now, now, 0);
        for round in 1..=10u32 {
            for addr in 0..2 {
                assert_eq!(first.next_address(), addr);
                first.failed(refused(), 2, now);
                again.failed(refused(), 2, now);
            }
            assert_eq!(first.is_over(now), round >= 3, "round {round}");
            assert!(!again.is_over(now), "round {round}");
        }
        assert!(
            again.not_before() <= now + Duration::from_secs(5),
            "waits are capped"
        );
        let err = first.into_error(refused());
        assert!(
            matches!(err, Error::ConnectFailed { attempts: 20, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_reconnect_gives_up_after_its_time_and_finishes_a_round_first() {
        let now = Instant::now();
        let policy = ReconnectPolicy {
            give_up_after: Some(Duration::from_secs(1)),
            ..quick()
        };
        let mut r = Rounds::after_loss(policy, now, now, 0);
        r.failed(refused(), 2, now);
        let later = now + Duration::from_secs(2);
        assert!(!r.is_over(later), "the round under way finishes");
        r.failed(refused(), 2, now);
        assert!(r.is_over(later));
        let mut once = Rounds::after_loss(ReconnectPolicy::once(), now, now, 0);
        assert!(!once.is_over(now), "one round is always tried");
        once.failed(refused(), 1, now);
        assert!(once.is_over(now));
    }

    #[test]
    fn wrong_credentials_everywhere_end_the_first_connect_at_once() {
        let now = Instant::now();
        let mut r = Rounds::first(quick(), None, now);
        let denied = || crate::error::BrokerError {
            message: "denied".into(),
            body: String::new(),
            receipt_id: None,
        };
        r.failed(denied().into(), 2, now);
        assert!(!r.is_over(now));
        r.failed(denied().into(), 2, now);
        assert!(r.is_over(now));
    }

    #[test]
    fn quick_drops_count_as_failed_rounds() {
        let now = Instant::now();
        let r = Rounds::after_loss(quick(), now, now, 3);
        assert_eq!(r.not_before(), now + quick().delay(3));
    }

    #[test]
    fn attempts_bound_the_rounds() {
        let p = ReconnectPolicy::default();
        assert!(p.allows(2) && !p.allows(3));
        let forever = ReconnectPolicy {
            attempts: None,
            ..Default::default()
        };
        assert!(forever.allows(1_000_000));
    }
}
