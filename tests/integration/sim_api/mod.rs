//! The simulator over real HTTP: each test starts it on 127.0.0.1:0, talks to it with reqwest
//! the way the targets do, and asserts on the answers and on the recorded state. The shared
//! helpers live here; the tests, by what they exercise, in `genesys` (data tables),
//! `genesys_org` (logins, org limits), `genesys_limits` (shared quota, daily limit, old
//! wording), `pauses`, `servicenow`, `servicenow_oauth`, `org_setup` and `admin`.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use scriptsync_sim::{
    Faults, GENESYS_LIMITS_NAMESPACE, GENESYS_MAX_ROWS_CODE, GENESYS_MAX_ROWS_STATUS,
    GENESYS_MISSING_PERMISSIONS_CODE, GENESYS_RATE_LIMIT_KEY, GENESYS_ROW_EXISTS_CODE,
    GENESYS_ROW_NOT_FOUND_CODE, GENESYS_SCHEMA_CODE, InjectedResponse, SimConfig, SimHandle,
    SimState, SimTarget, Simulator, genesys_legacy_rate_limit_body,
};
use serde_json::{Value, json};

mod admin;
mod genesys;
mod genesys_limits;
mod genesys_org;
mod org_setup;
mod pauses;
mod servicenow;
mod servicenow_oauth;

pub(super) const TABLE: &str = "dt-1";

pub(super) async fn start(config: SimConfig) -> (SimHandle, Client) {
    let sim = Simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts");
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    (sim, client)
}

pub(super) async fn stop(sim: SimHandle) {
    sim.shutdown();
    tokio::time::timeout(Duration::from_secs(10), sim.stopped())
        .await
        .expect("simulator stops");
}

pub(super) async fn send(
    request: RequestBuilder,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response: Response = request.send().await.expect("request sent");
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

pub(super) fn header<'h>(headers: &'h reqwest::header::HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

pub(super) async fn genesys_login(sim: &SimHandle, client: &Client, id: &str) -> String {
    let request = client
        .post(format!("{}/oauth/token", sim.base_url()))
        .basic_auth(id, Some("secret"))
        .form(&[("grant_type", "client_credentials")]);
    let (status, headers, body) = send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!header(&headers, "inin-correlation-id").is_empty());
    assert_eq!(body["token_type"], "bearer");
    body["access_token"].as_str().unwrap().to_string()
}

pub(super) fn row(key: &str, version: u64) -> Value {
    json!({"key": key, "version": version, "versionHash": format!("h{version}"),
           "disclaimer": "Calls are recorded",
           "changeId": format!("c{version}"), "publishedAt": "2026-01-01T00:00:00Z"})
}

pub(super) fn row_url(sim: &SimHandle, key: &str) -> String {
    format!(
        "{}/api/v2/flows/datatables/{TABLE}/rows/{key}",
        sim.base_url()
    )
}

pub(super) async fn sn_token(sim: &SimHandle, client: &Client, client_id: &str) -> String {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", "s"),
    ];
    let (status, _, body) = send(
        client
            .post(format!("{}/oauth_token.do", sim.base_url()))
            .form(&form),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

pub(super) fn record(tenant: &str, script: &str, version: u64) -> Value {
    json!({"u_tenant": tenant, "u_script_id": script, "u_version": version.to_string(),
           "u_version_hash": "h",
           "u_disclaimer": "d", "u_campaign_id": "", "u_change_id": format!("c-{script}-{version}"),
           "u_published_at": "2026-01-01T00:00:00Z"})
}

pub(super) async fn import(
    sim: &SimHandle,
    client: &Client,
    token: &str,
    record: &Value,
) -> (StatusCode, Value) {
    let url = format!("{}/api/now/import/u_scriptsync_import", sim.base_url());
    let (status, _, body) = send(client.post(url).bearer_auth(token).json(record)).await;
    (status, body)
}

/// The defaults, except that a request sent straight after a 429 counts as a violation (these
/// tests send it on purpose, after reading the 429; the default grace forgives requests that
/// were on their way when the pause was announced).
pub(super) fn instant_referee() -> SimConfig {
    SimConfig {
        in_flight_grace: Duration::ZERO,
        ..SimConfig::default()
    }
}

pub(super) fn sub_request(id: &str, url: &str, record: &Value) -> Value {
    json!({"id": id, "method": "POST", "url": url, "exclude_response_headers": true,
           "headers": [{"name": "Content-Type", "value": "application/json"},
                       {"name": "Accept", "value": "application/json"}],
           "body": STANDARD.encode(record.to_string())})
}

pub(super) fn rows_url(sim: &SimHandle, table: &str) -> String {
    format!("{}/api/v2/flows/datatables/{table}/rows", sim.base_url())
}

pub(super) async fn post_faults(sim: &SimHandle, client: &Client, body: Value) -> StatusCode {
    let url = format!("{}/_sim/faults", sim.base_url());
    send(client.post(url).json(&body)).await.0
}

pub(super) fn retry_after_secs(headers: &reqwest::header::HeaderMap) -> u64 {
    header(headers, "retry-after")
        .parse()
        .expect("integer Retry-After")
}

/// `GET /_sim/state`: the simulator's state as its HTTP route serves it.
pub(super) async fn http_state(sim: &SimHandle, client: &Client) -> SimState {
    client
        .get(format!("{}/_sim/state", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
