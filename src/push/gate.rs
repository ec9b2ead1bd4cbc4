//! The gate: one per (tenant, target), shared by every request and every retry of that
//! tenant at that target (DESIGN §6). It keeps the whole fleet of calls polite:
//!
//! 1. a token bucket (governor, GCRA) at the configured rate × headroom;
//! 2. a shared pause: after a 429 nobody sends until the server's `Retry-After` has passed,
//!    then one probe request goes first (`pause`);
//! 3. a concurrency cap (a semaphore slot per request in flight);
//! 4. an adaptive rate (`rate`): the ceiling is the configured quota × headroom, capped by
//!    what the server reported of its limits and by what a 429 taught. A Genesys 429 says
//!    when the server's fixed window ends (`Retry-After`): the requests this gate let through
//!    in that window are the share really available (other integrations use the same org's
//!    limits), and that × headroom becomes the ceiling, probed upward slowly afterwards. A 429
//!    that teaches nothing halves the rate (AIMD, floor 1/min), and each clean minute (clean
//!    quota window, when a rehearsal scales the window) adds back 10 % of the ceiling; where
//!    the server says when its quota window ends (ServiceNow `X-RateLimit-Reset`), a cut is
//!    undone when that window ends.
//!
//! [`Gate::acquire`] re-checks the pause after it has the slot and the rate token, right
//! before returning, so nothing is sent while the gate is closed. The bucket and AIMD live
//! in `rate`, the pause and its probe in `pause`. Time is tokio's (paused-time tests).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::classify::Refusal;
use super::pause::{ProbeGuard, SharedPause, within};
use super::rate::AdaptiveRate;

pub use super::gate_config::GateConfig;
use crate::change::TargetKind;
use crate::metrics::Metrics;

