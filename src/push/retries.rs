//! [`Retries`]: the one retry engine (DESIGN §6). Everything that retries a request (a lane's
//! changes, the row listing through [`PushClient::send`](super::PushClient::send)) keeps
//! one `Retries` per logical unit (a change at a target, a listing page) and asks it, after
//! each failed attempt, what to do next ([`Retries::after`]; [`decide`] adds the gate's
//! pause). A failed token fetch is one
//! such attempt (its `AuthError` becomes the attempt's failure); the token cache only leaves
//! a failing endpoint alone for the same schedule's steps. A DLQ replay is a new delivery to
//! the worker, so its pushes go through the same engine. Nothing else retries a target (the
//! doctor asks once: a diagnosis reports what it sees).
//!
//! | the attempt | counts as a failure | next |
//! |---|---|---|
//! | permanent (other 4xx, a refused record) | — | give up now: `permanent` |
//! | rate-limited with a wait (429 / 503 + `Retry-After`, a closed gate) | no | wait what the server said |
//! | rate-limited without a wait | no | the throttle backoff (never runs out) |
//! | transient (5xx, timeout, connection error, 401 after the renewal) | yes | the backoff step with equal jitter (half of it kept), or give up: `exhausted` |
//!
//! The budget counts failures only: `retry.max_attempts` failed requests, and
//! `retry.max_elapsed` of failure time (the failed requests' own durations plus the backoff
//! waits after them). Time a server asked us to wait, and time spent queueing for the gate,
//! are not failures. When the next backoff would cross `max_elapsed`, the change gives up now
//! rather than sleep and fail later. backon's iterator gives `None` after the last attempt: that
//! `None` is passed through as "give up".

use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBackoff};
use tokio::time::Instant;

use super::attempt::{self, AttemptError};
use super::classify::Class;
use super::gate::Gate;
use super::outcome::PushFailure;
use super::schedule::Schedule;

/// Requests made, failures counted and budget left for one change at one target.
#[derive(Debug)]
pub struct Retries {
    requests: u32,
    failures: u32,
    max_failures: u32,
    failing_for: Duration,
    max_elapsed: Duration,
    backoff: ExponentialBackoff,
    throttle: ExponentialBackoff,
    /// When the first request of the change failed (DLQ `x-scriptsync-first-failed-at`).
    first_failed_at: Option<SystemTime>,
}

impl Retries {
    /// A fresh budget.
    pub fn start(schedule: &Schedule) -> Self {
        let s = schedule.settings();
        Self {
            requests: 0,
            failures: 0,
            max_failures: u32::try_from(s.max_attempts).unwrap_or(u32::MAX).max(1),
            failing_for: Duration::ZERO,
            max_elapsed: s.max_elapsed,
            backoff: schedule.backoff().build(),
            throttle: schedule.throttle_backoff().build(),
            first_failed_at: None,
        }
    }

    /// Counts one request about to be sent; returns its number (1-based), for spans and logs.
    pub fn count(&mut self) -> u32 {
        self.requests += 1;
        self.requests
    }

    /// Requests made so far.
    pub fn attempts(&self) -> u32 {
        self.requests
    }

    /// Failed requests counted so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// After the failed attempt `e`: how long to wait before the next try, or `None` to give
    /// up now (see the module table). `jitter` (0.0–1.0) scales the backoff step.
    pub fn after(&mut self, e: &AttemptError, jitter: f64) -> Option<Duration> {
        let jitter = jitter.clamp(0.0, 1.0);
        match e.class {
            Class::Success => Some(Duration::ZERO),
            Class::Permanent => {
                self.first_failed_at.get_or_insert_with(SystemTime::now);
                self.failures += 1;
                None
            }
            Class::RateLimited { .. } => Some(match e.wait {
                Some(wait) => wait,
                // Half the step at least: a throttled caller must not come straight back.
                None => self
                    .throttle
                    .next()
                    .unwrap_or_default()
                    .mul_f64(0.5 + jitter / 2.0),
            }),
            Class::Transient | Class::Auth => {
                self.first_failed_at.get_or_insert_with(SystemTime::now);
                self.failures += 1;
                self.failing_for += e.took;
                if self.failures >= self.max_failures {
                    return None;
                }
                // Equal jitter, as for a 429 without a hint: half the step is kept, so ten
                // failures take at least half the schedule (40 s by default) and a short
                // outage cannot spend a change's budget in a few seconds of bad draws.
                let wait = self.backoff.next()?.mul_f64(0.5 + jitter / 2.0);
                let spent = self.failing_for.saturating_add(wait);
                if spent > self.max_elapsed {
                    return None;
                }
                self.failing_for = spent;
                Some(wait)
            }
        }
    }

    /// The failure to report when giving up after `e`.
    pub fn give_up(&mut self, e: AttemptError) -> PushFailure {
        let first_failed_at = *self.first_failed_at.get_or_insert_with(SystemTime::now);
        attempt::give_up(e, self.requests, self.failures, Some(first_failed_at))
    }
}

