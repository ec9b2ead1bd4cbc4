//! Genesys's other limits over HTTP: another integration's share of the org's window, the
//! daily limit, and the older 429 wording (no wait in it; raw bodies sent as they are).

use super::*;

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

    let state: SimState = http_state(&sim, &client).await;
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
