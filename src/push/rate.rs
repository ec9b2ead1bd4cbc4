//! The adaptive token bucket of a gate: governor's GCRA limiter at a rate that moves.
//!
//! It starts at the ceiling: the configured quota × headroom, capped by what the server
//! *reported* of its limits (ServiceNow `X-RateLimit-Limit`, the Genesys org limits) and by
//! what the gate *learned* at a 429 point ([`AdaptiveRate::learn`]: the share of a window this
//! gate really got, × headroom; never below half the rate it had, so a 429 that was not about
//! this quota costs no more than an AIMD cut). A learned ceiling is probed upward per clean
//! recovery period (no 429), by [`PROBE_STEP`] first and twice as much each clean period after
//! (up to [`MAX_PROBE_STEP`]), until it meets the configured or reported cap again or the next
//! 429 teaches a new share: the rate stays near the real share instead of saw-toothing, and a
//! share that grew back is found in a few periods.
//!
//! Without anything to learn from (a 429 that does not say when its window ends), AIMD: the
//! 429 halves the rate (floor 1/min) and drops the burst to 1; every clean recovery period (a
//! minute, or the scaled quota window of a rehearsal) gives back 10 % of the ceiling. In-flight
//! requests that all come back 429 cut (or teach) once: a 429 only acts if its request left
//! after the previous cut. A server that says when its quota window ends (ServiceNow
//! `X-RateLimit-Reset`) realigns recovery to that window: a cut made in a window is undone when
//! the window ends, since the new window starts with the whole quota. Time is tokio's
//! (governor runs on a tokio clock), so paused-time tests drive it too.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use parking_lot::Mutex;
use tokio::time::{Instant, sleep_until};

use super::gate::ClosedPastDeadline;
use super::rate_limiter::{Limiter, TokioClock, limiter};

pub use super::rate_limiter::sane_rate;

/// Lowest rate AIMD cuts to (DESIGN §6: floor 1/min).
pub const MIN_PER_MINUTE: f64 = 1.0;
/// A minute without a 429 gives back this share of the ceiling.
pub const RECOVERY_STEP: f64 = 0.10;
/// A clean recovery period raises a learned ceiling by this share: slowly, so that the next
/// 429 comes many windows later (one or two 429s per probe cycle, not one per window).
pub const PROBE_STEP: f64 = 0.02;
/// The largest probe step: doubling stops here.
pub const MAX_PROBE_STEP: f64 = 0.32;
/// How long "clean" must last before a recovery step (the default; a gate may shorten it
/// along with a scaled quota window).
pub const RECOVERY_PERIOD: Duration = Duration::from_secs(60);
/// The rate used when there is no known limit (ServiceNow without a rule): the
/// concurrency cap is what limits.
pub const UNLIMITED_PER_MINUTE: f64 = 60_000.0;
/// Largest burst the bucket allows after a quiet spell.
pub const MAX_BURST: u32 = 100;

struct State {
    per_minute: f64,
    ceiling: f64,
    /// What the server reported of its limit (per minute, headroom applied).
    reported: Option<f64>,
    /// The share learned at the last 429 point, probed upward since (per minute, headroom
    /// applied); `None` once probing reached the other caps.
    learned: Option<f64>,
    /// The next probe step (a share of the learned ceiling).
    probe_step: f64,
    limiter: Arc<Limiter>,
    last_change: Instant,
    last_cut: Option<Instant>,
    /// The end of the server's current quota window, when the server says so.
    window_end: Option<Instant>,
}

/// Told the new rate and ceiling (requests per minute) whenever they change.
pub type OnChange = Box<dyn Fn(f64, f64) + Send + Sync>;

/// A token bucket whose rate follows AIMD.
pub struct AdaptiveRate {
    clock: TokioClock,
    configured: f64,
    burst: u32,
    recovery_period: Duration,
    state: Mutex<State>,
    on_change: OnChange,
}

impl AdaptiveRate {
    /// `per_minute` is the ceiling; `burst` what may go back to back at the ceiling; every
    /// `recovery_period` without a cut gives back one step.
    pub fn new(
        per_minute: f64,
        burst: u32,
        recovery_period: Duration,
        on_change: OnChange,
    ) -> Self {
        let clock = TokioClock {
            origin: Instant::now(),
        };
        let ceiling = sane_rate(per_minute);
        on_change(ceiling, ceiling);
        Self {
            state: Mutex::new(State {
                per_minute: ceiling,
                ceiling,
                reported: None,
                learned: None,
                probe_step: PROBE_STEP,
                limiter: limiter(ceiling, burst, &clock),
                last_change: Instant::now(),
                last_cut: None,
                window_end: None,
            }),
            clock,
            configured: ceiling,
            burst,
            recovery_period: recovery_period.max(Duration::from_millis(1)),
            on_change,
        }
    }

    /// Waits for a token; fails at once if none comes before `deadline` (`None`: no deadline).
    pub async fn take(&self, deadline: Option<Instant>) -> Result<(), ClosedPastDeadline> {
        loop {
            let limiter = self.current_limiter();
            match limiter.check() {
                Ok(()) => return Ok(()),
                Err(not_until) => {
                    let at = Instant::now() + not_until.wait_time_from(self.clock.now());
                    if deadline.is_some_and(|d| at > d) {
                        return Err(ClosedPastDeadline);
                    }
                    sleep_until(at).await;
                }
            }
        }
    }

