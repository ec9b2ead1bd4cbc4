//! One attempt's failure ([`AttemptError`]) and the [`PushFailure`] a change ends with when
//! the retry engine ([`super::retries`]) gives up: `permanent` for a refusal, `exhausted` when
//! the failures of a change spent its budget ([`give_up`]).

use std::time::{Duration, SystemTime};

use super::auth::AuthError;
use super::classify::{Class, TransportKind};
use super::outcome::{FailureReason, PushFailure};
use super::reply;

/// Why one attempt did not succeed.
#[derive(Debug, Clone)]
pub struct AttemptError {
    pub class: Class,
    /// The server's wait (clamped and jittered), used instead of the backoff step.
    pub wait: Option<Duration>,
    pub status: Option<u16>,
    pub message: String,
    pub correlation_id: Option<String>,
    /// How long the failed request took, from sending to its answer (a timeout's whole
    /// length): failure time, counted toward `retry.max_elapsed`.
    pub took: Duration,
    /// A refusal with a reason of its own (the data table is full), when it gives up.
    pub reason: Option<FailureReason>,
}

impl AttemptError {
    /// A failure of `class` described by `message`, with nothing else known.
    pub fn new(class: Class, message: impl Into<String>) -> Self {
        Self {
            class,
            wait: None,
            status: None,
            message: message.into(),
            correlation_id: None,
            took: Duration::ZERO,
            reason: None,
        }
    }

    /// A refusal that is dead-lettered with `reason` rather than `permanent`.
    pub fn refused_as(reason: FailureReason, message: impl Into<String>) -> Self {
        Self {
            reason: Some(reason),
            ..Self::new(Class::Permanent, message)
        }
    }

    /// The same failure with the HTTP status it came with.
    pub fn with_status(mut self, status: Option<u16>) -> Self {
        self.status = status;
        self
    }

    /// The same failure with the wait the server asked for (instead of the backoff step).
    pub fn with_wait(mut self, wait: Option<Duration>) -> Self {
        self.wait = wait;
        self
    }

    /// The same failure with the target's id of the failed response.
    pub fn with_correlation_id(mut self, id: Option<String>) -> Self {
        self.correlation_id = id;
        self
    }

    pub fn transport(what: &str, kind: TransportKind, class: Class, status: Option<u16>) -> Self {
        Self::new(class, format!("{what}: {}", kind.as_str())).with_status(status)
    }

    /// The gate stays closed (a server's pause, or the rate) for `reopens_in` more, longer
    /// than the caller will hold a request for: not a failure; the change waits in its lane.
    pub fn gate_closed(what: &str, reopens_in: Duration) -> Self {
        let wait = Some(reopens_in);
        let message = format!(
            "{what}: the gate is closed for {}s more",
            reopens_in.as_secs()
        );
        Self::new(Class::RateLimited { wait }, message).with_wait(wait)
    }

    /// True for the answers that mean "wait", not "failed": a 429 (or a 503 with a wait), or
    /// a gate closed for long. They never consume a change's retry budget (DESIGN §6).
    pub fn is_throttled(&self) -> bool {
        matches!(self.class, Class::RateLimited { .. })
    }
}

impl From<AuthError> for AttemptError {
    fn from(e: AuthError) -> Self {
        Self::new(e.class, e.message)
            .with_status(e.status)
            .with_wait(e.wait)
    }
}

/// The [`PushFailure`] a change ends with after `requests` requests, the last one failing
/// with `e`, `failures` of them counted as failures: `permanent` for a refusal, else
/// `exhausted`. `first_failed_at` is when the first failure happened (now, if `e` is the first).
pub fn give_up(
    e: AttemptError,
    requests: u32,
    failures: u32,
    first_failed_at: Option<SystemTime>,
) -> PushFailure {
    let reason = match (e.reason, e.class) {
        (Some(reason), _) => reason,
        (None, Class::Permanent) => FailureReason::Permanent,
        (None, _) => FailureReason::Exhausted,
    };
    let error = match reason {
        FailureReason::Permanent | FailureReason::InvalidKey | FailureReason::DatatableFull => {
            e.message
        }
        FailureReason::Exhausted => {
            let failed = if failures == 1 {
                "1 failed request".to_owned()
            } else {
                format!("{failures} failed requests")
            };
            format!("{} (gave up after {failed})", e.message)
        }
    };
    PushFailure {
        reason,
        status: e.status,
        error: reply::truncate(&error, reply::MAX_ERROR_BYTES),
        attempts: requests,
        correlation_id: e.correlation_id,
        first_failed_at: Some(first_failed_at.unwrap_or_else(SystemTime::now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(class: Class, status: u16) -> AttemptError {
        AttemptError::new(class, format!("PUT row: {status}"))
            .with_status(Some(status))
            .with_correlation_id(Some("cid".into()))
    }

    #[test]
    fn permanent_and_exhausted() {
        let f = give_up(error(Class::Permanent, 400), 1, 1, None);
        assert_eq!(
            (f.reason, f.status, f.attempts),
            (FailureReason::Permanent, Some(400), 1)
        );
        assert_eq!(f.error, "PUT row: 400");
        assert_eq!(f.correlation_id.as_deref(), Some("cid"));
        let f = give_up(error(Class::Transient, 503), 5, 2, None);
        assert_eq!((f.reason, f.attempts), (FailureReason::Exhausted, 5));
        assert_eq!(f.error, "PUT row: 503 (gave up after 2 failed requests)");
        assert!(f.first_failed_at.is_some());
        let full = AttemptError::refused_as(FailureReason::DatatableFull, "POST row: 400 full");
        let f = give_up(full, 1, 1, None);
        assert_eq!(
            (f.reason, f.error.as_str()),
            (FailureReason::DatatableFull, "POST row: 400 full")
        );
    }

    #[test]
    fn a_closed_gate_is_a_wait_not_a_failure() {
        let e = AttemptError::gate_closed("PUT row", Duration::from_secs(90));
        assert!(e.is_throttled());
        assert_eq!(e.wait, Some(Duration::from_secs(90)));
        assert!(!error(Class::Transient, 503).is_throttled());
    }
}
