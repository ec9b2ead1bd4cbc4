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
pub mod rows;
pub mod table;

use std::sync::Arc;

use futures::future::BoxFuture;
use reqwest::RequestBuilder;
use serde_json::{Map, Value, json};
use url::Url;

use super::{Attempted, FailureReason, Job, Target, TargetContext};
use crate::change::{Operation, ScriptChange, TargetKind};
use crate::config::{ConfigError, GenesysSettings};
use crate::push::{
    AttemptError, AuthMethod, Class, Gate, GateConfig, GatePermit, PushClient, Reply, Verdict,
    endpoint,
};

use rows::{RowKnowledge, Write};

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
                GateConfig::genesys(settings),
                AuthMethod::genesys(settings)?,
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

    /// Lists the table's rows with their versions, page by page (each page one logical
    /// request with its own retries). Errors leave the knowledge as it was: unlisted at
    /// start (writes then start with PUT), or the previous listing and what followed it.
    async fn list_rows(&self) -> Result<usize, String> {
        let rows_url = self.rows_url().ok_or_else(bad_base)?;
        let mut rows = Vec::new();
        let mut page = 1;
        loop {
            let mut url = rows_url.clone();
            url.query_pairs_mut()
                .append_pair("pageNumber", &page.to_string())
                .append_pair("pageSize", &rows::PAGE_SIZE.to_string())
                .append_pair("showbrief", "false");
            let reply = self
                .client
                .send("GET rows", |http| http.get(url.clone()))
                .await
                .map_err(|f| f.error)?;
            let body = reply.json().unwrap_or_default();
            let (found, more) = rows::parse_page(&body, page)
                .ok_or_else(|| format!("GET rows: page {page} is not a row listing"))?;
            rows.extend(found);
            if !more {
                break;
            }
            page += 1;
        }
        let n = rows.len();
        self.rows.set_listing(rows);
        self.count_rows();
        Ok(n)
    }

    /// Publishes the table's row count (once listed) and warns near the limit.
    fn count_rows(&self) {
        let Some(n) = self.rows.count() else {
            return;
        };
        self.metrics.datatable_rows(&self.tenant, n);
        if n as f64 >= self.max_rows as f64 * table::WARN_AT {
            tracing::warn!(
                tenant = %self.tenant, rows = n, max_rows = self.max_rows,
                "the Genesys data table is nearly full: new scripts will be dead-lettered as \
                 datatable_full at the limit (retire scripts, or raise the table's limit with \
                 Genesys and genesys.max_rows)"
            );
        }
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
                .request(&mut permit, job, ("POST publish", Verdict::Done), |http| {
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

    /// Retires the script: deletes its row (`DELETE …/rows/{key}`; a 404 means it is gone
    /// already). A row known to hold a newer version stays (newest wins across changes and
    /// retires); a row known absent needs no request; a replay reads the row first.
    async fn retire(
        &self,
        permit: &mut Option<GatePermit>,
        job: &mut Job,
        row_url: &Url,
    ) -> Attempted {
        let key = job.change.script_id().to_owned();
        let version = job.change.version();
        match self.rows.held(&key) {
            Some(held) if held > version => return Attempted::AlreadyHeld(held),
            None if self.rows.write_for(&key) == Write::Create => {
                return Attempted::AlreadyHeld(version);
            }
            _ => {}
        }
        if job.replay && !job.steps.checked {
            let mut get_url = row_url.clone();
            get_url.query_pairs_mut().append_pair("showbrief", "false");
            let got = self
                .request(permit, job, ("GET row", readable_row), |http| {
                    http.get(get_url.clone())
                })
                .await;
            job.steps.checked = true;
            match got {
                Ok(reply) => match row_version(&reply) {
                    Some(held) if held > version => {
                        self.rows.holds(&key, Some(held));
                        return Attempted::AlreadyHeld(held);
                    }
                    read => self.rows.holds(&key, read),
                },
                Err(e) if e.status == Some(404) => {
                    self.rows.absent(&key);
                    return Attempted::AlreadyHeld(version);
                }
                Err(e) => return Attempted::Failed(e),
            }
        }
        let deleted = self
            .request(permit, job, ("DELETE row", Verdict::Done), |http| {
                http.delete(row_url.clone())
            })
            .await;
        match deleted {
            Ok(_) => {}
            Err(e) if e.status == Some(404) => {}
            Err(e) => return Attempted::Failed(e),
        }
        self.rows.absent(&key);
        self.count_rows();
        Attempted::Delivered
    }

    /// Writes the row with one request when the knowledge is right: PUT a known row, POST a
    /// new one; PUT→404 falls back to POST, and a POST refused because the row exists (409, or
    /// a 400 saying so: [`table::says_row_exists`]) to PUT. A POST refused because the table is
    /// at its row limit fails as `datatable_full`.
    async fn upsert(
        &self,
        permit: &mut Option<GatePermit>,
        job: &mut Job,
        rows_url: &Url,
        row_url: &Url,
    ) -> Result<(), AttemptError> {
        let key = job.change.script_id().to_owned();
        let version = job.change.version();
        let body = row_body(&job.change);
        let put = |http: &reqwest::Client| http.put(row_url.clone()).json(&body);
        let post = |http: &reqwest::Client| http.post(rows_url.clone()).json(&body);
        if self.rows.write_for(&key) == Write::Update {
            match self
                .request(permit, job, ("PUT row", Verdict::Done), put)
                .await
            {
                Ok(_) => {
                    self.rows.holds(&key, Some(version));
                    return Ok(());
                }
                Err(e) if e.status == Some(404) => self.rows.absent(&key),
                Err(e) => return Err(e),
            }
        }
        match self
            .request(permit, job, ("POST row", Verdict::Done), post)
            .await
        {
            Ok(_) => {
                self.rows.holds(&key, Some(version));
                self.count_rows();
                Ok(())
            }
            Err(e) if table::says_table_full(&e, self.rows.count(), self.max_rows) => {
                let message = format!(
                    "{} (the data table holds {} of its {} rows; raise genesys.max_rows if Genesys raised the table's limit)",
                    e.message,
                    self.rows.count().map_or("?".into(), |n| n.to_string()),
                    self.max_rows
                );
                Err(AttemptError {
                    status: e.status,
                    correlation_id: e.correlation_id,
                    ..AttemptError::refused_as(FailureReason::DatatableFull, message)
                })
            }
            Err(e) if table::says_row_exists(&e) => {
                self.rows.exists(&key);
                self.request(permit, job, ("PUT row", Verdict::Done), put)
                    .await?;
                self.rows.holds(&key, Some(version));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// One request of `job`: under the lane's permit if it is still unused, else through the
    /// gate within the job's budget; `judge` decides whether a 2xx answer will do. Counts the
    /// attempt and keeps the correlation id.
    async fn request<B>(
        &self,
        permit: &mut Option<GatePermit>,
        job: &mut Job,
        (what, judge): (&str, fn(Reply) -> Verdict<Reply>),
        build: B,
    ) -> Result<Reply, AttemptError>
    where
        B: Fn(&reqwest::Client) -> RequestBuilder,
    {
        let permit = match permit.take() {
            Some(permit) => permit,
            None => self.client.admit(what).await?,
        };
        let attempt = job.retries.count();
        let result = self
            .client
            .attempt_admitted(permit, attempt, what, build, judge)
            .await;
        let correlation_id = match &result {
            Ok(reply) => reply.correlation_id.clone(),
            Err(e) => e.correlation_id.clone(),
        };
        if correlation_id.is_some() {
            job.correlation_id = correlation_id;
        }
        result
    }
}

impl Target for GenesysTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::Genesys
    }

    fn gate(&self) -> &Arc<Gate> {
        self.client.gate()
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
fn readable_row(reply: Reply) -> Verdict<Reply> {
    if reply.json().is_some() {
        Verdict::Done(reply)
    } else {
        Verdict::Retry(format!("{} with an unreadable row", reply.status))
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
