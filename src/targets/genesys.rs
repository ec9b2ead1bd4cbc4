//! Genesys Cloud (DESIGN §5.1): each change upserts one row of the tenant's Architect data
//! table, keyed by script id, and optionally publishes the script version.
//!
//! Per change: (replays only) `GET …/rows/{script_id}?showbrief=false`, superseded if the row
//! already holds this version or a newer one → `PUT …/rows/{script_id}`, on 404
//! `POST …/rows` (and on that POST's 409, the row was created meanwhile: PUT once more) →
//! with `publish_scripts` and a `genesys_version_id`, `POST /api/v2/scripts/published`.
//! Changes of one flush run concurrently; the gate bounds how many requests are in flight.
//! Every request goes through the tenant's [`PushClient`] (token, gate, retries), and all
//! requests of one change share one retry time budget.

use std::sync::Arc;

use futures::future::{BoxFuture, join_all};
use serde_json::{Map, Value, json};
use url::Url;

use super::{PushFailure, PushItem, PushOutcome, Target, TargetContext};
use crate::change::{ScriptChange, TargetKind};
use crate::config::GenesysSettings;
use crate::push::{AuthMethod, Budget, Gate, GateConfig, PushClient, Reply, endpoint};

/// Pushes one tenant's changes to its Genesys Cloud org.
pub struct GenesysTarget {
    tenant: String,
    api_base: Url,
    datatable_id: String,
    publish_scripts: bool,
    client: PushClient,
}

impl GenesysTarget {
    pub fn new(tenant: &str, settings: &GenesysSettings, ctx: &TargetContext) -> Self {
        let kind = TargetKind::Genesys;
        Self {
            tenant: tenant.to_owned(),
            api_base: settings.api_base(),
            datatable_id: settings.datatable_id.clone(),
            publish_scripts: settings.publish_scripts,
            client: PushClient::for_tenant(
                tenant,
                kind,
                ctx,
                GateConfig::genesys(settings),
                AuthMethod::genesys(settings),
            ),
        }
    }

    /// The tenant's gate (for `/status`).
    pub fn gate(&self) -> &Arc<Gate> {
        self.client.gate()
    }

    #[tracing::instrument(skip_all, fields(
        tenant = %self.tenant, script_id = %item.change.script_id,
        version = item.change.version, target = "genesys"
    ))]
    async fn push_one(&self, item: &PushItem) -> PushOutcome {
        let change = &item.change;
        let mut tally = Tally::default();
        let budget = self.client.budget();
        let table = [
            "api",
            "v2",
            "flows",
            "datatables",
            &self.datatable_id,
            "rows",
        ];
        let Some(rows_url) = endpoint(&self.api_base, &table) else {
            return PushOutcome::Failed(bad_base());
        };
        let Some(row_url) = endpoint(&rows_url, &[&change.script_id]) else {
            return PushOutcome::Failed(no_row_path(&change.script_id));
        };
        let publish = if self.publish_scripts {
            change.genesys_version_id.as_deref()
        } else {
            None
        };
        let mut write_row = true;
        if item.replay {
            let mut get_url = row_url.clone();
            get_url.query_pairs_mut().append_pair("showbrief", "false");
            match self
                .client
                .send(&budget, "GET row", |http| http.get(get_url.clone()))
                .await
            {
                Ok(reply) => {
                    tally.add(&reply);
                    let held = row_version(&reply).unwrap_or(0);
                    if held > change.version || (held == change.version && publish.is_none()) {
                        return PushOutcome::Superseded;
                    }
                    // This version is held and a publish is asked for: publish again
                    // (idempotent), without rewriting the row.
                    write_row = held < change.version;
                }
                Err(f) if f.status == Some(404) => tally.add_failure(&f),
                Err(f) => return tally.failed(f),
            }
        }
        if write_row
            && let Err(f) = self
                .upsert(&budget, &rows_url, &row_url, change, &mut tally)
                .await
        {
            return tally.failed(f);
        }
        if let Some(version_id) = publish {
            let url = endpoint(&self.api_base, &["api", "v2", "scripts", "published"]);
            let Some(url) = url else {
                return PushOutcome::Failed(bad_base());
            };
            let body = json!({"scriptId": change.script_id, "versionId": version_id});
            match self
                .client
                .send(&budget, "POST publish", |http| {
                    http.post(url.clone()).json(&body)
                })
                .await
            {
                Ok(reply) => tally.add(&reply),
                Err(f) => return tally.failed(f),
            }
        }
        PushOutcome::Delivered {
            attempts: tally.attempts,
            correlation_id: tally.correlation_id,
        }
    }

    /// PUT the row; on 404 create it with POST; on that POST's 409, PUT once more.
    async fn upsert(
        &self,
        budget: &Budget,
        rows_url: &Url,
        row_url: &Url,
        change: &ScriptChange,
        tally: &mut Tally,
    ) -> Result<(), PushFailure> {
        let body = row_body(change);
        let put = || {
            self.client.send(budget, "PUT row", |http| {
                http.put(row_url.clone()).json(&body)
            })
        };
        let failure = match put().await {
            Ok(reply) => {
                tally.add(&reply);
                return Ok(());
            }
            Err(f) if f.status == Some(404) => f,
            Err(f) => return Err(f),
        };
        tally.add_failure(&failure);
        let failure = match self
            .client
            .send(budget, "POST row", |http| {
                http.post(rows_url.clone()).json(&body)
            })
            .await
        {
            Ok(reply) => {
                tally.add(&reply);
                return Ok(());
            }
            Err(f) if f.status == Some(409) => f,
            Err(f) => return Err(f),
        };
        tally.add_failure(&failure);
        put().await.map(|reply| tally.add(&reply))
    }
}

