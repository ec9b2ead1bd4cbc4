//! Genesys Cloud (DESIGN §5.1): each change upserts one row of the tenant's Architect data
//! table, keyed by script id, and optionally publishes the script version.
//!
//! A retire (`script-retire/v1`) deletes the script's row instead (`DELETE …/rows/{key}`,
//! 404 = gone already), unless the row is known to hold a newer version.
//!
//! One job (one change) per attempt: already held, without a request, if the row is known
//! ([`rows`], listed when the lane starts) to hold this version or a newer one → (DLQ replays
//! and broker redeliveries only) `GET …/rows/{script_id}?showbrief=false`, already held if
//! the row has this version or a newer one, retried if the row cannot be read → the row
//! write, one request:
//! `PUT …/rows/{script_id}` for a row known to exist, `POST …/rows` for a new one ([`rows`]
//! knows which; on a stale guess PUT→404→POST and POST→409→PUT) → with `publish_scripts`
//! and a `genesys_version_id`, `POST /api/v2/scripts/published`. The first request goes
//! under the permit the lane was admitted with; the others pass the gate themselves. Every
//! request counts as an attempt of the job, and a retry skips the steps already done.
//!
//! Layout: this file holds the target and the row's shape; `job` one job's steps, `write` the
//! requests that change the table, `listing` and `rows` what the table holds, `limits` the
//! org's quota, `table` the table's own limits, `setup` what the settings make of the push
//! machinery.

mod job;
pub mod limits;
mod listing;
pub mod rows;
pub mod setup;
pub mod table;
mod write;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use url::Url;

use super::{Attempted, Job, Rotation, Target, TargetContext, rotate_to};
use crate::change::{ScriptChange, TargetKind};
use crate::config::{ConfigError, GenesysSettings, TenantSettings};
use crate::push::{AttemptError, Class, Gate, GatePermit, Judged, PushClient, Reply, endpoint};

use rows::RowKnowledge;

/// Pushes one tenant's changes to its Genesys Cloud org.
pub struct GenesysTarget {
    tenant: String,
    api_base: Url,
    datatable_id: String,
    publish_scripts: bool,
    client: PushClient,
    rows: RowKnowledge,
    /// The quota this tenant is configured with, and when the org's own was last read.
    limits: limits::OrgLimits,
    /// Rows the table may hold (`genesys.max_rows`).
    max_rows: usize,
    metrics: Arc<crate::metrics::Metrics>,
}

impl GenesysTarget {
    /// Fails only for settings that did not pass validation (no secret, an unusable URL).
    pub fn new(
        tenant: &str,
        settings: &GenesysSettings,
        ctx: &TargetContext,
    ) -> Result<Self, ConfigError> {
        let kind = TargetKind::Genesys;
        Ok(Self {
            tenant: tenant.to_owned(),
            api_base: settings.api_base(),
            datatable_id: settings.datatable_id.clone(),
            publish_scripts: settings.publish_scripts,
            client: PushClient::for_tenant(
                tenant,
                kind,
                ctx,
                setup::gate_config(settings),
                setup::auth_method(settings)?,
            ),
            rows: RowKnowledge::default(),
            limits: limits::OrgLimits::new(
                settings.requests_per_minute,
                &settings.limits_namespace,
            ),
            max_rows: settings.max_rows,
            metrics: ctx.metrics.clone(),
        })
    }

    fn rows_url(&self) -> Option<Url> {
        let table = [
            "api",
            "v2",
            "flows",
            "datatables",
            &self.datatable_id,
            "rows",
        ];
        endpoint(&self.api_base, &table)
    }
}

impl Target for GenesysTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::Genesys
    }

    fn gate(&self) -> &Arc<Gate> {
        self.client.gate()
    }

    fn rotate_credentials<'a>(&'a self, tenant: &'a TenantSettings) -> Rotation<'a> {
        let auth = tenant.genesys.as_ref().map(setup::auth_method);
        Box::pin(rotate_to(&self.client, tenant, self.kind(), auth))
    }

    fn capacity(&self) -> usize {
        1
    }

    /// Lists the rows each time a lane starts: another replica may have written the table
    /// since this process last listed it (the tenant was elsewhere, or the connection lost).
    fn prepare(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // Once an hour at most, whatever restarts the lane (a reconnect, a hand-over).
            if self.limits.due() {
                self.read_org_limits().await;
            }
            match self.list_rows().await {
                Ok(n) => tracing::info!(tenant = %self.tenant, rows = n, "data-table rows listed"),
                Err(error) => tracing::warn!(
                    tenant = %self.tenant, %error,
                    "cannot list the data-table rows; a row not known from before is written \
                     with PUT first and without a version check unless the change is a replay"
                ),
            }
        })
    }

    fn attempt<'a>(
        &'a self,
        permit: GatePermit,
        jobs: &'a mut [Job],
    ) -> BoxFuture<'a, Vec<Attempted>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(jobs.len());
            let mut permit = Some(permit);
            for job in jobs.iter_mut() {
                let permit = match permit.take() {
                    Some(p) => p,
                    None => match self.client.admit("row request").await {
                        Ok(p) => p,
                        Err(e) => {
                            out.push(Attempted::Failed(e));
                            continue;
                        }
                    },
                };
                out.push(self.attempt_job(permit, job).await);
            }
            // The org's limits again once an hour, after the jobs (their permits are gone).
            if self.limits.due() {
                self.read_org_limits().await;
            }
            out
        })
    }
}

/// The row: `{"key", "version", "versionHash", "disclaimer"?, "campaignId"?, "changeId",
/// "publishedAt"}`; absent optional fields are left out.
pub fn row_body(change: &ScriptChange) -> Value {
    let mut row = Map::new();
    row.insert("key".into(), json!(change.script_id()));
    row.insert("version".into(), json!(change.version()));
    row.insert("versionHash".into(), json!(change.version_hash()));
    if let Some(d) = &change.disclaimer() {
        row.insert("disclaimer".into(), json!(d));
    }
    if let Some(c) = &change.campaign_id() {
        row.insert("campaignId".into(), json!(c));
    }
    row.insert("changeId".into(), json!(change.id()));
    row.insert("publishedAt".into(), json!(change.published_at()));
    Value::Object(row)
}

/// The `version` of a row as returned by GET (a number, or a numeric string).
fn row_version(reply: &Reply) -> Option<u64> {
    rows::version_of(reply.json()?.get("version")?)
}

/// The judge of a GET row: a row that cannot be read (cut short, not JSON) says nothing about
/// the version held, and writing over it could put an older version over a newer one, so it
/// is tried again (transient) instead of taken as version 0.
fn readable_row(reply: Reply) -> Judged<Reply> {
    if reply.json().is_some() {
        Judged::Done(reply)
    } else {
        Judged::Retry(format!("{} with an unreadable row", reply.status))
    }
}

fn bad_base() -> String {
    "genesys api_base cannot hold a path".into()
}

/// A refusal decided here, without a request.
fn refused(message: String) -> AttemptError {
    AttemptError::new(Class::Permanent, message)
}

#[cfg(test)]
#[path = "genesys_tests.rs"]
mod tests;
