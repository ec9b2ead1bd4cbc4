//! `/metrics`: exact counts after a known scenario, every known series at 0 before any
//! traffic.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_give_exact_counts_after_a_known_scenario() {
    let app = spawn_app_with_admin(&["obs"], SimConfig::default(), |_| {}).await;
    let addr = admin(&app);
    app.sim.set_faults(
        Some("obs"),
        SimTarget::Genesys,
        Faults {
            inject: vec![InjectedResponse::new(429).with_retry_after("1")],
            record_errors: BTreeSet::from(["bad".to_string()]),
            ..Faults::default()
        },
    );
    // Phase 1: three good changes, one Genesys refuses (permanent), one invalid body.
    for s in ["s1", "s2", "s3", "bad"] {
        app.publish(&change("obs", s, 1)).await;
    }
    app.publish_raw("obs", b"{not json").await;
    app.wait_settled("obs", 5).await;
    // Phase 2: an old version again (superseded) and a tenant nobody configured.
    app.publish(&change("obs", "s1", 1)).await;
    app.wait_settled("obs", 6).await;
    app.publish(&change("nobody", "x", 1)).await;
    app.wait_dlq(3).await;
    eventually("the unknown tenant's dead letter counted", || async {
        series(
            &scrape(addr).await,
            "scriptsync_dead_lettered_total",
            &[("tenant", "nobody"), ("reason", "unknown_tenant")],
        ) == 1.0
    })
    .await;

    let m = scrape(addr).await;
    let c = |name: &str, labels: &[(&str, &str)]| series(&m, name, labels);
    assert_eq!(
        c("scriptsync_changes_consumed_total", &[("tenant", "obs")]),
        6.0
    );
    let pushes = "scriptsync_pushes_total";
    let (g, s) = (("target", "genesys"), ("target", "servicenow"));
    let t = ("tenant", "obs");
    assert_eq!(c(pushes, &[t, g, ("outcome", "delivered")]), 3.0);
    assert_eq!(c(pushes, &[t, g, ("outcome", "permanent")]), 1.0);
    assert_eq!(c(pushes, &[t, s, ("outcome", "delivered")]), 4.0);
    assert_eq!(c(pushes, &[t, s, ("outcome", "permanent")]), 0.0);
    assert_eq!(c("scriptsync_rate_limited_total", &[t, g]), 1.0);
    assert_eq!(c("scriptsync_rate_limited_total", &[t, s]), 0.0);
    assert_eq!(
        c("scriptsync_http_requests_total", &[g, ("status", "429")]),
        1.0
    );
    let dead = "scriptsync_dead_lettered_total";
    assert_eq!(c(dead, &[t, ("reason", "invalid")]), 1.0);
    assert_eq!(c(dead, &[t, ("reason", "permanent")]), 1.0);
    assert_eq!(c(dead, &[t, ("reason", "exhausted")]), 0.0);
    assert_eq!(
        c(dead, &[("tenant", "nobody"), ("reason", "unknown_tenant")]),
        1.0
    );
    assert_eq!(c("scriptsync_superseded_total", &[t]), 1.0);
    // Each change written is timed from its published_at, per tenant and target; each
    // request to a target by its duration.
    assert_eq!(c("scriptsync_end_to_end_seconds_count", &[t, g]), 3.0);
    assert_eq!(c("scriptsync_end_to_end_seconds_count", &[t, s]), 4.0);
    let requests = "scriptsync_http_request_duration_seconds_count";
    assert!(c(requests, &[t, g]) >= 4.0, "{}", c(requests, &[t, g]));
    assert!(c(requests, &[t, s]) >= 1.0, "{}", c(requests, &[t, s]));
    assert_eq!(c("scriptsync_inflight", &[t]), 0.0);
    assert!(c("scriptsync_gate_paused_seconds_total", &[t, g]) >= 1.0);
    // The status board (what `/status`, the demo and these tests read) agrees with
    // `/metrics`, and counts settled deliveries exactly.
    let board = app.status("obs");
    assert_eq!((board.consumed, board.settled, board.inflight), (6, 6, 0));
    let genesys = board.target(TargetKind::Genesys);
    assert_eq!(genesys.pushes.get(PushOutcomeLabel::Delivered), 3);
    assert_eq!(genesys.pushes.get(PushOutcomeLabel::Permanent), 1);
    assert_eq!(genesys.rate_limited, 1);
    assert!(genesys.paused_seconds >= 1.0);
    assert_eq!(board.superseded, 1);
    assert_eq!(board.dead_lettered["invalid"], 1);
    assert_eq!(board.dead_lettered["permanent"], 1);
    assert_eq!(app.status("nobody").dead_lettered["unknown_tenant"], 1);
    let text = get(addr, "/metrics").await.1;
    assert!(
        text.contains("# TYPE scriptsync_end_to_end_seconds histogram"),
        "{text}"
    );
    // The DLQ's depth as the broker counts it (read every 30 s): the three letters above.
    eventually(
        "scriptsync_dlq_messages counts the dead letters",
        || async move {
            let scraped = parse_prometheus(&get(addr, "/metrics").await.1);
            scraped.get(&("scriptsync_dlq_messages".to_owned(), Default::default())) == Some(&3.0)
        },
    )
    .await;
    app.stop().await;
}

