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

use super::{Attempted, FailureReason, Job, Target, TargetContext};
use crate::change::{Operation, ScriptChange, TargetKind};
use crate::config::{ConfigError, GenesysSettings};
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

    #[tracing::instrument(skip_all, fields(
        tenant = %self.tenant, script_id = %job.change.script_id(),
        version = job.change.version(), target = "genesys"
    ))]
    async fn attempt_job(&self, permit: GatePermit, job: &mut Job) -> Attempted {
        let change = job.change.clone();
        let mut permit = Some(permit);
        let Some(rows_url) = self.rows_url() else {
            return Attempted::Failed(refused(bad_base()));
        };
        // Keys are checked at intake; this guards the URL all the same.
        let Some(row_url) = endpoint(&rows_url, &[change.script_id()]) else {
            let why = table::key_problem(change.script_id()).unwrap_or_default();
            return Attempted::Failed(AttemptError::refused_as(FailureReason::InvalidKey, why));
        };
        if change.operation() == Operation::Retire {
            return self.retire(&mut permit, job, &row_url).await;
        }
        let publish = if self.publish_scripts {
            change.genesys_version_id()
        } else {
            None
        };
        if let Some(held) = self
            .rows
            .held(change.script_id())
            .filter(|_| !job.steps.checked)
        {
            // Known from the listing or an earlier answer: an older change (a new message
            // published late, after a restart or a hand-over) must not overwrite the row.
            // The lane's permit goes unused; this only happens to stale changes.
            if covers(held, change.version(), publish.is_some()) {
                return Attempted::AlreadyHeld(held);
            }
            job.steps.row_written |= held == change.version();
        }
        if job.replay && !job.steps.checked {
            let mut get_url = row_url.clone();
            get_url.query_pairs_mut().append_pair("showbrief", "false");
            let got = self
                .request(&mut permit, job, ("GET row", readable_row), |http| {
                    http.get(get_url.clone())
                })
                .await;
            match got {
                Ok(reply) => {
                    job.steps.checked = true;
                    let read = row_version(&reply);
                    self.rows.holds(change.script_id(), read);
                    let held = read.unwrap_or(0);
                    if covers(held, change.version(), publish.is_some()) {
                        return Attempted::AlreadyHeld(held);
                    }
                    job.steps.row_written = held == change.version();
                }
                Err(e) if e.status == Some(404) => {
                    job.steps.checked = true;
                    self.rows.absent(change.script_id());
                }
                Err(e) => return Attempted::Failed(e),
            }
        }
        if !job.steps.row_written {
            if let Err(e) = self.upsert(&mut permit, job, &rows_url, &row_url).await {
                return Attempted::Failed(e);
            }
            job.steps.row_written = true;
        }
        if let Some(version_id) = publish.filter(|_| !job.steps.published) {
            let Some(url) = endpoint(&self.api_base, &["api", "v2", "scripts", "published"]) else {
                return Attempted::Failed(refused(bad_base()));
            };
            let body = json!({"scriptId": change.script_id(), "versionId": version_id});
            let sent = self
                .request(&mut permit, job, ("POST publish", Judged::Done), |http| {
                    http.post(url.clone()).json(&body)
                })
                .await;
            if let Err(e) = sent {
                return Attempted::Failed(e);
            }
            job.steps.published = true;
        }
        Attempted::Delivered
    }
}

impl Target for GenesysTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::Genesys
    }

    fn gate(&self) -> &Arc<Gate> {
        self.client.gate()
    }

    fn rotate_credentials<'a>(
        &'a self,
        tenant: &'a crate::config::TenantSettings,
    ) -> BoxFuture<'a, Result<(), ConfigError>> {
        Box::pin(async move {
            let settings = tenant.genesys.as_ref().ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "tenant {}: no [genesys] section any more",
                    tenant.id
                ))
            })?;
            let method = setup::auth_method(settings)?;
            self.client.rotate_credentials(method).await;
            Ok(())
        })
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

/// True when a row holding `held` leaves nothing to do for a change at `version`: the row has
/// a newer version, or this one and no publish is owed. (This version with a publish owed:
/// publish again, idempotent, without rewriting the row.)
fn covers(held: u64, version: u64, publish_owed: bool) -> bool {
    held > version || (held == version && !publish_owed)
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
mod tests {
    use super::*;

    fn change(disclaimer: Option<&str>) -> ScriptChange {
        let mut v = json!({
            "schema": "script-change/v1", "id": "c-1", "tenant": "t1", "script_id": "s/1",
            "version": 7, "version_hash": "h7", "published_at": "2026-01-01T00:00:00Z",
        });
        if let Some(d) = disclaimer {
            v["disclaimer"] = json!(d);
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn row_body_has_the_design_fields_and_omits_absent_ones() {
        let row = row_body(&change(Some("Calls are recorded")));
        assert_eq!(
            row,
            json!({"key": "s/1", "version": 7, "versionHash": "h7", "disclaimer": "Calls are recorded",
                   "changeId": "c-1", "publishedAt": "2026-01-01T00:00:00Z"})
        );
        let row = row_body(&change(None));
        assert!(row.get("disclaimer").is_none() && row.get("campaignId").is_none());
    }

    #[test]
    fn row_version_accepts_numbers_and_strings() {
        let reply = |body: &str| Reply {
            status: 200,
            headers: Default::default(),
            body: body.as_bytes().to_vec(),
            attempts: 1,
            correlation_id: None,
        };
        assert_eq!(row_version(&reply(r#"{"key":"s","version":5}"#)), Some(5));
        assert_eq!(row_version(&reply(r#"{"key":"s","version":"6"}"#)), Some(6));
        assert_eq!(row_version(&reply(r#"{"key":"s","version":7.0}"#)), Some(7));
        assert_eq!(row_version(&reply(r#"{"key":"s"}"#)), None);
        assert_eq!(row_version(&reply("nope")), None);
    }
}
