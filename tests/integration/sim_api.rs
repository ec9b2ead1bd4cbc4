//! The simulator over real HTTP: each test starts it on 127.0.0.1:0, talks to it with reqwest
//! the way the targets do, and asserts on the answers and on the recorded state.

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

const TABLE: &str = "dt-1";

async fn start(config: SimConfig) -> (SimHandle, Client) {
    let sim = Simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts");
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    (sim, client)
}

async fn stop(sim: SimHandle) {
    sim.shutdown();
    tokio::time::timeout(Duration::from_secs(10), sim.stopped())
        .await
        .expect("simulator stops");
}

async fn send(request: RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response: Response = request.send().await.expect("request sent");
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

fn header<'h>(headers: &'h reqwest::header::HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn genesys_login(sim: &SimHandle, client: &Client, id: &str) -> String {
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

fn row(key: &str, version: u64) -> Value {
    json!({"key": key, "version": version, "versionHash": format!("h{version}"),
           "disclaimer": "Calls are recorded",
           "changeId": format!("c{version}"), "publishedAt": "2026-01-01T00:00:00Z"})
}

fn row_url(sim: &SimHandle, key: &str) -> String {
    format!(
        "{}/api/v2/flows/datatables/{TABLE}/rows/{key}",
        sim.base_url()
    )
}

async fn sn_token(sim: &SimHandle, client: &Client, client_id: &str) -> String {
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

fn record(tenant: &str, script: &str, version: u64) -> Value {
    json!({"u_tenant": tenant, "u_script_id": script, "u_version": version.to_string(),
           "u_version_hash": "h",
           "u_disclaimer": "d", "u_campaign_id": "", "u_change_id": format!("c-{script}-{version}"),
           "u_published_at": "2026-01-01T00:00:00Z"})
}

async fn import(
    sim: &SimHandle,
    client: &Client,
    token: &str,
    record: &Value,
) -> (StatusCode, Value) {
    let url = format!("{}/api/now/import/u_scriptsync_import", sim.base_url());
    let (status, _, body) = send(client.post(url).bearer_auth(token).json(record)).await;
    (status, body)
}

#[tokio::test]
async fn genesys_rows_are_created_updated_read_and_published() {
    let (sim, client) = start(SimConfig::default()).await;
    let token = genesys_login(&sim, &client, "acme").await;

    let (status, headers, body) = send(
        client
            .put(row_url(&sim, "s1"))
            .bearer_auth(&token)
            .json(&row("s1", 2)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "flows.datatables.row.not.found");
    assert_eq!(body["contextId"], header(&headers, "inin-correlation-id"));

    let create = format!("{}/api/v2/flows/datatables/{TABLE}/rows", sim.base_url());
    let (status, _, body) =
        send(client.post(&create).bearer_auth(&token).json(&row("s1", 2))).await;
    assert_eq!(
        (status, body["version"].clone()),
        (StatusCode::OK, json!(2))
    );
    let (status, _, body) =
        send(client.post(&create).bearer_auth(&token).json(&row("s1", 2))).await;
    assert_eq!(
        (status, body["code"].clone()),
        (
            StatusCode::CONFLICT,
            json!("flows.datatables.row.already.exists")
        )
    );

    let (status, _, _) = send(
        client
            .put(row_url(&sim, "s1"))
            .bearer_auth(&token)
            .json(&row("s1", 3)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(
        client
            .put(row_url(&sim, "s1"))
            .bearer_auth(&token)
            .json(&row("other", 4)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "key must equal the row id");
    let get = client
        .get(row_url(&sim, "s1"))
        .query(&[("showbrief", "false")])
        .bearer_auth(&token);
    let (status, _, body) = send(get).await;
    assert_eq!(
        (status, body["versionHash"].clone()),
        (StatusCode::OK, json!("h3"))
    );

    let publish = json!({"scriptId": "s1", "versionId": "0b8f6f4e-0000-4000-8000-000000000001"});
    let url = format!("{}/api/v2/scripts/published", sim.base_url());
    let (status, _, body) = send(client.post(url).bearer_auth(&token).json(&publish)).await;
    assert_eq!((status, body["id"].clone()), (StatusCode::OK, json!("s1")));

    let genesys = sim.state().tenant("acme").genesys;
    assert_eq!(genesys.held["s1"].version, 3);
    assert_eq!(genesys.held["s1"].change_id, "c3");
    assert_eq!(genesys.held["s1"].writes, 2);
    assert_eq!(
        (genesys.writes, genesys.older_writes, genesys.token_requests),
        (2, 0, 1)
    );
    assert_eq!(
        genesys.requests,
        [(200, 4), (400, 1), (404, 1), (409, 1)].into()
    );
    assert_eq!(genesys.published[0].script_id, "s1");
    assert_eq!(genesys.tokens_seen, BTreeSet::from(["acme".to_string()]));
    stop(sim).await;
}

/// The defaults, except that a request sent straight after a 429 counts as a violation (these
/// tests send it on purpose, after reading the 429; the default grace forgives requests that
/// were on their way when the pause was announced).
fn instant_referee() -> SimConfig {
    SimConfig {
        in_flight_grace: Duration::ZERO,
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn genesys_quota_answers_429_and_counts_requests_sent_into_the_pause() {
    let config = SimConfig {
        genesys_requests_per_minute: 2,
        ..instant_referee()
    };
    let (sim, client) = start(config).await;
    let (acme, other) = (
        genesys_login(&sim, &client, "acme").await,
        genesys_login(&sim, &client, "other").await,
    );
    let get = |token: &str| client.get(row_url(&sim, "s1")).bearer_auth(token);

    for _ in 0..2 {
        assert_eq!(send(get(&acme)).await.0, StatusCode::NOT_FOUND);
    }
    let (status, headers, body) = send(get(&acme)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = header(&headers, "retry-after")
        .parse()
        .expect("integer Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    let message = format!("Rate limit exceeded the maximum. Retry the request in [{wait}] seconds");
    assert_eq!(body["message"], message);
    assert_eq!(body["code"], "too.many.requests.retry.after");
    assert_eq!(body["contextId"], header(&headers, "inin-correlation-id"));

    // Sent during the pause: a violation, answered 429 with what is left of the wait.
    let (status, headers, _) = send(get(&acme)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&headers, "retry-after").parse::<u64>().unwrap() <= wait);
    // Another principal has its own quota.
    assert_eq!(send(get(&other)).await.0, StatusCode::NOT_FOUND);

    let state = sim.state();
    let acme = state.tenant("acme").genesys;
    assert_eq!(
        (acme.violations, acme.answered(429), acme.answered(404)),
        (1, 2, 2)
    );
    assert_eq!(state.tenant("other").genesys.violations, 0);
    assert_eq!(state.total_violations(), 1);
    stop(sim).await;
}

#[tokio::test]
async fn injected_429_and_503_pause_like_the_quota() {
    let (sim, client) = start(instant_referee()).await;
    let token = genesys_login(&sim, &client, "acme").await;
    let faults = Faults {
        inject: vec![InjectedResponse::new(429).with_genesys_body_seconds(30)],
        ..Faults::default()
    };
    sim.set_faults(None, SimTarget::Genesys, faults);
    let get = || client.get(row_url(&sim, "s1")).bearer_auth(&token);

    let (status, headers, body) = send(get()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        headers.get("retry-after").is_none(),
        "the wait is only in the body"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .ends_with("in [30] seconds")
    );
    let (status, headers, _) = send(get()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=30).contains(&header(&headers, "retry-after").parse::<u64>().unwrap()));

    // ServiceNow: a 503 with an HTTP-date Retry-After pauses too.
    let sn = sn_token(&sim, &client, "snc").await;
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
    let faults = Faults {
        inject: vec![InjectedResponse::new(503).with_retry_after(date.clone())],
        ..Faults::default()
    };
    sim.set_faults(Some("snc"), SimTarget::Servicenow, faults);
    let (status, headers, _) = send(
        client
            .post(format!("{}/api/now/import/x", sim.base_url()))
            .bearer_auth(&sn)
            .json(&record("t", "s", 1)),
    )
    .await;
    assert_eq!(
        (status, header(&headers, "retry-after")),
        (StatusCode::SERVICE_UNAVAILABLE, date.as_str())
    );
    assert_eq!(
        import(&sim, &client, &sn, &record("t", "s", 1)).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );

    let state = sim.state();
    assert_eq!(state.tenant("acme").genesys.violations, 1);
    assert_eq!(state.tenant("snc").servicenow.violations, 1);
    assert!(state.tenant("t").servicenow.held.is_empty());
    stop(sim).await;
}

#[tokio::test]
async fn servicenow_oauth_grants_and_their_refusals() {
    let clients = HashMap::from([
        ("app".to_string(), "s".to_string()),
        ("alice".to_string(), "pw".to_string()),
    ]);
    let (sim, client) = start(SimConfig {
        clients: Some(clients),
        ..SimConfig::default()
    })
    .await;
    let url = format!("{}/oauth_token.do", sim.base_url());

    let token = sn_token(&sim, &client, "app").await;
    assert!(!token.is_empty());
    let password = [
        ("grant_type", "password"),
        ("client_id", "app"),
        ("client_secret", "s"),
        ("username", "alice"),
        ("password", "pw"),
    ];
    let (status, _, body) = send(client.post(&url).form(&password)).await;
    assert_eq!(
        (
            status,
            body["token_type"].clone(),
            body["expires_in"].clone()
        ),
        (StatusCode::OK, json!("Bearer"), json!(1800))
    );
    let refresh_token = body["refresh_token"].as_str().unwrap().to_string();
    let refresh = [
        ("grant_type", "refresh_token"),
        ("client_id", "app"),
        ("client_secret", "s"),
        ("refresh_token", refresh_token.as_str()),
    ];
    let (status, _, body) = send(client.post(&url).form(&refresh)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        import(
            &sim,
            &client,
            body["access_token"].as_str().unwrap(),
            &record("t", "s1", 1)
        )
        .await
        .0,
        StatusCode::CREATED
    );

    let json_body =
        json!({"grant_type": "client_credentials", "client_id": "app", "client_secret": "s"});
    assert_eq!(
        send(client.post(&url).json(&json_body)).await.0,
        StatusCode::BAD_REQUEST
    );
    let wrong = [
        ("grant_type", "client_credentials"),
        ("client_id", "app"),
        ("client_secret", "nope"),
    ];
    let (status, _, body) = send(client.post(&url).form(&wrong)).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::UNAUTHORIZED, json!("access_denied"))
    );
    let bad_pw = [
        ("grant_type", "password"),
        ("client_id", "app"),
        ("client_secret", "s"),
        ("username", "alice"),
        ("password", "x"),
    ];
    assert_eq!(
        send(client.post(&url).form(&bad_pw)).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Basic auth is checked against the same table.
    let basic = |pw: &str| {
        client
            .post(format!("{}/api/now/import/x", sim.base_url()))
            .basic_auth("alice", Some(pw))
            .json(&record("t", "s2", 1))
    };
    assert_eq!(send(basic("pw")).await.0, StatusCode::CREATED);
    let (status, _, body) = send(basic("bad")).await;
    assert_eq!(
        (status, body["error"]["message"].clone()),
        (StatusCode::UNAUTHORIZED, json!("User Not Authenticated"))
    );

    let state = sim.state();
    assert_eq!(state.tenant("app").servicenow.token_requests, 5);
    assert_eq!(
        state.tenant("app").servicenow.total_requests(),
        1,
        "logins are not API requests"
    );
    assert_eq!(
        state.tenant("alice").servicenow.requests,
        [(201, 1), (401, 1)].into()
    );
    assert_eq!(
        state.tenant("t").servicenow.tokens_seen,
        BTreeSet::from(["alice".to_string(), "app".to_string()])
    );
    stop(sim).await;
}

#[tokio::test]
async fn servicenow_single_import_follows_the_transform_script() {
    let (sim, client) = start(SimConfig::default()).await;
    let token = sn_token(&sim, &client, "snc").await;
    let mut statuses = Vec::new();
    for version in [2, 3, 3, 1] {
        let (status, body) = import(&sim, &client, &token, &record("acme", "s1", version)).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body["staging_table"], "u_scriptsync_import");
        assert!(body["import_set"].as_str().unwrap().starts_with("ISET"));
        statuses.push(body["result"][0]["status"].as_str().unwrap().to_string());
    }
    assert_eq!(statuses, ["inserted", "updated", "ignored", "skipped"]);
    let (_, body) = import(
        &sim,
        &client,
        &token,
        &json!({"u_tenant": "acme", "u_script_id": "s2", "u_version": "v1"}),
    )
    .await;
    assert_eq!(body["result"][0]["status"], "error");

    let state = sim.state();
    let acme = state.tenant("acme").servicenow;
    assert_eq!(
        (
            acme.held["s1"].version,
            acme.held["s1"].disclaimer.as_deref()
        ),
        (3, Some("d"))
    );
    assert_eq!((acme.writes, acme.older_writes), (2, 1));
    assert_eq!(
        state.tenant("snc").servicenow.answered(201),
        5,
        "requests go to the principal"
    );
    stop(sim).await;
}

fn sub_request(id: &str, url: &str, record: &Value) -> Value {
    json!({"id": id, "method": "POST", "url": url, "exclude_response_headers": true,
           "headers": [{"name": "Content-Type", "value": "application/json"},
                       {"name": "Accept", "value": "application/json"}],
           "body": STANDARD.encode(record.to_string())})
}

#[tokio::test]
async fn servicenow_batch_judges_each_sub_request_and_insert_multiple_applies_all() {
    let (sim, client) = start(SimConfig::default()).await;
    let token = sn_token(&sim, &client, "snc").await;
    let faults = Faults {
        record_errors: BTreeSet::from(["bad".to_string()]),
        unserviced: BTreeSet::from(["late".to_string()]),
        ..Faults::default()
    };
    sim.set_faults(Some("snc"), SimTarget::Servicenow, faults);
    let path = "/api/now/import/u_scriptsync_import";
    let batch = json!({"batch_request_id": 42, "rest_requests": [
        sub_request("ok", path, &record("acme", "s1", 1)),
        sub_request("err", path, &record("acme", "bad", 1)),
        sub_request("later", path, &record("acme", "late", 1)),
    ]});
    let (status, _, body) = send(
        client
            .post(format!("{}/api/now/v1/batch", sim.base_url()))
            .bearer_auth(&token)
            .json(&batch),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["batch_request_id"], "42");
    assert_eq!(body["unserviced_requests"], json!(["later"]));
    let results: HashMap<String, Value> = body["serviced_requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["status_code"], 201);
            let decoded: Value =
                serde_json::from_slice(&STANDARD.decode(s["body"].as_str().unwrap()).unwrap())
                    .unwrap();
            (
                s["id"].as_str().unwrap().to_string(),
                decoded["result"][0].clone(),
            )
        })
        .collect();
    assert_eq!(results["ok"]["status"], "inserted");
    assert_eq!(
        (
            results["err"]["status"].clone(),
            results["err"]["error_message"].clone()
        ),
        (json!("error"), json!("simulated transform error"))
    );

    let records = json!({"records": [record("acme", "s2", 1), record("acme", "s3", 1)]});
    let url = format!(
        "{}/api/now/import/u_scriptsync_import/insertMultiple",
        sim.base_url()
    );
    let (status, _, body) = send(client.post(url).bearer_auth(&token).json(&records)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(body["import_set_id"].is_string() && body["multi_import_set_id"].is_string());

    let state = sim.state();
    let held: Vec<_> = state.tenant("acme").servicenow.held.into_keys().collect();
    assert_eq!(held, ["s1", "s2", "s3"]);
    let snc = state.tenant("snc").servicenow;
    assert_eq!(
        (snc.batch_calls, snc.answered(200), snc.answered(201)),
        (2, 1, 1)
    );
    stop(sim).await;
}

#[tokio::test]
async fn servicenow_rate_limit_rule_reports_headers_and_429s() {
    let config = SimConfig {
        servicenow_requests_per_hour: Some(2),
        ..instant_referee()
    };
    let (sim, client) = start(config).await;
    let url = format!("{}/api/now/import/x", sim.base_url());
    let call = || {
        client
            .post(&url)
            .basic_auth("svc", Some("pw"))
            .json(&record("acme", "s1", 1))
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();

    for _ in 0..2 {
        let (status, headers, _) = send(call()).await;
        assert_eq!(
            (status, header(&headers, "x-ratelimit-limit")),
            (StatusCode::CREATED, "2")
        );
        let reset: u64 = header(&headers, "x-ratelimit-reset").parse().unwrap();
        assert!(reset > now && reset <= now + 3601, "{reset}");
        assert!(!header(&headers, "x-ratelimit-rule").is_empty());
    }
    let (status, headers, body) = send(call()).await;
    assert_eq!(
        (status, body["error"]["message"].clone()),
        (StatusCode::TOO_MANY_REQUESTS, json!("Rate limit exceeded"))
    );
    assert!((1..=3600).contains(&header(&headers, "retry-after").parse::<u64>().unwrap()));
    assert_eq!(header(&headers, "x-ratelimit-limit"), "2");
    assert_eq!(send(call()).await.0, StatusCode::TOO_MANY_REQUESTS);

    let svc = sim.state().tenant("svc").servicenow;
    assert_eq!(
        (svc.answered(201), svc.answered(429), svc.violations),
        (2, 2, 1)
    );
    stop(sim).await;
}

#[tokio::test]
async fn expired_tokens_get_401_until_a_new_login() {
    let (sim, client) = start(SimConfig::default()).await;
    let genesys = genesys_login(&sim, &client, "acme").await;
    let sn = sn_token(&sim, &client, "snc").await;
    sim.expire_tokens(None);

    let (status, headers, body) = send(client.get(row_url(&sim, "s1")).bearer_auth(&genesys)).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("authentication.required"))
    );
    assert_eq!(body["contextId"], header(&headers, "inin-correlation-id"));
    let (status, body) = import(&sim, &client, &sn, &record("t", "s1", 1)).await;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::UNAUTHORIZED, json!("failure"))
    );
    assert_eq!(
        send(client.get(row_url(&sim, "s1")).bearer_auth("made-up"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    let fresh = genesys_login(&sim, &client, "acme").await;
    assert_eq!(
        send(client.get(row_url(&sim, "s1")).bearer_auth(&fresh))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // The same through the admin endpoint, for one principal only.
    let sn = sn_token(&sim, &client, "snc").await;
    let expire = client
        .post(format!("{}/_sim/expire-tokens", sim.base_url()))
        .json(&json!({"principal": "snc"}));
    assert_eq!(send(expire).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        import(&sim, &client, &sn, &record("t", "s1", 1)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(client.get(row_url(&sim, "s1")).bearer_auth(&fresh))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let state = sim.state();
    assert_eq!(
        state.tenant("acme").genesys.requests,
        [(401, 1), (404, 2)].into()
    );
    assert_eq!(
        (
            state.tenant("acme").genesys.token_requests,
            state.tenant("snc").servicenow.answered(401)
        ),
        (2, 2)
    );
    stop(sim).await;
}

#[tokio::test]
async fn admin_endpoints_set_faults_and_report_state() {
    let (sim, client) = start(SimConfig::default()).await;
    let token = sn_token(&sim, &client, "snc").await;
    let set = json!({"target": "servicenow", "faults": {"truncated_200": 1}});
    let (status, _, _) = send(
        client
            .post(format!("{}/_sim/faults", sim.base_url()))
            .json(&set),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let response = client
        .post(format!("{}/api/now/import/x", sim.base_url()))
        .bearer_auth(&token)
        .json(&record("acme", "s1", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value =
        serde_json::from_str(&response.text().await.unwrap()).expect("cut short but parseable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Transaction cancelled")
    );
    assert_eq!(
        import(&sim, &client, &token, &record("acme", "s1", 1))
            .await
            .0,
        StatusCode::CREATED
    );

    let bad = json!({"target": "nowhere", "faults": {}});
    assert_eq!(
        send(
            client
                .post(format!("{}/_sim/faults", sim.base_url()))
                .json(&bad)
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );

    let state: SimState = client
        .get(format!("{}/_sim/state", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state, sim.state());
    assert_eq!(
        state.tenant("acme").servicenow.held["s1"].writes,
        1,
        "the truncated call applied nothing"
    );
    assert_eq!(
        state.tenant("snc").servicenow.requests,
        [(200, 1), (201, 1)].into()
    );
    stop(sim).await;
}

#[tokio::test]
async fn dropped_connections_and_error_rate() {
    let (sim, client) = start(SimConfig::default()).await;
    let token = genesys_login(&sim, &client, "acme").await;
    sim.set_faults(
        Some("acme"),
        SimTarget::Genesys,
        Faults {
            drop_connections: 3,
            ..Faults::default()
        },
    );
    let get = || client.get(row_url(&sim, "s1")).bearer_auth(&token);
    for _ in 0..3 {
        let dropped = get().send().await;
        assert!(
            dropped.is_err(),
            "the connection is closed without an answer: {dropped:?}"
        );
    }
    assert_eq!(send(get()).await.0, StatusCode::NOT_FOUND);

    sim.set_faults(
        Some("acme"),
        SimTarget::Genesys,
        Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
    );
    let (status, _, body) = send(get()).await;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::INTERNAL_SERVER_ERROR, json!(500))
    );

    let genesys = sim.state().tenant("acme").genesys;
    assert_eq!(genesys.requests, [(0, 3), (404, 1), (500, 1)].into());
    stop(sim).await;
}

#[tokio::test]
async fn genesys_login_checks_credentials_and_grant() {
    let clients = HashMap::from([("acme".to_string(), "secret".to_string())]);
    let (sim, client) = start(SimConfig {
        clients: Some(clients),
        ..SimConfig::default()
    })
    .await;
    let login = |id: &str, secret: &str, grant: &str| {
        let form = [("grant_type", grant.to_string())];
        client
            .post(format!("{}/oauth/token", sim.base_url()))
            .basic_auth(id, Some(secret))
            .form(&form)
    };
    let (status, _, body) = send(login("acme", "wrong", "client_credentials")).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid_client"))
    );
    let (status, _, body) = send(login("acme", "secret", "password")).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("unsupported_grant_type"))
    );
    let (status, _, body) = send(login("acme", "secret", "client_credentials")).await;
    assert_eq!(
        (status, body["expires_in"].clone()),
        (StatusCode::OK, json!(86_400))
    );
    // A Genesys token means nothing to ServiceNow.
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(
        import(&sim, &client, token, &record("acme", "s1", 1))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    let acme = sim.state().tenant("acme");
    assert_eq!(
        (acme.genesys.token_requests, acme.genesys.total_requests()),
        (3, 0)
    );
    stop(sim).await;
}

#[tokio::test]
async fn waiting_out_retry_after_opens_the_next_window_without_violations() {
    let config = SimConfig {
        genesys_requests_per_minute: 1,
        genesys_window: Duration::from_secs(1),
        ..SimConfig::default()
    };
    let (sim, client) = start(config).await;
    let token = genesys_login(&sim, &client, "acme").await;
    let get = || client.get(row_url(&sim, "s1")).bearer_auth(&token);
    let mut limited = 0;
    for _ in 0..3 {
        let (status, headers, _) = send(get()).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
            let wait: u64 = header(&headers, "retry-after").parse().unwrap();
            assert_eq!(wait, 1, "never more than the 1 s window");
            tokio::time::sleep(Duration::from_secs(wait)).await;
            assert_eq!(send(get()).await.0, StatusCode::NOT_FOUND, "a new window");
        } else {
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
    }
    assert!(limited >= 1, "one request per 1 s window");
    assert_eq!(sim.state().total_violations(), 0);
    stop(sim).await;
}

#[tokio::test]
async fn watchers_see_every_applied_write_and_nothing_else() {
    let (sim, client) = start(SimConfig::default()).await;
    let mut applied = sim.watch_applied();
    let token = genesys_login(&sim, &client, "acme").await;
    let create = format!("{}/api/v2/flows/datatables/{TABLE}/rows", sim.base_url());
    send(client.post(&create).bearer_auth(&token).json(&row("s1", 1))).await;
    // Refused writes (a PUT to a missing row, a duplicate POST) are not applied.
    send(
        client
            .put(row_url(&sim, "nope"))
            .bearer_auth(&token)
            .json(&row("nope", 1)),
    )
    .await;
    send(client.post(&create).bearer_auth(&token).json(&row("s1", 1))).await;
    send(
        client
            .put(row_url(&sim, "s1"))
            .bearer_auth(&token)
            .json(&row("s1", 2)),
    )
    .await;
    let sn = sn_token(&sim, &client, "snc").await;
    for version in [3, 3, 1] {
        import(&sim, &client, &sn, &record("acme", "s1", version)).await;
    }
    let mut seen = Vec::new();
    while let Ok(event) = applied.try_recv() {
        seen.push((event.tenant, event.target, event.script_id, event.version));
    }
    let s = |t: &str| t.to_string();
    assert_eq!(
        seen,
        [
            (s("acme"), SimTarget::Genesys, s("s1"), 1),
            (s("acme"), SimTarget::Genesys, s("s1"), 2),
            // "ignored" (same version) and "skipped" (older) change nothing.
            (s("acme"), SimTarget::Servicenow, s("s1"), 3),
        ]
    );
    drop(applied);
    send(
        client
            .put(row_url(&sim, "s1"))
            .bearer_auth(&token)
            .json(&row("s1", 4)),
    )
    .await;
    assert_eq!(sim.state().tenant("acme").genesys.held["s1"].version, 4);
    stop(sim).await;
}

#[tokio::test]
async fn genesys_rows_are_listed_in_pages_per_principal() {
    let (sim, client) = start(SimConfig::default()).await;
    let token = genesys_login(&sim, &client, "acme").await;
    let other = genesys_login(&sim, &client, "globex").await;
    let create = format!("{}/api/v2/flows/datatables/{TABLE}/rows", sim.base_url());
    for key in ["c", "a", "b"] {
        send(client.post(&create).bearer_auth(&token).json(&row(key, 1))).await;
    }
    send(client.post(&create).bearer_auth(&other).json(&row("z", 1))).await;
    let list = |query: &str| client.get(format!("{create}?{query}")).bearer_auth(&token);
    let (status, _, body) = send(list("pageSize=2")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["entities"], json!([{"key": "a"}, {"key": "b"}]));
    assert_eq!(
        (body["total"].clone(), body["pageCount"].clone()),
        (json!(3), json!(2))
    );
    let (_, _, body) = send(list("pageSize=2&pageNumber=2&showbrief=false")).await;
    assert_eq!(body["entities"][0]["key"], "c");
    assert_eq!(body["entities"][0]["version"], 1);
    let (_, _, body) = send(list("pageNumber=9")).await;
    assert_eq!(body["entities"], json!([]));
    let (status, _, _) = send(list("pageSize=501")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    stop(sim).await;
}

fn rows_url(sim: &SimHandle, table: &str) -> String {
    format!("{}/api/v2/flows/datatables/{table}/rows", sim.base_url())
}

async fn post_faults(sim: &SimHandle, client: &Client, body: Value) -> StatusCode {
    let url = format!("{}/_sim/faults", sim.base_url());
    send(client.post(url).json(&body)).await.0
}

fn retry_after_secs(headers: &reqwest::header::HeaderMap) -> u64 {
    header(headers, "retry-after")
        .parse()
        .expect("integer Retry-After")
}

#[tokio::test]
async fn another_integrations_share_leaves_less_of_the_genesys_window() {
    let window = Duration::from_secs(4);
    let config = SimConfig {
        genesys_requests_per_minute: 10,
        genesys_window: window,
        ..instant_referee()
    };
    let (sim, client) = start(config).await;
    let faults = |share: f64| {
        json!({"principal": "acme", "target": "genesys",
                                     "faults": {"other_integration_share": share}})
    };
    assert_eq!(
        post_faults(&sim, &client, faults(1.5)).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post_faults(&sim, &client, faults(1.0)).await,
        StatusCode::NO_CONTENT
    );
    let (acme, globex) = (
        genesys_login(&sim, &client, "acme").await,
        genesys_login(&sim, &client, "globex").await,
    );
    // Half-way through the first window the other integration has sent 5 of the 10.
    tokio::time::sleep(window / 2).await;
    let get = |token: &str| client.get(row_url(&sim, "s1")).bearer_auth(token);
    let mut admitted = 0;
    let (headers, body) = loop {
        let (status, headers, body) = send(get(&acme)).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break (headers, body);
        }
        assert_eq!(status, StatusCode::NOT_FOUND);
        admitted += 1;
        assert!(admitted <= 5, "the other integration's share is ignored");
    };
    assert!(admitted >= 1, "{admitted}");
    let wait = retry_after_secs(&headers);
    assert!((1..=2).contains(&wait), "{wait}");
    let message = format!("Rate limit exceeded the maximum. Retry the request in [{wait}] seconds");
    assert_eq!(body["message"], message);
    assert_eq!(
        send(get(&acme)).await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "paused"
    );
    // A client without the fault has the whole quota.
    for _ in 0..10 {
        assert_eq!(send(get(&globex)).await.0, StatusCode::NOT_FOUND);
    }

    let state: SimState = client
        .get(format!("{}/_sim/state", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let genesys = state.tenant("acme").genesys;
    assert!(genesys.other_requests >= 5, "{}", genesys.other_requests);
    assert!(admitted + genesys.other_requests >= 10);
    assert_eq!((genesys.answered(429), genesys.violations), (2, 1));
    assert_eq!(state.tenant("globex").genesys.other_requests, 0);
    stop(sim).await;
}

#[tokio::test]
async fn genesys_daily_limit_answers_429_until_the_day_ends() {
    let config = SimConfig {
        genesys_daily_limit: Some(3),
        genesys_day: Duration::from_secs(30),
        ..instant_referee()
    };
    let (sim, client) = start(config).await;
    let token = genesys_login(&sim, &client, "acme").await;
    let get = || client.get(row_url(&sim, "s1")).bearer_auth(&token);
    for _ in 0..3 {
        assert_eq!(send(get()).await.0, StatusCode::NOT_FOUND);
    }
    let (status, headers, body) = send(get()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after_secs(&headers);
    assert!((20..=30).contains(&wait), "the rest of the day: {wait}");
    assert_eq!(
        body["message"],
        format!("Rate limit exceeded the maximum. Retry the request in [{wait}] seconds")
    );
    assert_eq!(body["code"], "too.many.requests.retry.after");
    let (status, _, _) = send(get()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    let acme = sim.state().tenant("acme").genesys;
    assert_eq!(
        (acme.answered(404), acme.answered(429), acme.violations),
        (3, 2, 1)
    );
    stop(sim).await;
}

#[tokio::test]
async fn legacy_genesys_429s_carry_no_wait_and_raw_bodies_are_sent_as_is() {
    let config = SimConfig {
        genesys_requests_per_minute: 2,
        ..SimConfig::default()
    };
    let (sim, client) = start(config).await;
    let legacy = Faults {
        genesys_legacy_429: true,
        ..Faults::default()
    };
    sim.set_faults(Some("acme"), SimTarget::Genesys, legacy);
    let token = genesys_login(&sim, &client, "acme").await;
    let get = |token: &str| client.get(row_url(&sim, "s1")).bearer_auth(token);
    for _ in 0..2 {
        assert_eq!(send(get(&token)).await.0, StatusCode::NOT_FOUND);
    }
    for _ in 0..2 {
        let (status, headers, body) = send(get(&token)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(headers.get("retry-after").is_none());
        let cid = header(&headers, "inin-correlation-id");
        assert_eq!(body, genesys_legacy_rate_limit_body(2, 60, cid));
        assert_eq!(
            body["message"],
            "Rate limit exceeded the maximum [2] requests within [60] seconds"
        );
    }
    let acme = sim.state().tenant("acme").genesys;
    assert_eq!(
        (acme.answered(429), acme.violations),
        (2, 0),
        "nothing was announced, so an early retry is no violation"
    );

    let raw = r#"{"message":"Some other wording entirely","status":429}"#;
    let inject = Faults {
        inject: vec![InjectedResponse::new(429).with_body(raw)],
        ..Faults::default()
    };
    sim.set_faults(Some("globex"), SimTarget::Genesys, inject);
    let globex = genesys_login(&sim, &client, "globex").await;
    let response = get(&globex).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(response.headers(), "content-type"),
        "application/json"
    );
    assert!(!header(response.headers(), "inin-correlation-id").is_empty());
    assert_eq!(response.text().await.unwrap(), raw);
    assert_eq!(
        send(get(&globex)).await.0,
        StatusCode::NOT_FOUND,
        "no pause"
    );
    stop(sim).await;
}

#[tokio::test]
async fn genesys_org_limits_report_the_quota_and_count_against_it() {
    let config = SimConfig {
        genesys_requests_per_minute: 3,
        ..SimConfig::default()
    };
    let (sim, client) = start(config).await;
    let token = genesys_login(&sim, &client, "acme").await;
    let limits = |namespace: &str| {
        let url = format!(
            "{}/api/v2/organizations/limits/namespaces/{namespace}",
            sim.base_url()
        );
        client.get(url).bearer_auth(&token)
    };
    let (status, _, body) = send(limits(GENESYS_LIMITS_NAMESPACE)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entities = body["entities"].as_array().unwrap();
    let quota = entities
        .iter()
        .find(|e| e["key"] == GENESYS_RATE_LIMIT_KEY)
        .expect("the quota key");
    assert_eq!(quota["value"], 3);
    assert_eq!(
        (body["pageNumber"].clone(), body["total"].clone()),
        (json!(1), json!(entities.len()))
    );

    let (status, headers, body) = send(limits("no.such.namespace")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["contextId"], header(&headers, "inin-correlation-id"));
    let set = json!({"principal": "acme", "target": "genesys",
                     "faults": {"limits_refused": true}});
    assert_eq!(
        post_faults(&sim, &client, set).await,
        StatusCode::NO_CONTENT
    );
    let (status, _, body) = send(limits(GENESYS_LIMITS_NAMESPACE)).await;
    assert_eq!(
        (status, body["code"].clone()),
        (
            StatusCode::FORBIDDEN,
            json!(GENESYS_MISSING_PERMISSIONS_CODE)
        )
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("You are missing the following permission(s): "),
        "{message}"
    );
    // Three calls used the quota of 3.
    let (status, headers, _) = send(limits(GENESYS_LIMITS_NAMESPACE)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after_secs(&headers) >= 1);
    let unauthenticated = client.get(format!(
        "{}/api/v2/organizations/limits/namespaces/{GENESYS_LIMITS_NAMESPACE}",
        sim.base_url()
    ));
    assert_eq!(send(unauthenticated).await.0, StatusCode::UNAUTHORIZED);

    let acme = sim.state().tenant("acme").genesys;
    assert_eq!(
        acme.requests,
        [(200, 1), (403, 1), (404, 1), (429, 1)].into()
    );
    stop(sim).await;
}

#[tokio::test]
async fn genesys_tables_cap_rows_check_keys_and_word_duplicates_as_configured() {
    let config = SimConfig {
        genesys_max_rows_per_table: 2,
        genesys_duplicate_row_status: 400,
        ..SimConfig::default()
    };
    let (sim, client) = start(config).await;
    let token = genesys_login(&sim, &client, "acme").await;
    let create = |table: &str, key: &str| {
        client
            .post(rows_url(&sim, table))
            .bearer_auth(&token)
            .json(&row(key, 1))
    };
    for key in ["a", "b"] {
        assert_eq!(send(create(TABLE, key)).await.0, StatusCode::OK);
    }
    let (status, _, body) = send(create(TABLE, "c")).await;
    assert_eq!(status.as_u16(), GENESYS_MAX_ROWS_STATUS);
    assert_eq!(body["code"], GENESYS_MAX_ROWS_CODE);
    let (status, _, body) = send(create(TABLE, "a")).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(GENESYS_ROW_EXISTS_CODE))
    );
    let update = client
        .put(row_url(&sim, "b"))
        .bearer_auth(&token)
        .json(&row("b", 2));
    assert_eq!(
        send(update).await.0,
        StatusCode::OK,
        "a full table still updates"
    );

    let longest = "k".repeat(256);
    assert_eq!(send(create("dt-2", &longest)).await.0, StatusCode::OK);
    let (status, _, body) = send(create("dt-2", &format!("{longest}x"))).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(GENESYS_SCHEMA_CODE))
    );
    assert!(body["message"].as_str().unwrap().contains("257 characters"));

    let held = sim.state().tenant("acme").genesys.held;
    assert_eq!(held.len(), 3);
    stop(sim).await;

    let teapot = SimConfig {
        genesys_duplicate_row_status: 418,
        ..SimConfig::default()
    };
    let refused = Simulator::start(teapot, "127.0.0.1:0".parse().unwrap()).await;
    assert!(refused.is_err(), "only 400 or 409 for a duplicate row");
}

#[tokio::test]
async fn genesys_rows_are_deleted_with_204_and_watchers_see_it() {
    let (sim, client) = start(SimConfig::default()).await;
    let mut applied = sim.watch_applied();
    let token = genesys_login(&sim, &client, "acme").await;
    let create = client
        .post(rows_url(&sim, TABLE))
        .bearer_auth(&token)
        .json(&row("s1", 3));
    assert_eq!(send(create).await.0, StatusCode::OK);

    let delete = || client.delete(row_url(&sim, "s1")).bearer_auth(&token);
    let response = delete().send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(!header(response.headers(), "inin-correlation-id").is_empty());
    assert!(response.bytes().await.unwrap().is_empty());
    let (status, _, body) = send(delete()).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::NOT_FOUND, json!(GENESYS_ROW_NOT_FOUND_CODE))
    );
    let read = client.get(row_url(&sim, "s1")).bearer_auth(&token);
    assert_eq!(send(read).await.0, StatusCode::NOT_FOUND);

    let genesys = sim.state().tenant("acme").genesys;
    assert!(genesys.held.is_empty());
    assert_eq!((genesys.writes, genesys.deletes), (1, 1));
    assert_eq!(genesys.requests, [(200, 1), (204, 1), (404, 2)].into());
    let path = format!("DELETE /api/v2/flows/datatables/{TABLE}/rows/s1");
    assert_eq!(genesys.paths[&path], 2);
    let events: Vec<(u64, bool)> = std::iter::from_fn(|| applied.try_recv().ok())
        .map(|e| (e.version, e.deleted))
        .collect();
    assert_eq!(events, [(3, false), (3, true)]);
    stop(sim).await;
}

#[tokio::test]
async fn servicenow_retire_records_follow_the_transform_rules() {
    let (sim, client) = start(SimConfig::default()).await;
    let mut applied = sim.watch_applied();
    let token = sn_token(&sim, &client, "snc").await;
    let with_op = |version: u64, operation: &str| {
        let mut r = record("acme", "s1", version);
        r["u_operation"] = json!(operation);
        r
    };
    let status_of = |body: &Value| body["result"][0]["status"].as_str().unwrap().to_string();
    let held = |sim: &SimHandle| sim.state().tenant("acme").servicenow.held["s1"].clone();

    let (_, body) = import(&sim, &client, &token, &record("acme", "s1", 2)).await;
    assert_eq!(status_of(&body), "inserted");
    let (_, body) = import(&sim, &client, &token, &with_op(3, "retire")).await;
    assert_eq!(status_of(&body), "updated");
    assert!(held(&sim).retired && held(&sim).version == 3);
    let (_, body) = import(&sim, &client, &token, &with_op(1, "retire")).await;
    assert_eq!(
        status_of(&body),
        "skipped",
        "an older retire changes nothing"
    );
    let (_, body) = import(&sim, &client, &token, &with_op(4, "upsert")).await;
    assert_eq!(status_of(&body), "updated");
    assert!(!held(&sim).retired);
    let (status, body) = import(&sim, &client, &token, &with_op(5, "purge")).await;
    assert_eq!(
        (status, status_of(&body)),
        (StatusCode::CREATED, "error".into())
    );
    let error = body["result"][0]["error_message"].as_str().unwrap();
    assert!(error.contains("u_operation"), "{error}");

    let acme = sim.state().tenant("acme").servicenow;
    assert_eq!(
        (
            acme.writes,
            acme.deletes,
            acme.older_writes,
            acme.held["s1"].version
        ),
        (2, 1, 1, 4)
    );
    let events: Vec<(u64, bool)> = std::iter::from_fn(|| applied.try_recv().ok())
        .map(|e| (e.version, e.deleted))
        .collect();
    assert_eq!(events, [(2, false), (3, true), (4, false)]);
    stop(sim).await;
}

#[tokio::test]
async fn a_request_on_its_way_when_the_pause_was_announced_is_no_violation() {
    let config = SimConfig {
        genesys_requests_per_minute: 1,
        in_flight_grace: Duration::from_secs(30),
        ..SimConfig::default()
    };
    let (sim, client) = start(config).await;
    let token = genesys_login(&sim, &client, "acme").await;
    let get = || client.get(row_url(&sim, "s1")).bearer_auth(&token);
    let _ = send(get()).await;
    let (status, _, _) = send(get()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "over the quota");
    // Inside the pause but within the grace of its announcement: refused, not a violation.
    let (status, _, _) = send(get()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let g = sim.state().tenant("acme").genesys;
    assert_eq!((g.violations, g.in_flight_at_pause), (0, 1));
}