/// Prometheus advises exporting every series whose labels are known at start at 0: before
/// any traffic, `/metrics` already lists each counter of DESIGN §11 for the tenant's targets,
/// outcomes and dead-letter reasons (the line itself, not an absent series read as 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_series_are_exported_at_zero_before_any_traffic() {
    let app = spawn_app_with_admin(&["zero"], SimConfig::default(), |_| {}).await;
    let text = get(admin(&app), "/metrics").await.1;
    let scraped = parse_prometheus(&text);
    let has_zero = |name: &str, labels: &[(&str, &str)]| {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        scraped.get(&(name.to_owned(), labels)) == Some(&0.0)
    };
    let t = ("tenant", "zero");
    let mut missing = Vec::new();
    let mut expect = |name: &str, labels: &[(&str, &str)]| {
        if !has_zero(name, labels) {
            missing.push(format!("{name} {labels:?}"));
        }
    };
    expect("scriptsync_changes_consumed_total", &[t]);
    expect("scriptsync_superseded_total", &[t]);
    expect("scriptsync_inflight", &[t]);
    for reason in ["invalid", "permanent", "exhausted"] {
        expect("scriptsync_dead_lettered_total", &[t, ("reason", reason)]);
    }
    for target in ["genesys", "servicenow"] {
        let g = ("target", target);
        expect("scriptsync_rate_limited_total", &[t, g]);
        expect("scriptsync_gate_paused_seconds_total", &[t, g]);
        expect("scriptsync_token_renewals_total", &[t, g]);
        expect("scriptsync_retries_total", &[t, g]);
        expect("scriptsync_token_failures_total", &[t, g]);
        expect("scriptsync_end_to_end_seconds_count", &[t, g]);
        expect("scriptsync_http_request_duration_seconds_count", &[t, g]);
        for outcome in ["delivered", "superseded", "permanent", "exhausted"] {
            expect("scriptsync_pushes_total", &[t, g, ("outcome", outcome)]);
        }
    }
    for task in ["genesys", "servicenow", "tenant"] {
        expect("scriptsync_task_panics_total", &[t, ("task", task)]);
    }
    assert!(missing.is_empty(), "absent at start: {missing:#?}\n{text}");
    // The operator's gauges: once it has started, this replica consumes the tenant, is
    // ready, and says its build.
    let version = env!("CARGO_PKG_VERSION");
    let addr = admin(&app);
    eventually(
        "consuming, ready and the build on /metrics",
        || async move {
            let scraped = parse_prometheus(&get(addr, "/metrics").await.1);
            let value = |name: &str, labels: &[(&str, &str)]| {
                let labels = labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                scraped.get(&(name.to_owned(), labels)).copied()
            };
            value("scriptsync_consuming", &[("tenant", "zero")]) == Some(1.0)
                && value("scriptsync_ready", &[]) == Some(1.0)
                && value("scriptsync_build_info", &[("version", version)]) == Some(1.0)
        },
    )
    .await;
    assert!(
        text.contains("scriptsync_gate_rate_per_minute{"),
        "gate rates from the start:\n{text}"
    );
    app.stop().await;
}