/// [`Retries::after`], and what a wait means for the gate: a 429 that gave no wait still
/// closes the gate for every caller of the (tenant, target), for the wait chosen here (a
/// 429 with a wait closed it already, when it was classified).
pub fn decide(
    retries: &mut Retries,
    e: &AttemptError,
    gate: &Gate,
    jitter: f64,
) -> Option<Duration> {
    let wait = retries.after(e, jitter)?;
    if matches!(e.class, Class::RateLimited { wait: None }) {
        gate.pause_until(Instant::now() + wait);
    }
    Some(wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RetrySettings;

    fn failure(class: Class, wait: Option<u64>, took_ms: u64) -> AttemptError {
        AttemptError {
            wait: wait.map(Duration::from_secs),
            took: Duration::from_millis(took_ms),
            ..AttemptError::new(class, "PUT row: 503").with_status(Some(503))
        }
    }

    fn retries(max_attempts: usize, max_elapsed_s: u64) -> Retries {
        Retries::start(&Schedule::new(&RetrySettings {
            max_attempts,
            max_elapsed: Duration::from_secs(max_elapsed_s),
            ..RetrySettings::default()
        }))
    }

    const TRANSIENT: Class = Class::Transient;
    const LIMITED: Class = Class::RateLimited { wait: None };

    #[test]
    fn the_table_row_by_row() {
        let initial = RetrySettings::default().initial;
        // (class, server wait s, jitter, expected wait; None = give up)
        let rows: &[(Class, Option<u64>, f64, Option<Duration>)] = &[
            (Class::Permanent, None, 1.0, None),
            (TRANSIENT, None, 1.0, Some(initial)),
            (TRANSIENT, None, 0.0, Some(initial / 2)),
            (Class::Auth, None, 1.0, Some(initial)),
            (LIMITED, Some(42), 1.0, Some(Duration::from_secs(42))),
            (LIMITED, Some(3_600), 0.0, Some(Duration::from_secs(3_600))),
            (LIMITED, None, 1.0, Some(initial)),
            (LIMITED, None, 0.0, Some(initial / 2)),
        ];
        for (i, (class, wait, jitter, want)) in rows.iter().enumerate() {
            let mut r = retries(10, 300);
            r.count();
            let e = failure(*class, *wait, 5);
            assert_eq!(r.after(&e, *jitter), *want, "row {i}: {class:?}");
        }
    }

    #[test]
    fn waits_the_server_asked_for_never_spend_the_budget() {
        // Two failures allowed, a minute of failure time: a thousand hour-long pauses later,
        // the change still has both.
        let mut r = retries(2, 60);
        for _ in 0..1000 {
            r.count();
            let hour = failure(LIMITED, Some(3_600), 5);
            assert_eq!(r.after(&hour, 0.5), Some(Duration::from_secs(3_600)));
            r.count();
            assert!(r.after(&failure(LIMITED, None, 5), 0.5).is_some());
        }
        assert_eq!(r.failures(), 0);
        r.count();
        assert!(r.after(&failure(TRANSIENT, None, 5), 0.5).is_some());
        r.count();
        assert_eq!(r.after(&failure(TRANSIENT, None, 5), 0.5), None, "2 of 2");
        let f = r.give_up(failure(TRANSIENT, None, 5));
        assert_eq!((f.attempts, f.status), (2002, Some(503)));
        assert_eq!(f.error, "PUT row: 503 (gave up after 2 failed requests)");
    }

    #[test]
    fn failure_time_ends_retries_before_a_backoff_would_cross_it() {
        // Requests that time out after 2 s each, in a 5 s budget: the third failure leaves
        // 6 s spent, so nothing more is tried after it (without sleeping first).
        let mut r = retries(100, 5);
        for n in 1..=2 {
            r.count();
            let wait = r.after(&failure(TRANSIENT, None, 2_000), 0.0);
            assert!(wait.is_some(), "failure {n}");
        }
        r.count();
        assert_eq!(r.after(&failure(TRANSIENT, None, 2_000), 0.0), None);
        // A backoff step that would cross the budget gives up now too.
        let mut r = Retries::start(&Schedule::new(&RetrySettings {
            initial: Duration::from_secs(4),
            max_delay: Duration::from_secs(4),
            max_elapsed: Duration::from_secs(5),
            ..RetrySettings::default()
        }));
        r.count();
        assert_eq!(
            r.after(&failure(TRANSIENT, None, 0), 1.0),
            Some(Duration::from_secs(4))
        );
        r.count();
        assert_eq!(
            r.after(&failure(TRANSIENT, None, 0), 1.0),
            None,
            "4 + 4 > 5"
        );
    }

    #[test]
    fn backoff_grows_and_throttle_backoff_never_runs_out() {
        let mut r = retries(4, 3_600);
        let waits: Vec<u128> = (0..3)
            .map(|_| {
                r.after(&failure(TRANSIENT, None, 0), 1.0)
                    .unwrap()
                    .as_millis()
            })
            .collect();
        assert_eq!(waits, [200, 400, 800]);
        assert_eq!(r.after(&failure(TRANSIENT, None, 0), 1.0), None, "4 of 4");
        let mut r = retries(1, 1);
        let last = (0..50)
            .map(|_| r.after(&failure(LIMITED, None, 0), 1.0))
            .last()
            .flatten();
        assert_eq!(last, Some(RetrySettings::default().max_delay));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_without_a_wait_closes_the_gate_for_the_chosen_wait() {
        use crate::push::GateConfig;
        let gate = Gate::new(
            "t",
            crate::change::TargetKind::Genesys,
            GateConfig {
                per_minute: 600.0,
                burst: 1,
                max_concurrency: 1,
                headroom: 0.9,
                recovery_period: Duration::from_secs(60),
                window: Duration::from_secs(60),
                learns_from_429: true,
            },
            std::sync::Arc::new(crate::metrics::Metrics::new()),
        );
        let mut r = retries(10, 300);
        let wait = decide(&mut r, &failure(LIMITED, None, 0), &gate, 1.0).unwrap();
        assert_eq!(gate.paused_for(), Some(wait));
        let mut r = retries(10, 300);
        assert!(decide(&mut r, &failure(TRANSIENT, None, 0), &gate, 1.0).is_some());
        assert_eq!(gate.paused_for(), Some(wait), "a 503 does not pause");
    }
}