impl Target for GenesysTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::Genesys
    }
    fn gate(&self) -> Option<Arc<Gate>> {
        Some(self.client.gate().clone())
    }

    fn push<'a>(&'a self, items: &'a [PushItem]) -> BoxFuture<'a, Vec<PushOutcome>> {
        Box::pin(join_all(items.iter().map(|item| self.push_one(item))))
    }
}

/// The row: `{"key", "version", "versionHash", "disclaimer"?, "campaignId"?, "changeId",
/// "publishedAt"}`; absent optional fields are left out.
pub fn row_body(change: &ScriptChange) -> Value {
    let mut row = Map::new();
    row.insert("key".into(), json!(change.script_id));
    row.insert("version".into(), json!(change.version));
    row.insert("versionHash".into(), json!(change.version_hash));
    if let Some(d) = &change.disclaimer {
        row.insert("disclaimer".into(), json!(d));
    }
    if let Some(c) = &change.campaign_id {
        row.insert("campaignId".into(), json!(c));
    }
    row.insert("changeId".into(), json!(change.id));
    row.insert("publishedAt".into(), json!(change.published_at));
    Value::Object(row)
}

/// The `version` of a row as returned by GET (a number, or a numeric string).
fn row_version(reply: &Reply) -> Option<u64> {
    let v = reply.json()?.get("version")?.clone();
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        .or_else(|| v.as_str()?.trim().parse().ok())
}

fn bad_base() -> PushFailure {
    PushFailure {
        reason: super::FailureReason::Permanent,
        status: None,
        error: "genesys api_base cannot hold a path".into(),
        attempts: 0,
        correlation_id: None,
    }
}

/// A script id that cannot be a row key in a URL path ("." or ".."): refused without a request,
/// because sending it would address the rows collection instead of a row.
fn no_row_path(script_id: &str) -> PushFailure {
    PushFailure {
        reason: super::FailureReason::Permanent,
        status: None,
        error: format!("script_id {script_id:?} cannot be a Genesys row key in a URL path"),
        attempts: 0,
        correlation_id: None,
    }
}

/// Attempts and the last correlation id over the requests of one change.
#[derive(Default)]
struct Tally {
    attempts: u32,
    correlation_id: Option<String>,
}

impl Tally {
    fn add(&mut self, reply: &Reply) {
        self.attempts += reply.attempts;
        if reply.correlation_id.is_some() {
            self.correlation_id.clone_from(&reply.correlation_id);
        }
    }

    fn add_failure(&mut self, f: &PushFailure) {
        self.attempts += f.attempts;
        if f.correlation_id.is_some() {
            self.correlation_id.clone_from(&f.correlation_id);
        }
    }

    fn failed(self, f: PushFailure) -> PushOutcome {
        PushOutcome::Failed(PushFailure {
            attempts: self.attempts + f.attempts,
            correlation_id: f.correlation_id.or(self.correlation_id),
            ..f
        })
    }
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
