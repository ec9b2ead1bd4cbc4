//! The simulator's own controls over HTTP: faults and state via `/_sim`, token expiry, dropped connections and error rates, watchers of applied writes.

use super::*;

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

    let state: SimState = http_state(&sim, &client).await;
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
