//! ServiceNow's OAuth over HTTP: the client-credentials, password and refresh grants, and
//! each of their refusals.

use super::*;

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
