//! The retry schedule: the settings behind *when* to try again (DESIGN §6), as backon
//! builders. Exponential backoff (`initial`, `factor`, `max_delay`) without backon's own
//! jitter (its `with_jitter()` gives `d..2d`; the engine in [`super::retries`] applies *full*
//! jitter, `0..d`, itself).

use backon::ExponentialBuilder;

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

    fn steps(&self) -> ExponentialBuilder {
        let s = &self.settings;
        ExponentialBuilder::new()
            .with_min_delay(s.initial)
            .with_factor(s.factor.max(1.0))
            .with_max_delay(s.max_delay)
    }
}
