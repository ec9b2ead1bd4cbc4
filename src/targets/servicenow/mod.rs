//! ServiceNow (DESIGN §5.2): each change becomes one Import Set record in the tenant's
//! staging table; the integrator's transform map coalesces on (`u_tenant`, `u_script_id`) and
//! skips records whose `u_version` is older than what it holds (so replays need nothing more).
//!
//! Mode `batch` (default): one `POST /api/now/v1/batch` per flush (per [`MAX_BATCH_ITEMS`]),
//! one import sub-request per change, each judged on its own ([`judge_batch`]); items
//! answered 429/5xx or left unserviced go again, alone, in the next batch call, through the
//! gate and inside the retry budget (`batch`). Mode `insert_multiple`: one
//! `POST /api/now/import/{table}/insertMultiple`, a 2xx delivers every record.
//!
//! Layout: this file holds the target and its two request shapes; `record` builds the import
//! record and the sub-request ids, `judge` judges a batch answer per item, `batch` tracks
//! each item across the calls of one push.

mod batch;
mod judge;
mod record;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::future::{BoxFuture, join_all};
use serde_json::{Value, json};
use url::Url;

use super::{FailureReason, PushFailure, PushItem, PushOutcome, Target, TargetContext};
use crate::change::TargetKind;
use crate::config::{ServiceNowMode, ServiceNowSettings};
use crate::push::{AuthMethod, Gate, GateConfig, PushClient, Verdict, endpoint};

use batch::BatchState;
pub use judge::{ItemVerdict, judge_batch};
pub use record::record;
use record::sub_request_ids;

/// Most sub-requests (or records) per call; a larger flush is split into several calls.
pub const MAX_BATCH_ITEMS: usize = 100;

/// Pushes one tenant's changes to its ServiceNow instance.
pub struct ServiceNowTarget {
    tenant: String,
    instance_url: Url,
    staging_table: String,
    mode: ServiceNowMode,
    client: PushClient,
}

impl ServiceNowTarget {
    pub fn new(tenant: &str, settings: &ServiceNowSettings, ctx: &TargetContext) -> Self {
        let kind = TargetKind::Servicenow;
        Self {
            tenant: tenant.to_owned(),
            instance_url: settings.instance_url.clone(),
            staging_table: settings.staging_table.clone(),
            mode: settings.mode,
            client: PushClient::for_tenant(
                tenant,
                kind,
                ctx,
                GateConfig::servicenow(settings),
                AuthMethod::servicenow(settings),
            ),
        }
    }

    /// The tenant's gate (for `/status`).
    pub fn gate(&self) -> &Arc<Gate> {
        self.client.gate()
    }

    /// One batch call (and its retries) for `items`: one outcome per item, in order.
    #[tracing::instrument(
        skip_all,
        fields(tenant = %self.tenant, items = items.len(), target = "servicenow")
    )]
    async fn push_batch(&self, items: &[PushItem]) -> Vec<PushOutcome> {
        let Some(url) = endpoint(&self.instance_url, &["api", "now", "v1", "batch"]) else {
            return vec![bad_url(); items.len()];
        };
        let sub_url = format!("/api/now/import/{}", self.staging_table);
        let ids = sub_request_ids(items);
        let bodies: Vec<String> = items
            .iter()
            .map(|i| STANDARD.encode(record(&i.change).to_string()))
            .collect();
        let state = Mutex::new(BatchState::new(items.len()));
        let build = |http: &reqwest::Client| {
            let pending = state.lock().expect("batch lock").start_call();
            let requests: Vec<Value> = pending
                .iter()
                .map(|&i| {
                    json!({
                        "id": ids[i], "method": "POST", "url": sub_url,
                        "headers": [{"name": "Content-Type", "value": "application/json"},
                                    {"name": "Accept", "value": "application/json"}],
                        "body": bodies[i], "exclude_response_headers": true,
                    })
                })
                .collect();
            let body = json!({"batch_request_id": uuid::Uuid::new_v4().to_string(), "rest_requests": requests});
            http.post(url.clone()).json(&body)
        };
        let judge = |reply: crate::push::Reply| {
            let mut st = state.lock().expect("batch lock");
            st.judge(&ids, &reply.body);
            match st.pending_count() {
                0 => Verdict::Done(()),
                n => Verdict::Retry(format!("{n} of {} items still owed", items.len())),
            }
        };
        let budget = self.client.budget();
        let result = self
            .client
            .send_judged(&budget, "batch", build, judge)
            .await;
        let st = state.into_inner().expect("batch lock");
        st.finish(result.err())
    }

    /// One insertMultiple call for `items`: all delivered or all failed.
    async fn push_insert_multiple(&self, items: &[PushItem]) -> Vec<PushOutcome> {
        let path = [
            "api",
            "now",
            "import",
            self.staging_table.as_str(),
            "insertMultiple",
        ];
        let Some(url) = endpoint(&self.instance_url, &path) else {
            return vec![bad_url(); items.len()];
        };
        let records: Vec<Value> = items.iter().map(|i| record(&i.change)).collect();
        let body = json!({ "records": records });
        let budget = self.client.budget();
        let sent = self
            .client
            .send(&budget, "insertMultiple", |http| {
                http.post(url.clone()).json(&body)
            })
            .await;
        let outcome = match sent {
            Ok(reply) => PushOutcome::Delivered {
                attempts: reply.attempts,
                correlation_id: reply.correlation_id,
            },
            Err(f) => PushOutcome::Failed(f),
        };
        vec![outcome; items.len()]
    }
}

impl Target for ServiceNowTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::Servicenow
    }
    fn gate(&self) -> Option<Arc<Gate>> {
        Some(self.client.gate().clone())
    }

    fn push<'a>(&'a self, items: &'a [PushItem]) -> BoxFuture<'a, Vec<PushOutcome>> {
        Box::pin(async move {
            let calls = items.chunks(MAX_BATCH_ITEMS).map(|chunk| async move {
                match self.mode {
                    ServiceNowMode::Batch => self.push_batch(chunk).await,
                    ServiceNowMode::InsertMultiple => self.push_insert_multiple(chunk).await,
                }
            });
            join_all(calls).await.into_iter().flatten().collect()
        })
    }
}

fn bad_url() -> PushOutcome {
    PushOutcome::Failed(PushFailure {
        reason: FailureReason::Permanent,
        status: None,
        error: "servicenow instance_url cannot hold a path".into(),
        attempts: 0,
        correlation_id: None,
    })
}
