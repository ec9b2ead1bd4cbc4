//! The targets scriptsync pushes to, behind one trait: a lane (the pipeline's `lane` module) chooses
//! what to send when the target's gate admits a request, and [`Target::attempt`] sends it:
//! one attempt for one [`Job`] (Genesys: a row) or several (ServiceNow: a batch call),
//! answering one [`Attempted`] per job. Whether and when to try again is the lane's call.
//!
//! A target owns its HTTP details (auth, request shapes, per-item judgement) and passes every
//! request through its tenant's gate (`crate::push`). It never sees the broker: acking and
//! dead-lettering belong to the pipeline.

pub mod genesys;
pub mod servicenow;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::change::{ScriptChange, TargetKind};
use crate::config::{ConfigError, TenantSettings};
use crate::push::{AttemptError, AuthMethod, Gate, GatePermit, PushClient, Retries};
pub use crate::push::{FailureReason, PushFailure, TargetContext};

/// One change a lane hands to its target for one attempt, with what earlier attempts of the
/// same version already did. Built when the lane first admits the change; a newer version of
/// the script starts a new job.
#[derive(Debug)]
pub struct Job {
    pub change: Arc<ScriptChange>,
    /// The message is a DLQ replay or a redelivery: check what the target holds first and
    /// skip (as already held) if it has this version or a newer one.
    pub check_first: bool,
    /// Requests made and failure budget left for this change here (waits a server asks for
    /// are not failures).
    pub retries: Retries,
    /// Steps an earlier attempt of this job completed (a retry does not repeat them).
    pub steps: Steps,
    /// The last `ININ-Correlation-Id` (or ServiceNow transaction id) seen for this job.
    pub correlation_id: Option<String>,
}

impl Job {
    pub fn new(change: Arc<ScriptChange>, check_first: bool, retries: Retries) -> Self {
        Self {
            change,
            check_first,
            retries,
            steps: Steps::default(),
            correlation_id: None,
        }
    }
}

/// The steps of a job already done (Genesys: the check of what the row holds, the row, the
/// publish).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    pub checked: bool,
    pub row_written: bool,
    pub published: bool,
}

/// What one attempt did for one job.
#[derive(Debug)]
pub enum Attempted {
    /// The target holds the job's version now.
    Delivered,
    /// The target already held this version (or the newer one given): nothing was written.
    AlreadyHeld(u64),
    /// The attempt failed; the lane decides whether and when to try again.
    Failed(AttemptError),
}

/// A push destination for one tenant, driven by that tenant's lane for the target.
pub trait Target: Send + Sync {
    fn kind(&self) -> TargetKind;
    /// The (tenant, target) gate every request of this target passes.
    fn gate(&self) -> &Arc<Gate>;
    /// Most jobs one request carries (Genesys: one row; ServiceNow: a Batch API call).
    fn capacity(&self) -> usize;
    /// Learns what it needs before the lane's first request (Genesys lists the table's rows
    /// with their versions each time a lane starts). Failures are logged and lived with,
    /// never fatal.
    fn prepare(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    /// Takes `tenant`'s rotated credentials (nothing else changed): the next request fetches
    /// a token with them; requests on their way finish with the token they carry.
    fn rotate_credentials<'a>(&'a self, tenant: &'a TenantSettings) -> Rotation<'a>;
    /// One attempt for `jobs` (at most [`capacity`](Self::capacity)), whose first request
    /// goes under `permit`, already admitted by the gate; further requests of a job (a
    /// fallback, a publish) pass the gate themselves. One answer per job, in order; each job's
    /// `retries` count every request made and its `steps` say what is done.
    fn attempt<'a>(
        &'a self,
        permit: GatePermit,
        jobs: &'a mut [Job],
    ) -> BoxFuture<'a, Vec<Attempted>>;
}

/// What wraps every target the worker builds, if given (`Application::build_with_layer`):
/// a decorator that sees every attempt (instrumentation of one's own; tests inject faults
/// through it, so that production code carries no fault hooks).
pub type TargetLayer = Arc<dyn Fn(Arc<dyn Target>) -> Arc<dyn Target> + Send + Sync>;

/// The targets configured for one tenant, Genesys first; an error names the tenant.
pub fn build_targets(
    tenant: &crate::config::TenantSettings,
    ctx: &TargetContext,
) -> Result<Vec<Arc<dyn Target>>, crate::config::ConfigError> {
    let in_tenant = |e| crate::config::ConfigError::Invalid(format!("tenant {}: {e}", tenant.id));
    let mut out: Vec<Arc<dyn Target>> = Vec::new();
    if let Some(g) = &tenant.genesys {
        let target = genesys::GenesysTarget::new(&tenant.id, g, ctx).map_err(in_tenant)?;
        out.push(Arc::new(target));
    }
    if let Some(s) = &tenant.servicenow {
        let target = servicenow::ServiceNowTarget::new(&tenant.id, s, ctx, ctx.max_changes)
            .map_err(in_tenant)?;
        out.push(Arc::new(target));
    }
    Ok(out)
}

/// What [`Target::rotate_credentials`] returns: done, or why the new credentials cannot be
/// used.
pub type Rotation<'a> = BoxFuture<'a, Result<(), ConfigError>>;

/// What [`Target::rotate_credentials`] does at every target: `client` takes `auth`, the auth
/// method made of the tenant's section for `kind`; `None` (the tenant has no such section any
/// more) is an error.
async fn rotate_to(
    client: &PushClient,
    tenant: &TenantSettings,
    kind: TargetKind,
    auth: Option<Result<AuthMethod, ConfigError>>,
) -> Result<(), ConfigError> {
    let no_section = || {
        ConfigError::Invalid(format!(
            "tenant {}: no [{kind}] section any more",
            tenant.id
        ))
    };
    client
        .rotate_credentials(auth.ok_or_else(no_section)??)
        .await;
    Ok(())
}

#[cfg(test)]
#[path = "hostile_tests/mod.rs"]
mod hostile_tests;
