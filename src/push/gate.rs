//! The gate: one per (tenant, target), shared by every request and every retry of that
//! tenant at that target (DESIGN §6). It keeps the whole fleet of calls polite:
//!
//! 1. a token bucket (governor, GCRA) at the configured rate × headroom;
//! 2. a shared pause: after a 429 nobody sends until the server's `Retry-After` has passed,
//!    then one probe request goes first (`pause`);
//! 3. a concurrency cap (a semaphore slot per request in flight);
//! 4. an adaptive rate (AIMD): each 429 halves the rate (floor 1/min), each clean minute
//!    (each clean quota window, when a rehearsal scales the window) adds back 10 % of the
//!    ceiling; where the server says when its quota window ends (ServiceNow
//!    `X-RateLimit-Reset`), a cut is undone when that window ends.
//!
//! [`Gate::acquire`] re-checks the pause after it has the slot and the rate token, right
//! before returning, so nothing is sent while the gate is closed. The bucket and AIMD live
//! in `rate`, the pause and its probe in `pause`. Time is tokio's throughout, so tests can
//! use `tokio::time::pause()`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, timeout_at};

use super::pause::{ProbeGuard, SharedPause};
use super::rate::{AdaptiveRate, MAX_BURST, RECOVERY_PERIOD, UNLIMITED_PER_MINUTE};
use crate::change::TargetKind;
use crate::config::{GenesysSettings, ServiceNowSettings};
use crate::metrics::Metrics;

pub use super::rate::MIN_PER_MINUTE;

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
    /// How long a spell without a 429 must last for AIMD to give back one step: the quota
    /// window (a minute; shorter only against a simulator with scaled windows).
    pub recovery_period: Duration,
}

impl GateConfig {
    /// `requests_per_minute` per `window` (a minute unless scaled for a rehearsal), × headroom.
    pub fn genesys(s: &GenesysSettings) -> Self {
        let quota = f64::from(s.requests_per_minute);
        let per_window = quota * s.headroom;
        let window = s.window.max(Duration::from_millis(1));
        Self {
            per_minute: per_window * 60.0 / window.as_secs_f64(),
            burst: burst_for(quota - per_window),
            max_concurrency: s.max_concurrency,
            headroom: s.headroom,
            recovery_period: window,
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
            recovery_period: RECOVERY_PERIOD,
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

/// One gate per (tenant, target); share it with `Arc`.
pub struct Gate {
    tenant: String,
    target: TargetKind,
    config: GateConfig,
    slots: Arc<Semaphore>,
    pause: Arc<SharedPause>,
    rate: AdaptiveRate,
    metrics: Arc<Metrics>,
}

impl Gate {
    pub fn new(
        tenant: &str,
        target: TargetKind,
        config: GateConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        let on_change = {
            let (metrics, tenant) = (metrics.clone(), tenant.to_owned());
            Box::new(move |per_minute| metrics.gate_rate(&tenant, target, per_minute))
        };
        Self {
            tenant: tenant.to_owned(),
            target,
            slots: Arc::new(Semaphore::new(config.max_concurrency.max(1))),
            pause: SharedPause::new(),
            rate: AdaptiveRate::new(
                config.per_minute,
                config.burst,
                config.recovery_period,
                on_change,
            ),
            config,
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
            self.rate.take(deadline).await?;
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
        self.rate.cut(issued_at);
    }

    /// ServiceNow reported its rule (`X-RateLimit-Limit`, per hour): never go above it.
    pub fn observe_limit_per_hour(&self, per_hour: u32) {
        self.rate
            .limit_ceiling(f64::from(per_hour) * self.config.headroom / 60.0);
    }

    /// ServiceNow said when its rate-limit window ends (`X-RateLimit-Reset`): recovery from
    /// a 429 cut follows that window instead of the clean-minute steps alone.
    pub fn align_window(&self, end: Instant) {
        self.rate.align_window(end);
    }

    /// Starts conservatively: for a tenant taken over from another replica, which may have
    /// used this window's burst already, the bucket starts empty (requests go at the rate).
    /// With the burst sized `quota − ceiling`, the two replicas together stay within the
    /// quota of any window.
    pub fn start_conservatively(&self) {
        self.rate.empty_bucket();
    }

    /// The current state, for `/status`.
    pub fn snapshot(&self) -> GateSnapshot {
        let (per_minute, ceiling_per_minute) = self.rate.rates();
        GateSnapshot {
            per_minute,
            ceiling_per_minute,
            paused_for: self.paused_for(),
            in_flight: self.config.max_concurrency.max(1) - self.slots.available_permits(),
        }
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
