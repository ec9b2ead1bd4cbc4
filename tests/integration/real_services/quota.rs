//! The real quota, learned: the org's limits cap a quota configured too high; without them a
//! 429 point teaches the real quota, and a quota shared with another integration is learned;
//! the older 429 wording is no wait of 300 seconds.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orgs_limits_cap_a_quota_configured_too_high() {
    const T: &str = "org-limits";
    let window = Duration::from_secs(2);
    // The org gives 20 per window; the worker is told 60.
    let app = quota_app(T, fixtures::genesys_quota(20, window), 60, window).await;
    publish_scripts(&app, T, 40).await;
    let g = app.sim_state().tenant(T).genesys;
    assert_eq!(g.held.len(), 40);
    assert_eq!(
        g.paths
            .get("GET /api/v2/organizations/limits/namespaces/platform.api"),
        Some(&1)
    );
    assert_eq!(
        g.answered(429),
        0,
        "the gate kept to the org's limit from the start"
    );
    assert_eq!(g.violations, 0);
    let ceiling = app.status(T).target(TargetKind::Genesys).gate_ceiling;
    assert_eq!(
        ceiling,
        Some(20.0 * 0.9 * 30.0),
        "20 × 0.9 per 2 s, per minute"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_orgs_limits_a_429_point_teaches_the_real_quota() {
    const T: &str = "learn-429";
    let window = Duration::from_secs(2);
    let app = quota_app(T, fixtures::genesys_quota(20, window), 60, window).await;
    let refused = Faults {
        limits_refused: true,
        ..Faults::default()
    };
    app.sim.set_faults(Some(T), SimTarget::Genesys, refused);
    publish_scripts(&app, T, 120).await;
    let g = app.sim_state().tenant(T).genesys;
    assert_eq!(g.held.len(), 120, "nothing lost");
    assert_eq!(
        g.answered(403),
        1,
        "the limits read was refused, and lived with"
    );
    assert_eq!(g.violations, 0);
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    // Told 60 per window (1,620/min after headroom): the 429 points brought it down to the
    // real 20 (540/min), give or take the upward probe.
    let ceiling = genesys_ceiling(&app, T);
    assert!(ceiling <= 540.0 * 1.4, "ceiling {ceiling}/min");
    eprintln!(
        "learn-429: {} requests, {} answered 429, ceiling now {ceiling:.0}/min (real 540)",
        g.total_requests(),
        g.answered(429)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_shared_with_another_integration_is_learned() {
    const T: &str = "shared";
    let window = Duration::from_secs(2);
    let app = quota_app(T, fixtures::genesys_quota(20, window), 20, window).await;
    let shared = Faults {
        other_integration_share: 0.5,
        limits_refused: true,
        ..Faults::default()
    };
    app.sim.set_faults(Some(T), SimTarget::Genesys, shared);
    publish_scripts(&app, T, 60).await;
    let g = app.sim_state().tenant(T).genesys;
    assert_eq!(g.held.len(), 60, "nothing lost");
    assert!(
        g.other_requests > 0,
        "the other integration did use the quota"
    );
    assert_eq!(g.violations, 0);
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    let ceiling = genesys_ceiling(&app, T);
    assert!(ceiling < 540.0, "below the configured 540/min: {ceiling}");
    eprintln!(
        "shared: {} requests, {} answered 429, the other integration {}, ceiling {ceiling:.0}/min",
        g.total_requests(),
        g.answered(429),
        g.other_requests
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_older_429_wording_is_not_read_as_a_wait_of_300_seconds() {
    const T: &str = "legacy-429";
    let app = spawn_app(&[T], |_| {}).await;
    app.publish(&genesys_only(T, "warm-up", 1)).await;
    app.wait_settled(T, 1).await;
    let body = r#"{"message":"Rate limit exceeded the maximum [300] requests within [60] seconds","code":"too.many.requests","status":429}"#;
    let faults = Faults {
        inject: vec![InjectedResponse::new(429).with_body(body)],
        ..Faults::default()
    };
    app.sim.set_faults(Some(T), SimTarget::Genesys, faults);
    app.publish(&genesys_only(T, "s", 1)).await;
    // Waiting 300 s would outlast this (60 s) deadline: the wait is a back-off instead.
    app.wait_settled(T, 2).await;
    let g = app.sim_state().tenant(T).genesys;
    assert_eq!((g.answered(429), g.violations), (1, 0));
    assert_eq!(g.held["s"].version, 1);
    app.stop().await;
}
