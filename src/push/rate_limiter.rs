//! The governor plumbing under a gate's adaptive rate ([`super::rate`]): a GCRA limiter for
//! a rate in requests per minute and a burst, on a clock that reads tokio's time (so paused-
//! time tests drive it), and the range of rates governor can represent.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use super::rate::{MIN_PER_MINUTE, UNLIMITED_PER_MINUTE};

pub(super) type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>;

/// governor's clock on tokio time.
#[derive(Debug, Clone)]
pub(super) struct TokioClock {
    pub origin: Instant,
}

impl Clock for TokioClock {
    type Instant = Nanos;
    fn now(&self) -> Nanos {
        Nanos::from(Instant::now().saturating_duration_since(self.origin))
    }
}

/// A rate governor can represent: finite, between the floor and "unlimited".
pub fn sane_rate(per_minute: f64) -> f64 {
    if per_minute.is_finite() {
        per_minute.clamp(MIN_PER_MINUTE, UNLIMITED_PER_MINUTE)
    } else {
        UNLIMITED_PER_MINUTE
    }
}

pub(super) fn limiter(per_minute: f64, burst: u32, clock: &TokioClock) -> Arc<Limiter> {
    let period = Duration::from_secs_f64(60.0 / sane_rate(per_minute));
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
    Arc::new(RateLimiter::direct_with_clock(quota, clock.clone()))
}
