//! ServiceNow's APIs over HTTP: the Import Set API with the transform rules, the Batch API
//! judged per sub-request, rate-limit rules and their headers, retire records.

use super::*;

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
