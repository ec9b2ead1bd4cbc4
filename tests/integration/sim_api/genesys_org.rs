//! Genesys's org over HTTP: logins (credentials and grant checked) and the org limits
//! endpoint (the quota reported, and counted against).

use super::*;

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
