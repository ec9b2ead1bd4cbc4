//! What a push ends with and what it is made from: a change's final failure at one target
//! ([`PushFailure`], with its [`FailureReason`]; it goes into the DLQ headers) and the shared
//! parts every target's client is built from ([`TargetContext`]).

use std::sync::Arc;
use std::time::SystemTime;

/// Why a change could not be delivered to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// The target refused the change itself (4xx, ServiceNow item `status = error`).
    Permanent,
    /// The retry budget ran out on retryable failures.
    Exhausted,
    /// The script id cannot be a Genesys data-table key (too long, `/`, `\`, …): refused at
    /// intake, without a request.
    InvalidKey,
    /// The Genesys data table is at its row limit: the new row cannot be created.
    DatatableFull,
}

impl FailureReason {
    /// The DLQ `x-scriptsync-reason` value.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Permanent => "permanent",
            FailureReason::Exhausted => "exhausted",
            FailureReason::InvalidKey => "invalid_key",
            FailureReason::DatatableFull => "datatable_full",
        }
    }
}

/// The details of a failed push, as they go into the DLQ headers. `error` holds no secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushFailure {
    pub reason: FailureReason,
    pub status: Option<u16>,
    pub error: String,
    pub attempts: u32,
    /// The target's id of the last failed response: Genesys `ININ-Correlation-Id`,
    /// ServiceNow `X-Transaction-ID`.
    pub correlation_id: Option<String>,
    /// When the change's first attempt at this target failed.
    pub first_failed_at: Option<SystemTime>,
}

/// What every target needs from the application: one HTTP client (connection pool) for the
/// process, the retry settings and the metrics.
#[derive(Clone)]
pub struct TargetContext {
    pub http: reqwest::Client,
    /// `batch.max_changes`: most changes one ServiceNow call carries.
    pub max_changes: usize,
    pub retry: crate::config::RetrySettings,
    pub metrics: Arc<crate::metrics::Metrics>,
}