    /// A 429 for a request let through at `issued_at`: halve, unless already cut since.
    pub fn cut(&self, issued_at: Instant) {
        let mut st = self.state.lock();
        if st.last_cut.is_some_and(|cut| issued_at <= cut) {
            return;
        }
        let now = Instant::now();
        st.last_cut = Some(now);
        let cut = (st.per_minute * 0.5).max(MIN_PER_MINUTE);
        self.set(&mut st, cut, 1, now);
    }

    /// A 429 for a request let through at `issued_at` taught the share of the window this
    /// gate really gets (`per_minute`, headroom applied): it becomes the ceiling and the rate,
    /// without a burst, unless an earlier 429 already acted since that request left.
    pub fn learn(&self, issued_at: Instant, per_minute: f64) {
        let mut st = self.state.lock();
        if st.last_cut.is_some_and(|cut| issued_at <= cut) {
            return;
        }
        let now = Instant::now();
        st.last_cut = Some(now);
        st.learned = Some(sane_rate(per_minute.max(st.per_minute * 0.5)));
        st.probe_step = PROBE_STEP;
        st.ceiling = self.cap(&st);
        let ceiling = st.ceiling;
        self.set(&mut st, ceiling, 1, now);
    }

    /// A limit the server reported (per minute, headroom applied): the ceiling never goes
    /// above it (nor above the configured one).
    pub fn limit_ceiling(&self, per_minute: f64) {
        let mut st = self.state.lock();
        let reported = sane_rate(per_minute);
        if st
            .reported
            .is_some_and(|r| (r - reported).abs() <= f64::EPSILON)
        {
            return;
        }
        st.reported = Some(reported);
        let ceiling = self.cap(&st);
        if (ceiling - st.ceiling).abs() > f64::EPSILON {
            st.ceiling = ceiling;
            let per_minute = st.per_minute.min(ceiling);
            self.set(&mut st, per_minute, 1, Instant::now());
        }
    }

    /// The ceiling: the configured rate, capped by what was reported and learned.
    fn cap(&self, st: &State) -> f64 {
        [st.reported, st.learned]
            .into_iter()
            .flatten()
            .fold(self.configured, f64::min)
    }

    /// The server's quota window ends at `end` (never moved back: a late answer from the
    /// previous window does not undo the realignment).
    pub fn align_window(&self, end: Instant) {
        let mut st = self.state.lock();
        if st.window_end.is_none_or(|known| end > known) {
            st.window_end = Some(end);
        }
    }

    /// Empties the bucket: the next requests go at the rate, with no burst. For a tenant
    /// taken over from another replica, which may have spent the burst of this window.
    pub fn empty_bucket(&self) {
        let limiter = self.current_limiter();
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        // Take what is there, one cell at a time until none is left (at most `burst`).
        for _ in 0..burst.get() {
            if limiter.check().is_err() {
                break;
            }
        }
    }

    /// (current rate, ceiling), requests per minute.
    pub fn rates(&self) -> (f64, f64) {
        let st = self.state.lock();
        (st.per_minute, st.ceiling)
    }

    /// The limiter in force, after giving back what clean recovery periods earned.
    fn current_limiter(&self) -> Arc<Limiter> {
        let mut st = self.state.lock();
        let now = Instant::now();
        let window_ended = st
            .window_end
            .is_some_and(|end| st.last_change < end && end <= now);
        if st.per_minute < st.ceiling && window_ended {
            // The cut belonged to a window that is over: the new one has the whole quota.
            let ceiling = st.ceiling;
            self.set(&mut st, ceiling, self.burst, now);
            return st.limiter.clone();
        }
        let clean = now.saturating_duration_since(st.last_change);
        if let Some(learned) = st.learned
            && clean >= self.recovery_period
        {
            // Probe a learned share upward, one step per clean period; once it meets the
            // other caps there is nothing learned left.
            let steps = (clean.as_secs_f64() / self.recovery_period.as_secs_f64()).floor();
            let mut probed = learned;
            for _ in 0..(steps as u32).min(64) {
                probed *= 1.0 + st.probe_step;
                st.probe_step = (st.probe_step * 2.0).min(MAX_PROBE_STEP);
            }
            st.learned = Some(probed);
            let others = [st.reported]
                .into_iter()
                .flatten()
                .fold(self.configured, f64::min);
            if probed >= others {
                st.learned = None;
            }
            st.ceiling = self.cap(&st);
            let (ceiling, burst) = (
                st.ceiling,
                if st.learned.is_some() { 1 } else { self.burst },
            );
            self.set(&mut st, ceiling, burst, now);
            return st.limiter.clone();
        }
        if st.per_minute < st.ceiling && clean >= self.recovery_period {
            let steps = (clean.as_secs_f64() / self.recovery_period.as_secs_f64()).floor();
            let per_minute = st
                .ceiling
                .min(st.per_minute + steps * RECOVERY_STEP * st.ceiling);
            let burst = if per_minute >= st.ceiling {
                self.burst
            } else {
                1
            };
            self.set(&mut st, per_minute, burst, now);
        }
        st.limiter.clone()
    }

    fn set(&self, st: &mut State, per_minute: f64, burst: u32, now: Instant) {
        st.per_minute = per_minute;
        st.limiter = limiter(per_minute, burst, &self.clock);
        st.last_change = now;
        (self.on_change)(per_minute, st.ceiling);
    }
}
