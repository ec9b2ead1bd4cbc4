//! What one tenant's pipeline holds: its targets, the shared publisher, the names, the
//! ordering state, the retry settings and the metrics. Built by the application per
//! connection, from parts that outlive it (targets with their gates and tokens, ordering).

use std::sync::Arc;

use parking_lot::Mutex;

use crate::broker::{Names, Publisher};
use crate::change::TargetKind;
use crate::config::{QueueType, RetrySettings};
use crate::metrics::Metrics;
use crate::targets::Target;

use super::high_water::HighWater;
use crate::status::PanicLog;

/// One tenant's pipeline state, shared by its consumer loop, its lanes and its settling.
pub struct TenantContext {
    pub tenant: String,
    pub targets: Vec<Arc<dyn Target>>,
    pub publisher: Publisher,
    pub names: Names,
    pub metrics: Arc<Metrics>,
    pub high_water: Arc<Mutex<HighWater>>,
    pub max_message_bytes: usize,
    /// The retry schedule every lane of the tenant follows.
    pub retry: RetrySettings,
    /// Where a panicking task of the tenant is recorded (the worker's readiness reads it).
    pub panics: Arc<PanicLog>,
    /// The type of the tenant's wait queues (`broker.queue_type`).
    pub wait_queue_type: QueueType,
}

impl TenantContext {
    /// The targets configured for this tenant.
    pub fn configured(&self) -> Vec<TargetKind> {
        self.targets.iter().map(|t| t.kind()).collect()
    }
}
