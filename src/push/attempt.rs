//! One attempt's failure ([`AttemptError`]), what the attempts of one logical request share
//! ([`Progress`]: attempt count, the one token renewal, the last real error), and the
//! [`PushFailure`] they end in: `permanent` for a refusal, `exhausted` when attempts or the
//! time budget ran out on retryable failures ([`give_up`]).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use super::auth::AuthError;
use super::classify::{Class, TransportKind};
use super::outcome::{FailureReason, PushFailure};
use super::reply;
use super::schedule::RetryHint;

/// Why one attempt did not succeed.
#[derive(Debug, Clone)]
pub struct AttemptError {
    pub class: Class,
    /// The server's wait (clamped and jittered), used instead of the backoff step.
    pub wait: Option<Duration>,
    pub status: Option<u16>,
    pub message: String,
    pub correlation_id: Option<String>,
    /// The gate cannot open inside the budget: stop now.
    pub budget_spent: bool,
}

impl AttemptError {
    pub fn transport(what: &str, kind: TransportKind, class: Class, status: Option<u16>) -> Self {
        Self {
            class,
            wait: None,
            status,
            message: format!("{what}: {}", kind.as_str()),
            correlation_id: None,
            budget_spent: false,
        }
    }

    pub fn budget_spent(what: &str) -> Self {
        Self {
            class: Class::Transient,
            wait: None,
            status: None,
            message: format!("{what}: the gate stays closed beyond the retry budget"),
            correlation_id: None,
            budget_spent: true,
        }
    }
}

impl RetryHint for AttemptError {
    fn retryable(&self) -> bool {
        !self.budget_spent && self.class != Class::Permanent
    }
    fn wait_hint(&self) -> Option<Duration> {
        self.wait
    }
}

impl From<AuthError> for AttemptError {
    fn from(e: AuthError) -> Self {
        Self {
            class: e.class,
            wait: e.wait,
            status: e.status,
            message: e.message,
            correlation_id: None,
            budget_spent: false,
        }
    }
}

/// State shared by the attempts of one logical request.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    attempts: AtomicU32,
    renewed: AtomicBool,
    last: Mutex<Option<AttemptError>>,
    first_failed_at: Mutex<Option<SystemTime>>,
}

impl Progress {
    /// Progress whose next attempt is number `first` (a lane counts the attempts of a change
    /// across requests).
    pub(crate) fn starting_at(first: u32) -> Self {
        Self {
            attempts: AtomicU32::new(first.saturating_sub(1)),
            ..Self::default()
        }
    }

    /// Counts an attempt; returns its number (1-based).
    pub(crate) fn start_attempt(&self) -> u32 {
        self.attempts.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// True the first time only: a 401 renews the token once per logical request.
    pub(crate) fn renew_once(&self) -> bool {
        !self.renewed.swap(true, Ordering::SeqCst)
    }

    /// Remembers a real failure, so a later "budget spent" can report what went wrong, and
    /// when the first one happened.
    pub(crate) fn record(&self, e: &AttemptError) {
        self.first_failed_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(SystemTime::now);
        if !e.budget_spent {
            *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
        }
    }

    /// The failure the logical request ends with.
    pub(crate) fn failure(&self, e: AttemptError) -> PushFailure {
        let attempts = self.attempts.load(Ordering::SeqCst);
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner()).take();
        let first_failed_at = *self
            .first_failed_at
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        give_up(e, last, attempts, first_failed_at)
    }
}

/// The [`PushFailure`] a change ends with after `attempts` attempts, the last one failing
/// with `e`: `permanent` for a refusal, else `exhausted`. When `e` only says the budget ran
/// out, the last real error (`last`) is reported instead, so the DLQ says what went wrong.
/// `first_failed_at` is when the first failure happened (now, if `e` is the first).
pub fn give_up(
    mut e: AttemptError,
    last: Option<AttemptError>,
    attempts: u32,
    first_failed_at: Option<SystemTime>,
) -> PushFailure {
    if e.budget_spent
        && let Some(last) = last
    {
        e = AttemptError {
            budget_spent: true,
            ..last
        };
    }
    let reason = if e.class == Class::Permanent && !e.budget_spent {
        FailureReason::Permanent
    } else {
        FailureReason::Exhausted
    };
    let error = match reason {
        FailureReason::Permanent => e.message,
        FailureReason::Exhausted => {
            format!("{} (gave up after {attempts} attempts)", e.message)
        }
    };
    PushFailure {
        reason,
        status: e.status,
        error: reply::truncate(&error, reply::MAX_ERROR_BYTES),
        attempts,
        correlation_id: e.correlation_id,
        first_failed_at: Some(first_failed_at.unwrap_or_else(SystemTime::now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(class: Class, status: u16) -> AttemptError {
        AttemptError {
            class,
            wait: None,
            status: Some(status),
            message: format!("PUT row: {status}"),
            correlation_id: Some("cid".into()),
            budget_spent: false,
        }
    }

    #[test]
    fn permanent_and_exhausted() {
        let p = Progress::default();
        p.start_attempt();
        let f = p.failure(error(Class::Permanent, 400));
        assert_eq!(
            (f.reason, f.status, f.attempts),
            (FailureReason::Permanent, Some(400), 1)
        );
        assert_eq!(f.error, "PUT row: 400");
        p.start_attempt();
        let f = p.failure(error(Class::Transient, 503));
        assert_eq!((f.reason, f.attempts), (FailureReason::Exhausted, 2));
        assert_eq!(f.error, "PUT row: 503 (gave up after 2 attempts)");
    }

    #[test]
    fn budget_spent_reports_the_last_real_error() {
        let p = Progress::default();
        p.start_attempt();
        p.record(&error(Class::RateLimited { wait: None }, 429));
        p.start_attempt();
        let spent = AttemptError::budget_spent("PUT row");
        p.record(&spent);
        let f = p.failure(spent);
        assert_eq!((f.reason, f.status), (FailureReason::Exhausted, Some(429)));
        assert_eq!(f.correlation_id.as_deref(), Some("cid"));
        // Without an earlier error, the budget itself is the reason.
        let p = Progress::default();
        p.start_attempt();
        let f = p.failure(AttemptError::budget_spent("PUT row"));
        assert_eq!((f.reason, f.status), (FailureReason::Exhausted, None));
        assert!(f.error.contains("beyond the retry budget"), "{}", f.error);
    }

    #[test]
    fn one_renewal_per_request() {
        let p = Progress::default();
        assert!(p.renew_once());
        assert!(!p.renew_once());
    }
}
