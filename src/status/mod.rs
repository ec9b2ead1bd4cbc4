//! The status board: what the worker knows about each tenant, as typed state, for `/status`,
//! the demo's live view and summary, and tests.
//!
//! The record methods of `Metrics` write here and to the §11
//! instruments in the same call; nothing reads counts back out of the instruments. Counts
//! are since the process started. `settled` is counted where a delivery's terminal action
//! completes (acked, or dead-lettered and acked), not derived from other counts.
//!
//! One short lock over plain data (`parking_lot`: a panic elsewhere does not poison it).
//! Beside it, the worker's [`PanicLog`], which the pipeline writes and `/readyz` reads.

mod panics;

pub use panics::PanicLog;

use std::collections::BTreeMap;
use std::time::SystemTime;

use parking_lot::Mutex;

use crate::change::TargetKind;

/// How one change ended at one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcomeLabel {
    Delivered,
    Superseded,
    Permanent,
    Exhausted,
}

impl PushOutcomeLabel {
    pub const ALL: [PushOutcomeLabel; 4] = [
        Self::Delivered,
        Self::Superseded,
        Self::Permanent,
        Self::Exhausted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Superseded => "superseded",
            Self::Permanent => "permanent",
            Self::Exhausted => "exhausted",
        }
    }
}

/// The longest error text kept for `/status`.
pub const MAX_STATUS_ERROR: usize = 300;

/// The last request outcome of one (tenant, target), for `/status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LastOutcome {
    pub last_success: Option<SystemTime>,
    pub last_error: Option<String>,
    pub last_error_at: Option<SystemTime>,
    pub last_status: Option<u16>,
}

/// Per-change outcomes at one target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushCounts {
    pub delivered: u64,
    pub superseded: u64,
    pub permanent: u64,
    pub exhausted: u64,
}

impl PushCounts {
    pub fn get(&self, outcome: PushOutcomeLabel) -> u64 {
        match outcome {
            PushOutcomeLabel::Delivered => self.delivered,
            PushOutcomeLabel::Superseded => self.superseded,
            PushOutcomeLabel::Permanent => self.permanent,
            PushOutcomeLabel::Exhausted => self.exhausted,
        }
    }

    fn add(&mut self, outcome: PushOutcomeLabel) {
        *match outcome {
            PushOutcomeLabel::Delivered => &mut self.delivered,
            PushOutcomeLabel::Superseded => &mut self.superseded,
            PushOutcomeLabel::Permanent => &mut self.permanent,
            PushOutcomeLabel::Exhausted => &mut self.exhausted,
        } += 1;
    }
}

/// One (tenant, target).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetState {
    pub pushes: PushCounts,
    /// 429 (or 503 with Retry-After) answers received.
    pub rate_limited: u64,
    /// Requests sent again after a retryable failure.
    pub retries: u64,
    pub token_renewals: u64,
    /// Seconds the gate was closed by server-requested pauses.
    pub paused_seconds: f64,
    /// The gate's current rate (requests per minute), once it has one.
    pub gate_rate: Option<f64>,
    /// The gate's ceiling (requests per minute), once it has one.
    pub gate_ceiling: Option<f64>,
    /// Changes handed to the wait queue while the gate stayed closed.
    pub parked: u64,
    /// Retires carried out here (row deleted, record marked retired).
    pub retired: u64,
    pub last: LastOutcome,
}

/// One tenant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantState {
    /// Deliveries taken from the tenant's queue.
    pub consumed: u64,
    /// Deliveries whose terminal action completed: acked, or dead-lettered and acked.
    pub settled: u64,
    /// Deliveries admitted to the pipeline and not yet handed to their terminal action.
    pub inflight: i64,
    /// Deliveries acked because a newer version won.
    pub superseded: u64,
    /// Messages published to the DLQ, by reason.
    pub dead_lettered: BTreeMap<String, u64>,
    /// Rows in the tenant's Genesys data table, once listed.
    pub datatable_rows: Option<i64>,
    /// The prefetch its consumer runs with here (its share of `broker.max_inflight`); none
    /// while this replica does not consume it.
    pub prefetch: Option<u16>,
    pub targets: BTreeMap<TargetKind, TargetState>,
}

impl TenantState {
    /// Dead letters of every reason.
    pub fn dead_lettered_total(&self) -> u64 {
        self.dead_lettered.values().sum()
    }

    /// `(tenant, target)`'s state (all zero if nothing happened there yet).
    pub fn target(&self, target: TargetKind) -> TargetState {
        self.targets.get(&target).cloned().unwrap_or_default()
    }

    /// Sum of `f` over the tenant's targets.
    pub fn sum_targets(&self, f: impl Fn(&TargetState) -> u64) -> u64 {
        self.targets.values().map(f).sum()
    }

    pub(crate) fn target_mut(&mut self, target: TargetKind) -> &mut TargetState {
        self.targets.entry(target).or_default()
    }
}

/// Every tenant the worker has heard of, at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusSnapshot {
    pub tenants: BTreeMap<String, TenantState>,
}

impl StatusSnapshot {
    /// `tenant`'s state (all zero for a tenant nothing happened to).
    pub fn tenant(&self, tenant: &str) -> TenantState {
        self.tenants.get(tenant).cloned().unwrap_or_default()
    }

    /// Sum of `f` over every tenant.
    pub fn total(&self, f: impl Fn(&TenantState) -> u64) -> u64 {
        self.tenants.values().map(f).sum()
    }
}

/// The live state, shared by the recorder and the readers.
#[derive(Debug, Default)]
pub struct StatusBoard {
    tenants: Mutex<BTreeMap<String, TenantState>>,
}

impl StatusBoard {
    /// Applies `f` to `tenant`'s state (created on first use).
    pub(crate) fn update(&self, tenant: &str, f: impl FnOnce(&mut TenantState)) {
        let mut tenants = self.tenants.lock();
        match tenants.get_mut(tenant) {
            Some(state) => f(state),
            None => f(tenants.entry(tenant.to_owned()).or_default()),
        }
    }

    /// Applies `f` to `(tenant, target)`'s state.
    pub(crate) fn update_target(
        &self,
        tenant: &str,
        target: TargetKind,
        f: impl FnOnce(&mut TargetState),
    ) {
        self.update(tenant, |t| f(t.target_mut(target)));
    }

    pub(crate) fn push_outcome(&self, tenant: &str, target: TargetKind, o: PushOutcomeLabel) {
        self.update_target(tenant, target, |t| t.pushes.add(o));
    }

    /// One tenant's state now.
    pub fn tenant(&self, tenant: &str) -> TenantState {
        self.tenants.lock().get(tenant).cloned().unwrap_or_default()
    }

    /// Every tenant's state now.
    pub fn snapshot(&self) -> StatusSnapshot {
        StatusSnapshot {
            tenants: self.tenants.lock().clone(),
        }
    }
}
