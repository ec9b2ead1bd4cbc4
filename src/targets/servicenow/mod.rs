//! ServiceNow (DESIGN §5.2): each change becomes one Import Set record in the tenant's
//! staging table; the integrator's transform map coalesces on (`u_tenant`, `u_script_id`) and
//! skips records whose `u_version` is older than what it holds (so replays need nothing more).
//!
//! Mode `batch` (default): one `POST /api/now/v1/batch` per attempt, carrying up to
//! `batch.max_changes` jobs (at most [`MAX_BATCH_ITEMS`]), one import sub-request each, each
//! judged on its own ([`judge_batch`]): the lane retries only the items answered 429/5xx or
//! left unserviced, each on its own budget. Mode `insert_multiple`: one
//! `POST /api/now/import/{table}/insertMultiple`; a 2xx delivers every record.
//!
//! Layout: this file holds the target and its two request shapes; `record` builds the import
//! record and the sub-request ids, `judge` judges a batch answer per item.

mod judge;
mod record;
pub mod setup;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use url::Url;

use super::{Attempted, Job, Rotation, Target, TargetContext, rotate_to};
use crate::change::TargetKind;
use crate::config::{ConfigError, ServiceNowMode, ServiceNowSettings, TenantSettings};
use crate::push::{AttemptError, Class, Gate, GatePermit, Judged, PushClient, Reply, endpoint};

pub use judge::{ItemVerdict, judge_batch};
pub use record::record;
use record::sub_request_ids;

/// Most sub-requests (or records) per call, whatever `batch.max_changes` says.
pub const MAX_BATCH_ITEMS: usize = 100;

/// Pushes one tenant's changes to its ServiceNow instance.
pub struct ServiceNowTarget {
    tenant: String,
    instance_url: Url,
    staging_table: String,
    mode: ServiceNowMode,
    capacity: usize,
    client: PushClient,
}

impl ServiceNowTarget {
    /// `max_changes` is `batch.max_changes`: how many records one call carries. Fails only
    /// for settings that did not pass validation (a secret missing for the auth kind).
    pub fn new(
        tenant: &str,
        settings: &ServiceNowSettings,
        ctx: &TargetContext,
        max_changes: usize,
    ) -> Result<Self, ConfigError> {
        let kind = TargetKind::Servicenow;
        Ok(Self {
            tenant: tenant.to_owned(),
            instance_url: settings.instance_url.clone(),
            staging_table: settings.staging_table.clone(),
            mode: settings.mode,
            capacity: max_changes.clamp(1, MAX_BATCH_ITEMS),
            client: PushClient::for_tenant(
                tenant,
                kind,
                ctx,
                setup::gate_config(settings),
                setup::auth_method(settings)?,
            ),
        })
    }

    /// One call for `jobs` under `permit`, with `body` (JSON) sent to `url`; `Ok` with the
    /// 2xx reply. The call counts as one attempt of every job in it.
    async fn call(
        &self,
        permit: GatePermit,
        jobs: &mut [Job],
        what: &str,
        url: Url,
        body: Vec<u8>,
    ) -> Result<Reply, AttemptError> {
        // Shared, not copied, by each request of the attempt.
        let body = bytes::Bytes::from(body);
        let attempt = jobs
            .iter_mut()
            .map(|j| j.retries.count())
            .max()
            .unwrap_or(1);
        let build = |http: &reqwest::Client| {
            http.post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
        };
        self.client
            .attempt_admitted(permit, attempt, what, build, Judged::Done)
            .await
    }

