//! The targets scriptsync pushes to, behind one trait: [`Target::push`] takes the coalesced
//! changes of one flush and answers one [`PushOutcome`] per change, in the same order.
//!
//! A target owns its HTTP details (auth, request shapes, per-item judgement) and drives every
//! request through its tenant's gate and retry policy (`crate::push`). It never sees the
//! broker: acking and dead-lettering belong to the pipeline.

pub mod genesys;
pub mod servicenow;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::change::{ScriptChange, TargetKind};

/// One change to push, as the pipeline hands it over.
#[derive(Debug, Clone)]
pub struct PushItem {
    pub change: Arc<ScriptChange>,
    /// True when the message came from `scriptsync dlq replay`: check what the target holds
    /// first and skip (as superseded) if it already has this version or a newer one.
    pub replay: bool,
}

/// Why a change could not be delivered to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// The target refused the change itself (4xx, ServiceNow item `status = error`).
    Permanent,
    /// The retry budget ran out on retryable failures.
    Exhausted,
}

impl FailureReason {
    /// The DLQ `x-scriptsync-reason` value.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Permanent => "permanent",
            FailureReason::Exhausted => "exhausted",
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
    pub correlation_id: Option<String>,
}

/// What happened to one change at one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    Delivered {
        attempts: u32,
        correlation_id: Option<String>,
    },
    /// The target already held this version or a newer one (replays only).
    Superseded,
    Failed(PushFailure),
}

/// A push destination for one tenant.
pub trait Target: Send + Sync {
    fn kind(&self) -> TargetKind;
    /// Pushes every item; the answer has exactly one outcome per item, in order.
    /// Dropping the future abandons the remaining requests (used at shutdown).
    fn push<'a>(&'a self, items: &'a [PushItem]) -> BoxFuture<'a, Vec<PushOutcome>>;
    /// The (tenant, target) gate, for `/status`.
    fn gate(&self) -> Option<Arc<crate::push::Gate>> {
        None
    }
}

/// What every target needs from the application: one HTTP client (connection pool) for the
/// process, the retry settings and the metrics.
#[derive(Clone)]
pub struct TargetContext {
    pub http: reqwest::Client,
    pub retry: crate::config::RetrySettings,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// The targets configured for one tenant, Genesys first.
pub fn build_targets(
    tenant: &crate::config::TenantSettings,
    ctx: &TargetContext,
) -> Vec<Arc<dyn Target>> {
    let mut out: Vec<Arc<dyn Target>> = Vec::new();
    if let Some(g) = &tenant.genesys {
        out.push(Arc::new(genesys::GenesysTarget::new(&tenant.id, g, ctx)));
    }
    if let Some(s) = &tenant.servicenow {
        out.push(Arc::new(servicenow::ServiceNowTarget::new(
            &tenant.id, s, ctx,
        )));
    }
    out
}
