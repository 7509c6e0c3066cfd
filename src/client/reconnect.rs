//! Reconnect back-off, with stomp.py's knobs and defaults.

use std::time::Duration;

/// How often and how patiently the client retries a connection, in rounds over the address
/// list. The defaults are stomp.py's: the first retry waits 0.1 s, each next one 50 % longer,
/// plus up to 10 % random jitter, at most 60 s; three rounds in all.
///
/// ```
/// use std::time::Duration;
/// use stompy::ReconnectPolicy;
/// let p = ReconnectPolicy { attempts: Some(10), ..ReconnectPolicy::default() };
/// assert_eq!(p.initial, Duration::from_millis(100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconnectPolicy {
    /// Wait before the second round (`reconnect_sleep_initial`, 0.1 s).
    pub initial: Duration,
    /// Growth of the wait per round (`reconnect_sleep_increase`, 0.5 = +50 %).
    pub increase: f64,
    /// Random extra, as a fraction of the wait (`reconnect_sleep_jitter`, 0.1).
    pub jitter: f64,
    /// Longest wait (`reconnect_sleep_max`, 60 s).
    pub max: Duration,
    /// Rounds over the address list before giving up (`reconnect_attempts_max`, 3); `None`
    /// retries forever.
    pub attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial: Duration::from_millis(100),
            increase: 0.5,
            jitter: 0.1,
            max: Duration::from_secs(60),
            attempts: Some(3),
        }
    }
}

impl ReconnectPolicy {
    /// One round, no retry.
    pub fn once() -> Self {
        ReconnectPolicy {
            attempts: Some(1),
            ..Self::default()
        }
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

    /// True when another round may start after `rounds` failed ones.
    pub fn allows(&self, rounds: u32) -> bool {
        match self.attempts {
            None => true,
            Some(max) => rounds < max.max(1),
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