    /// One Batch API call: each item judged on its own.
    #[tracing::instrument(
        skip_all,
        fields(tenant = %self.tenant, items = jobs.len(), target = "servicenow")
    )]
    async fn attempt_batch(&self, permit: GatePermit, jobs: &mut [Job]) -> Vec<Attempted> {
        let Some(url) = endpoint(&self.instance_url, &["api", "now", "v1", "batch"]) else {
            return bad_url(jobs.len());
        };
        let sub_url = format!("/api/now/import/{}", self.staging_table);
        let ids = sub_request_ids(jobs);
        // The JSON tree (≈ 0.4 MiB for 100 items) goes before the call, only its bytes stay.
        let body = {
            let requests: Vec<Value> = jobs
                .iter()
                .zip(&ids)
                .map(|(job, id)| {
                    json!({
                        "id": id, "method": "POST", "url": sub_url,
                        "headers": [{"name": "Content-Type", "value": "application/json"},
                                    {"name": "Accept", "value": "application/json"}],
                        "body": STANDARD.encode(record(&job.change).to_string()),
                        "exclude_response_headers": true,
                    })
                })
                .collect();
            let body = json!({
                "batch_request_id": uuid::Uuid::new_v4().to_string(),
                "rest_requests": requests,
            });
            serde_json::to_vec(&body).unwrap_or_default()
        };
        match self.call(permit, jobs, "batch", url, body).await {
            Ok(answer) => {
                let sent: Vec<&str> = ids.iter().map(String::as_str).collect();
                let transaction = answer.correlation_id.as_deref();
                let verdicts = judge_batch(&answer.body, &sent);
                // Items refused 429 close the gate for the best wait the answer tells.
                let throttled = verdicts.iter().any(|v| {
                    matches!(
                        v,
                        ItemVerdict::Retry {
                            status: Some(429),
                            ..
                        }
                    )
                });
                let wait = if throttled {
                    self.client.throttled_items(&answer, "batch item")
                } else {
                    None
                };
                verdicts
                    .into_iter()
                    .map(|verdict| match verdict {
                        ItemVerdict::Delivered => Attempted::Delivered,
                        ItemVerdict::Permanent { status, message } => Attempted::Failed(
                            item_failure(Class::Permanent, Some(status), message, transaction),
                        ),
                        ItemVerdict::Retry {
                            status: Some(429),
                            message,
                        } => Attempted::Failed(
                            item_failure(
                                Class::RateLimited { wait },
                                Some(429),
                                message,
                                transaction,
                            )
                            .with_wait(wait),
                        ),
                        ItemVerdict::Retry { status, message } => Attempted::Failed(item_failure(
                            Class::Transient,
                            status,
                            message,
                            transaction,
                        )),
                    })
                    .collect()
            }
            Err(e) => jobs.iter().map(|_| Attempted::Failed(e.clone())).collect(),
        }
    }

    /// One insertMultiple call: all delivered or all failed.
    async fn attempt_insert_multiple(
        &self,
        permit: GatePermit,
        jobs: &mut [Job],
    ) -> Vec<Attempted> {
        let path = [
            "api",
            "now",
            "import",
            self.staging_table.as_str(),
            "insertMultiple",
        ];
        let Some(url) = endpoint(&self.instance_url, &path) else {
            return bad_url(jobs.len());
        };
        let records: Vec<Value> = jobs.iter().map(|j| record(&j.change)).collect();
        let body = serde_json::to_vec(&json!({ "records": records })).unwrap_or_default();
        match self.call(permit, jobs, "insertMultiple", url, body).await {
            Ok(_) => jobs.iter().map(|_| Attempted::Delivered).collect(),
            Err(e) => jobs.iter().map(|_| Attempted::Failed(e.clone())).collect(),
        }
    }
}

impl Target for ServiceNowTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::Servicenow
    }

    fn gate(&self) -> &Arc<Gate> {
        self.client.gate()
    }

    fn rotate_credentials<'a>(&'a self, tenant: &'a TenantSettings) -> Rotation<'a> {
        let auth = tenant.servicenow.as_ref().map(setup::auth_method);
        Box::pin(rotate_to(&self.client, tenant, self.kind(), auth))
    }

    fn capacity(&self) -> usize {
        self.capacity
    }

    fn attempt<'a>(
        &'a self,
        permit: GatePermit,
        jobs: &'a mut [Job],
    ) -> BoxFuture<'a, Vec<Attempted>> {
        Box::pin(async move {
            match self.mode {
                ServiceNowMode::Batch => self.attempt_batch(permit, jobs).await,
                ServiceNowMode::InsertMultiple => self.attempt_insert_multiple(permit, jobs).await,
            }
        })
    }
}

/// One item's failure inside a 2xx batch answer, with the batch call's transaction id.
fn item_failure(
    class: Class,
    status: Option<u16>,
    message: String,
    transaction: Option<&str>,
) -> AttemptError {
    AttemptError::new(class, message)
        .with_status(status)
        .with_correlation_id(transaction.map(str::to_owned))
}

fn bad_url(n: usize) -> Vec<Attempted> {
    let e = item_failure(
        Class::Permanent,
        None,
        "servicenow instance_url cannot hold a path".into(),
        None,
    );
    (0..n).map(|_| Attempted::Failed(e.clone())).collect()
}
