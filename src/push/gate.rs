//! The gate: one per (tenant, target), shared by every request and every retry of that
//! tenant at that target (DESIGN §6). It keeps the whole fleet of calls polite:
//!
//! 1. a token bucket (governor, GCRA) at the configured rate × headroom;
//! 2. a shared pause: after a 429 nobody sends until the server's `Retry-After` has passed,
//!    then one probe request goes first (`pause`);
//! 3. a concurrency cap (a semaphore slot per request in flight);
//! 4. an adaptive rate (AIMD): each 429 halves the rate (floor 1/min), each clean minute
//!    adds back 10 % of the ceiling.
//!
//! [`Gate::acquire`] re-checks the pause after it has the slot and the rate token, right
//! before returning, so nothing is sent while the gate is closed. Time is tokio's (the
//! limiter runs on a tokio clock), so tests can use `tokio::time::pause()`.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, sleep_until, timeout_at};

use super::pause::{ProbeGuard, SharedPause};

use crate::change::TargetKind;
use crate::config::{GenesysSettings, ServiceNowSettings};
use crate::metrics::Metrics;

/// Lowest rate AIMD cuts to (DESIGN §6: floor 1/min).
pub const MIN_PER_MINUTE: f64 = 1.0;
/// A minute without a 429 gives back this share of the ceiling.
pub const RECOVERY_STEP: f64 = 0.10;
/// How long "clean" must last before a recovery step.
const RECOVERY_PERIOD: Duration = Duration::from_secs(60);
/// The rate used when ServiceNow has no rate-limit rule for us: the concurrency cap rules.
const UNLIMITED_PER_MINUTE: f64 = 60_000.0;
/// Largest burst the bucket allows after a quiet spell.
const MAX_BURST: u32 = 100;

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>;

/// governor's clock on tokio time (so paused-time tests drive the limiter too).
#[derive(Debug, Clone)]
struct TokioClock {
    origin: Instant,
}

impl Clock for TokioClock {
    type Instant = Nanos;
    fn now(&self) -> Nanos {
        Nanos::from(Instant::now().saturating_duration_since(self.origin))
    }
}

/// The shape of one gate.
#[derive(Debug, Clone, PartialEq)]
pub struct GateConfig {
    /// The ceiling in requests per minute (quota × headroom).
    pub per_minute: f64,
    /// Requests that may go back to back after a quiet spell. With `quota − ceiling` per
    /// window, no window ever sees more than the quota.
    pub burst: u32,
    pub max_concurrency: usize,
    /// Share of a server-reported limit we use (`X-RateLimit-Limit`).
    pub headroom: f64,
}

impl GateConfig {
    pub fn genesys(s: &GenesysSettings) -> Self {
        let quota = f64::from(s.requests_per_minute);
        let per_minute = quota * s.headroom;
        Self {
            per_minute,
            burst: burst_for(quota - per_minute),
            max_concurrency: s.max_concurrency,
            headroom: s.headroom,
        }
    }

    pub fn servicenow(s: &ServiceNowSettings) -> Self {
        let (per_minute, burst) = match s.requests_per_hour {
            Some(per_hour) => {
                let per_hour = f64::from(per_hour);
                (
                    per_hour * s.headroom / 60.0,
                    burst_for(per_hour * (1.0 - s.headroom)),
                )
            }
            None => (UNLIMITED_PER_MINUTE, MAX_BURST),
        };
        Self {
            per_minute,
            burst,
            max_concurrency: s.max_concurrency,
            headroom: s.headroom,
        }
    }
}

fn burst_for(spare: f64) -> u32 {
    (spare.floor() as u32).clamp(1, MAX_BURST)
}

/// Why [`Gate::acquire`] gave up: the gate cannot open before the caller's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the gate stays closed beyond the retry budget")]
pub struct ClosedPastDeadline;

/// A right to send one request now; holds a concurrency slot until dropped.
#[derive(Debug)]
pub struct GatePermit {
    issued_at: Instant,
    // Field order is drop order: the probe ends before the slot is freed.
    _probe: Option<ProbeGuard>,
    _slot: OwnedSemaphorePermit,
}

impl GatePermit {
    /// When the request was let through (a 429 to it only cuts the rate once).
    pub fn issued_at(&self) -> Instant {
        self.issued_at
    }
}

/// What `/status` shows about a gate.
#[derive(Debug, Clone, PartialEq)]
pub struct GateSnapshot {
    pub per_minute: f64,
    pub ceiling_per_minute: f64,
    pub paused_for: Option<Duration>,
    pub in_flight: usize,
}

struct Rate {
    per_minute: f64,
    ceiling: f64,
    limiter: Arc<Limiter>,
    last_change: Instant,
    last_cut: Option<Instant>,
}

/// One gate per (tenant, target); share it with `Arc`.
pub struct Gate {
    tenant: String,
    target: TargetKind,
    config: GateConfig,
    clock: TokioClock,
    slots: Arc<Semaphore>,
    pause: Arc<SharedPause>,
    rate: Mutex<Rate>,
    metrics: Arc<Metrics>,
}

impl Gate {
    pub fn new(
        tenant: &str,
        target: TargetKind,
        config: GateConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        let clock = TokioClock {
            origin: Instant::now(),
        };
        let ceiling = sane_rate(config.per_minute);
        let rate = Rate {
            per_minute: ceiling,
            ceiling,
            limiter: limiter(ceiling, config.burst, &clock),
            last_change: Instant::now(),
            last_cut: None,
        };
        metrics.gate_rate(tenant, target, ceiling);
        Self {
            tenant: tenant.to_owned(),
            target,
            slots: Arc::new(Semaphore::new(config.max_concurrency.max(1))),
            config,
            clock,
            pause: SharedPause::new(),
            rate: Mutex::new(rate),
            metrics,
        }
    }