pub use super::rate::MIN_PER_MINUTE;

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
    /// When the requests of the last `window` were let through (what a 429 point counts).
    issued: Mutex<VecDeque<Instant>>,
    /// The end of a server window seen in a 429 (windows are fixed: the next ones follow).
    window_end: Mutex<Option<Instant>>,
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
            Box::new(move |per_minute, ceiling| {
                metrics.gate_rate(&tenant, target, per_minute);
                metrics.gate_ceiling(&tenant, target, ceiling);
            })
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
            issued: Mutex::default(),
            window_end: Mutex::default(),
            config,
            metrics,
        }
    }

    /// Waits for a concurrency slot, the end of any pause, the probe (if one is out) and a
    /// rate token, then checks the pause once more. Fails at once if the gate cannot open
    /// before `deadline`. Keep the permit until the answer is classified and any pause set.
    pub async fn acquire(&self, deadline: Instant) -> Result<GatePermit, ClosedPastDeadline> {
        self.acquire_by(Some(deadline)).await
    }

    /// Like [`acquire`](Self::acquire), waiting as long as the gate stays closed: for a
    /// caller to whom waiting is never a failure (a lane, whose changes wait for the gate).
    pub async fn admit(&self) -> GatePermit {
        match self.acquire_by(None).await {
            Ok(permit) => permit,
            Err(ClosedPastDeadline) => unreachable!("without a deadline none can pass"),
        }
    }

    async fn acquire_by(
        &self,
        deadline: Option<Instant>,
    ) -> Result<GatePermit, ClosedPastDeadline> {
        let slot = match within(deadline, self.slots.clone().acquire_owned()).await? {
            Ok(slot) => slot,
            Err(_closed) => unreachable!("the gate never closes its semaphore"),
        };
        loop {
            self.pause.wait_open(deadline).await?;
            self.pause.wait_probe(deadline).await?;
            self.rate.take(deadline).await?;
            if let Some(probe) = self.pause.try_pass() {
                let issued_at = Instant::now();
                self.note_issued(issued_at);
                return Ok(GatePermit {
                    issued_at,
                    _probe: probe,
                    _slot: slot,
                });
            }
        }
    }

    /// A request let through at `issued_at` was refused (429: `Quota`; 503 with a wait:
    /// `Busy`), the server saying `wait` (raw): for the quota, learn or cut the rate; either
    /// way close for the wait `honour` keeps, else till the server's known window end
    /// (Genesys), else for `no_hint`. Returns the wait kept.
    pub fn throttled(
        &self,
        issued_at: Instant,
        refusal: Refusal,
        wait: Option<Duration>,
        honour: impl FnOnce(Duration) -> Duration,
        no_hint: Duration,
    ) -> Option<Duration> {
        if refusal == Refusal::Quota {
            self.on_rate_limited(issued_at, wait);
        }
        let now = Instant::now();
        let wait = wait.or_else(|| {
            let end = self.window_end_after(now)?;
            Some(end.saturating_duration_since(now)).filter(|w| !w.is_zero())
        });
        let wait = wait.map(honour);
        self.pause_until(now + wait.unwrap_or(no_hint));
        wait
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

    /// A 429 came back for a request let through at `issued_at`, with the server's `wait`
    /// (raw). Where the wait ends the server's fixed window (Genesys), the requests let
    /// through in that window before this one are the share really available: the ceiling
    /// becomes that × headroom (see `rate`). Otherwise AIMD halves the rate. Either way
    /// in-flight 429s act once, and so do the 429s of one throttling episode (see `pause`).
    pub fn on_rate_limited(&self, issued_at: Instant, wait: Option<Duration>) {
        let repeat = self.pause.quota_refused();
        let window = self.config.window;
        let Some(wait) = wait.filter(|w| self.config.learns_from_429 && *w <= window) else {
            if !repeat {
                self.rate.cut(issued_at);
            }
            return;
        };
        let now = Instant::now();
        let end = now + wait;
        // Waits are whole seconds rounded up: the latest end seen is the safe one.
        let mut known = self.window_end.lock();
        *known = Some(known.map_or(end, |k| k.max(end)));
        drop(known);
        if repeat {
            return;
        }
        let start = end.checked_sub(window).unwrap_or(now);
        let got = self
            .issued
            .lock()
            .iter()
            .filter(|t| **t >= start && **t < issued_at)
            .count()
            .max(1);
        let per_minute = got as f64 * self.config.headroom * 60.0 / window.as_secs_f64();
        let (before, _) = self.rate.rates();
        self.rate.learn(issued_at, per_minute);
        let (after, ceiling) = self.rate.rates();
        if (after - before).abs() > f64::EPSILON {
            tracing::info!(
                tenant = %self.tenant, target = %self.target, requests_in_window = got,
                window_secs = window.as_secs_f64(), ceiling_per_minute = ceiling,
                "429: learned the share of the quota this gate really gets"
            );
        }
    }

    /// The server reported its limit, `per_window` requests per quota window (ServiceNow's
    /// `X-RateLimit-Limit`, the Genesys org limits): never go above it × headroom.
    pub fn observe_limit(&self, per_window: u32) {
        let per_minute =
            f64::from(per_window) * self.config.headroom * 60.0 / self.config.window.as_secs_f64();
        self.rate.limit_ceiling(per_minute);
    }

    /// When the server's current quota window ends, if a 429 said where windows end (they
    /// are fixed: one every `window` after it). What a 429 without a wait waits for.
    pub fn window_end_after(&self, now: Instant) -> Option<Instant> {
        let known = (*self.window_end.lock())?;
        if known >= now {
            return Some(known);
        }
        let window = self.config.window.as_nanos().max(1);
        let behind = (now - known).as_nanos();
        let windows = behind.div_ceil(window);
        let ahead = u64::try_from(windows * window).ok()?;
        Some(known + Duration::from_nanos(ahead))
    }

    /// Remembers a request let through now (only where a 429 can teach: at most the rate of
    /// one window is kept); forgets what is older than a window.
    fn note_issued(&self, at: Instant) {
        if !self.config.learns_from_429 {
            return;
        }
        let mut issued = self.issued.lock();
        let horizon = at.checked_sub(self.config.window);
        while issued
            .front()
            .is_some_and(|t| horizon.is_some_and(|h| *t < h))
        {
            issued.pop_front();
        }
        issued.push_back(at);
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

#[cfg(test)]
#[path = "gate_learning_tests.rs"]
mod learning_tests;
