//! Direct HTTP calls to the simulator, without the worker: the tokens, Genesys row writes,
//! ServiceNow single imports and Batch API calls that scenario A(b) (the HTTP ceiling) and
//! the naive baseline (F) make. The client is built like the worker's (same timeouts and
//! connection reuse), and the bodies follow DESIGN §5.

use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Client, RequestBuilder, Response};
use scriptsync_sim::fixtures::{SIM_DATATABLE, SIM_SECRET, SIM_STAGING_TABLE};
use serde_json::{Value, json};

use scriptsync::change::ScriptChange;

/// An HTTP client aimed at one simulator.
#[derive(Clone)]
pub struct Direct {
    http: Client,
    base: String,
}

/// One tenant's access tokens, fetched once.
#[derive(Clone)]
pub struct Tokens {
    pub genesys: String,
    pub servicenow: String,
}

impl Direct {
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        let http = Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("scriptsync-bench/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("bench: HTTP client")?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Logs `tenant` in at both services (client id = tenant id, as the worker's config).
    pub async fn tokens(&self, tenant: &str) -> anyhow::Result<Tokens> {
        let genesys: Value = self
            .http
            .post(format!("{}/oauth/token", self.base))
            .basic_auth(tenant, Some(SIM_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let servicenow: Value = self
            .http
            .post(format!("{}/oauth_token.do", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", tenant),
                ("client_secret", SIM_SECRET),
            ])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = |v: &Value| v["access_token"].as_str().unwrap_or_default().to_owned();
        Ok(Tokens {
            genesys: token(&genesys),
            servicenow: token(&servicenow),
        })
    }

    fn rows_url(&self) -> String {
        format!("{}/api/v2/flows/datatables/{SIM_DATATABLE}/rows", self.base)
    }

    /// `PUT …/rows/{script_id}`: update a row that exists.
    pub fn put_row(&self, token: &str, change: &ScriptChange) -> RequestBuilder {
        let url = format!("{}/{}", self.rows_url(), change.script_id());
        self.http.put(url).bearer_auth(token).json(&row(change))
    }

    /// `POST …/rows`: create a row.
    pub fn post_row(&self, token: &str, change: &ScriptChange) -> RequestBuilder {
        self.http
            .post(self.rows_url())
            .bearer_auth(token)
            .json(&row(change))
    }

    /// `POST /api/now/import/<staging_table>`: one record.
    pub fn import_one(&self, token: &str, change: &ScriptChange) -> RequestBuilder {
        let url = format!("{}/api/now/import/{SIM_STAGING_TABLE}", self.base);
        self.http.post(url).bearer_auth(token).json(&record(change))
    }

    /// `POST /api/now/v1/batch`: one import sub-request per change.
    pub fn batch(&self, token: &str, changes: &[ScriptChange]) -> RequestBuilder {
        let subs: Vec<Value> = changes
            .iter()
            .map(|c| {
                json!({"id": c.id(), "method": "POST",
                       "url": format!("/api/now/import/{SIM_STAGING_TABLE}"),
                       "headers": [{"name": "Content-Type", "value": "application/json"},
                                   {"name": "Accept", "value": "application/json"}],
                       "body": STANDARD.encode(record(c).to_string()),
                       "exclude_response_headers": true})
            })
            .collect();
        let url = format!("{}/api/now/v1/batch", self.base);
        self.http
            .post(url)
            .bearer_auth(token)
            .json(&json!({"batch_request_id": "bench", "rest_requests": subs}))
    }
}

/// Sends a request and reads its body (so the connection is reused); the status is returned.
pub async fn send(request: RequestBuilder) -> reqwest::Result<(u16, Option<u64>)> {
    let response: Response = request.send().await?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let _ = response.bytes().await?;
    Ok((status, retry_after))
}

/// The Genesys data-table row of a change (DESIGN §5.1).
fn row(c: &ScriptChange) -> Value {
    json!({"key": c.script_id(), "version": c.version(), "versionHash": c.version_hash(),
           "disclaimer": c.disclaimer(), "campaignId": c.campaign_id(), "changeId": c.id(),
           "publishedAt": c.published_at()})
}

/// The ServiceNow import record of a change: every field a string (DESIGN §5.2).
fn record(c: &ScriptChange) -> Value {
    json!({"u_tenant": c.tenant(), "u_script_id": c.script_id(), "u_version": c.version().to_string(),
           "u_version_hash": c.version_hash(), "u_disclaimer": c.disclaimer().unwrap_or_default(),
           "u_campaign_id": c.campaign_id().unwrap_or_default(), "u_change_id": c.id(),
           "u_published_at": c.published_at()})
}
