//! The retry schedule: the settings behind *when* to try again (DESIGN §6), as backon
//! builders, for the retry engine ([`super::retries`]) and the token cache's cool-down. Exponential backoff (`initial`, `factor`, `max_delay`) without backon's own
//! jitter (its `with_jitter()` gives `d..2d`; the engine in [`super::retries`] applies *full*
//! jitter, `0..d`, itself).

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::config::RetrySettings;

/// The backoff schedule built from the retry settings.
#[derive(Debug, Clone)]
pub struct Schedule {
    settings: RetrySettings,
}

impl Schedule {
    pub fn new(settings: &RetrySettings) -> Self {
        Self {
            settings: settings.clone(),
        }
    }

    pub fn settings(&self) -> &RetrySettings {
        &self.settings
    }

    /// The steps between failures: `max_attempts - 1` retries after the first failure.
    pub fn backoff(&self) -> ExponentialBuilder {
        self.steps()
            .with_max_times(self.settings.max_attempts.saturating_sub(1))
    }

    /// The steps between answers that say "slow down" without saying for how long (a 429
    /// without `Retry-After`): they grow the same way but never run out, since waiting is
    /// never a failure.
    pub fn throttle_backoff(&self) -> ExponentialBuilder {
        self.steps().without_max_times()
    }

    /// The `n`-th step (1-based) of the throttle backoff, without jitter: how long a token
    /// endpoint that failed `n` times in a row is left alone.
    pub fn step(&self, n: u32) -> Duration {
        // Far enough for any factor above 1.001 to have reached the cap; cheap to walk.
        const FURTHEST: u32 = 10_000;
        let mut steps = self.throttle_backoff().build();
        steps
            .nth(n.clamp(1, FURTHEST) as usize - 1)
            .unwrap_or(self.settings.max_delay)
    }

    fn steps(&self) -> ExponentialBuilder {
        let s = &self.settings;
        ExponentialBuilder::new()
            .with_min_delay(s.initial)
            .with_factor(s.factor.max(1.0))
            .with_max_delay(s.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_grow_by_the_factor_up_to_the_cap() {
        let schedule = Schedule::new(&RetrySettings::default());
        let ms: Vec<u128> = (1..=10).map(|n| schedule.step(n).as_millis()).collect();
        assert_eq!(
            ms,
            [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]
        );
        assert_eq!(schedule.step(0), Duration::from_millis(200), "as the first");
        assert_eq!(schedule.step(u32::MAX), Duration::from_secs(30));
    }
}
