//! [`Retries`]: the retry budget of one change at one target (DESIGN §6), for a lane that
//! re-admits a failed change through its gate instead of sleeping on it.
//!
//! Every request made for the change counts as an attempt (`retry.max_attempts`: a GET, PUT,
//! POST and publish of one change are four), the time budget (`retry.max_elapsed`) starts at
//! its first request, and the wait before the next try is the server's hint or backon's
//! exponential step with full jitter ([`next_delay`]); `None` (give up now) when attempts are
//! spent or the wait would cross the budget. A newer version of the script starts afresh: the
//! lane drops a superseded change's `Retries` with it.

use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBackoff};
use tokio::time::Instant;

use super::attempt::AttemptError;
use super::schedule::{Budget, Schedule, next_delay};

/// Attempts made and budget left for one change at one target.
#[derive(Debug)]
pub struct Retries {
    attempts: u32,
    max_attempts: u32,
    budget: Budget,
    backoff: ExponentialBackoff,
    /// The last real failure, reported if the budget ends the retries.
    last: Option<AttemptError>,
    /// When the first request of the change failed (DLQ `x-scriptsync-first-failed-at`).
    first_failed_at: Option<SystemTime>,
}

impl Retries {
    /// A fresh budget, starting now (at the change's first request).
    pub fn start(schedule: &Schedule) -> Self {
        let max_attempts = u32::try_from(schedule.settings().max_attempts).unwrap_or(u32::MAX);
        Self {
            attempts: 0,
            max_attempts: max_attempts.max(1),
            budget: schedule.budget(),
            backoff: schedule.backoff().build(),
            last: None,
            first_failed_at: None,
        }
    }

    /// Counts one request about to be sent; returns its attempt number (1-based).
    pub fn count(&mut self) -> u32 {
        self.attempts += 1;
        self.attempts
    }

    /// Requests made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Requests may still be admitted for this change until then.
    pub fn deadline(&self) -> Instant {
        self.budget.deadline()
    }

    /// True while another request fits: attempts left and the budget not over.
    pub fn may_send(&self) -> bool {
        self.attempts < self.max_attempts && Instant::now() < self.budget.deadline()
    }

    /// After a failure `e`: the wait before the next try, or `None` to give up now (not
    /// retryable, attempts spent, or the wait would cross the budget). `jitter` (0.0–1.0)
    /// scales the backoff step when the server gave no hint.
    pub fn next_wait(&mut self, e: &AttemptError, jitter: f64) -> Option<Duration> {
        use super::schedule::RetryHint as _;
        self.first_failed_at.get_or_insert_with(SystemTime::now);
        if !e.budget_spent {
            self.last = Some(e.clone());
        }
        if !e.retryable() || self.attempts >= self.max_attempts {
            return None;
        }
        next_delay(e.wait_hint(), self.backoff.next(), &self.budget, jitter)
    }

    /// The failure to report when giving up after `e`.
    pub fn give_up(&mut self, e: AttemptError) -> super::outcome::PushFailure {
        let first_failed_at = *self.first_failed_at.get_or_insert_with(SystemTime::now);
        super::attempt::give_up(e, self.last.take(), self.attempts, Some(first_failed_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RetrySettings;
    use crate::push::Class;

    fn failure(class: Class, wait: Option<Duration>) -> AttemptError {
        AttemptError {
            class,
            wait,
            status: Some(503),
            message: "PUT row: 503".into(),
            correlation_id: None,
            budget_spent: false,
        }
    }

    fn schedule(max_attempts: usize, max_elapsed: u64) -> Schedule {
        Schedule::new(&RetrySettings {
            max_attempts,
            max_elapsed: Duration::from_secs(max_elapsed),
            ..RetrySettings::default()
        })
    }

    #[tokio::test(start_paused = true)]
    async fn every_request_counts_toward_max_attempts() {
        let mut r = Retries::start(&schedule(3, 300));
        let e = failure(Class::Transient, None);
        r.count();
        r.count();
        assert!(r.next_wait(&e, 0.5).is_some(), "2 of 3 used");
        r.count();
        assert!(!r.may_send());
        assert_eq!(r.next_wait(&e, 0.5), None, "3 of 3 used");
        let f = r.give_up(e);
        assert_eq!(f.attempts, 3);
        assert_eq!(f.error, "PUT row: 503 (gave up after 3 attempts)");
    }

    #[tokio::test(start_paused = true)]
    async fn hints_replace_the_step_and_the_budget_ends_retries_early() {
        let mut r = Retries::start(&schedule(10, 60));
        r.count();
        let hinted = failure(
            Class::RateLimited { wait: None },
            Some(Duration::from_secs(42)),
        );
        assert_eq!(r.next_wait(&hinted, 0.0), Some(Duration::from_secs(42)));
        tokio::time::advance(Duration::from_secs(42)).await;
        r.count();
        assert_eq!(
            r.next_wait(&hinted, 0.0),
            None,
            "42 s more would cross 60 s"
        );
        let mut r = Retries::start(&schedule(10, 60));
        r.count();
        let plain = failure(Class::Transient, None);
        let first = r.next_wait(&plain, 1.0).unwrap();
        assert_eq!(
            first,
            RetrySettings::default().initial,
            "full step at jitter 1.0"
        );
        assert_eq!(r.next_wait(&plain, 0.0), Some(Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_and_budget_spent_give_up_with_the_real_error() {
        let mut r = Retries::start(&schedule(10, 60));
        r.count();
        assert_eq!(r.next_wait(&failure(Class::Permanent, None), 0.5), None);
        let mut r = Retries::start(&schedule(10, 60));
        r.count();
        let real = failure(Class::RateLimited { wait: None }, None);
        assert!(r.next_wait(&real, 0.5).is_some());
        let spent = AttemptError::budget_spent("PUT row");
        assert_eq!(r.next_wait(&spent, 0.5), None);
        let f = r.give_up(spent);
        assert_eq!(f.status, Some(503), "the last real error is reported");
    }
}
