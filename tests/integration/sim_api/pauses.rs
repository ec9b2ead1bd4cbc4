//! Quotas and pauses over HTTP: fixed windows, injected 429/503 waits, waiting out a
//! `Retry-After`, and which early requests count as violations (a request already on its way
//! when the pause was announced is none).

use super::*;

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