    /// Waits for a concurrency slot, the end of any pause, the probe (if one is out) and a
    /// rate token, then checks the pause once more. Fails at once if the gate cannot open
    /// before `deadline`. Keep the permit until the answer is classified and any pause set.
    pub async fn acquire(&self, deadline: Instant) -> Result<GatePermit, ClosedPastDeadline> {
        let slot = match timeout_at(deadline, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => slot,
            _ => return Err(ClosedPastDeadline),
        };
        loop {
            self.pause.wait_open(deadline).await?;
            self.pause.wait_probe(deadline).await?;
            self.take_rate_token(deadline).await?;
            if let Some(probe) = self.pause.try_pass() {
                return Ok(GatePermit {
                    issued_at: Instant::now(),
                    _probe: probe,
                    _slot: slot,
                });
            }
        }
    }

    /// Closes the gate for every caller until `until` (never shortens a pause).
    pub fn pause_until(&self, until: Instant) {
        let added = self.pause.pause_until(until);
        if !added.is_zero() {
            self.metrics
                .gate_paused(&self.tenant, self.target, added.as_secs_f64());
        }
    }

    /// How long the gate stays closed from now, if it is closed.
    pub fn paused_for(&self) -> Option<Duration> {
        self.pause.remaining()
    }

    /// A 429 came back for a request let through at `issued_at`: halve the rate, unless an
    /// earlier 429 already cut it after that request left (in-flight 429s cut once).
    pub fn on_rate_limited(&self, issued_at: Instant) {
        let mut rate = self.rate.lock().expect("gate lock");
        if rate.last_cut.is_some_and(|cut| issued_at <= cut) {
            return;
        }
        let now = Instant::now();
        rate.last_cut = Some(now);
        let cut = (rate.per_minute * 0.5).max(MIN_PER_MINUTE);
        self.set_rate(&mut rate, cut, 1, now);
    }

    /// ServiceNow reported its rule (`X-RateLimit-Limit`, per hour): never go above it.
    pub fn observe_limit_per_hour(&self, per_hour: u32) {
        let reported = sane_rate(f64::from(per_hour) * self.config.headroom / 60.0);
        let mut rate = self.rate.lock().expect("gate lock");
        let ceiling = reported.min(sane_rate(self.config.per_minute));
        if (ceiling - rate.ceiling).abs() > f64::EPSILON {
            rate.ceiling = ceiling;
            if rate.per_minute > ceiling {
                self.set_rate(&mut rate, ceiling, 1, Instant::now());
            }
        }
    }

    /// The current state, for `/status`.
    pub fn snapshot(&self) -> GateSnapshot {
        let rate = self.rate.lock().expect("gate lock");
        GateSnapshot {
            per_minute: rate.per_minute,
            ceiling_per_minute: rate.ceiling,
            paused_for: self.paused_for(),
            in_flight: self.config.max_concurrency.max(1) - self.slots.available_permits(),
        }
    }

    async fn take_rate_token(&self, deadline: Instant) -> Result<(), ClosedPastDeadline> {
        loop {
            let limiter = self.current_limiter();
            match limiter.check() {
                Ok(()) => return Ok(()),
                Err(not_until) => {
                    let at = Instant::now() + not_until.wait_time_from(self.clock.now());
                    if at > deadline {
                        return Err(ClosedPastDeadline);
                    }
                    sleep_until(at).await;
                }
            }
        }
    }

    /// The limiter in force, after giving back what clean minutes earned (AIMD increase).
    fn current_limiter(&self) -> Arc<Limiter> {
        let mut rate = self.rate.lock().expect("gate lock");
        let now = Instant::now();
        let clean = now.saturating_duration_since(rate.last_change);
        if rate.per_minute < rate.ceiling && clean >= RECOVERY_PERIOD {
            let steps = (clean.as_secs_f64() / RECOVERY_PERIOD.as_secs_f64()).floor();
            let per_minute = rate
                .ceiling
                .min(rate.per_minute + steps * RECOVERY_STEP * rate.ceiling);
            let burst = if per_minute >= rate.ceiling {
                self.config.burst
            } else {
                1
            };
            self.set_rate(&mut rate, per_minute, burst, now);
        }
        rate.limiter.clone()
    }

    fn set_rate(&self, rate: &mut Rate, per_minute: f64, burst: u32, now: Instant) {
        rate.per_minute = per_minute;
        rate.limiter = limiter(per_minute, burst, &self.clock);
        rate.last_change = now;
        self.metrics
            .gate_rate(&self.tenant, self.target, per_minute);
    }
}

fn sane_rate(per_minute: f64) -> f64 {
    if per_minute.is_finite() {
        per_minute.clamp(MIN_PER_MINUTE, UNLIMITED_PER_MINUTE)
    } else {
        UNLIMITED_PER_MINUTE
    }
}

fn limiter(per_minute: f64, burst: u32, clock: &TokioClock) -> Arc<Limiter> {
    let period = Duration::from_secs_f64(60.0 / sane_rate(per_minute));
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
    Arc::new(RateLimiter::direct_with_clock(quota, clock.clone()))
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
