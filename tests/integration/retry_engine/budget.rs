//! The failure budget: a target answering 503 forever dead-letters as `exhausted` within it,
//! and a `Retry-After` beyond it is waited out, never dead-lettered.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_answering_503_forever_dead_letters_as_exhausted_within_the_budget() {
    let app = spawn_app(&["budget"], |s| {
        s.retry.max_elapsed = Duration::from_secs(3);
        s.retry.initial = Duration::from_millis(100);
        s.retry.max_delay = Duration::from_secs(1);
        // Far more attempts than fit in the budget: the budget is what ends the retries.
        s.retry.max_attempts = 1000;
    })
    .await;
    warm_up_genesys(&app, "budget").await;
    let inject = vec![InjectedResponse::new(503).times(1_000_000)];
    app.sim
        .set_faults(Some("budget"), SimTarget::Genesys, faults_inject(inject));

    let started = Instant::now();
    app.publish(&change_for("budget", "s", TargetKind::Genesys))
        .await;
    let dead = one_dead_letter(&app).await;
    let took = started.elapsed();

    assert_eq!(
        dead.header("x-scriptsync-reason").as_deref(),
        Some("exhausted")
    );
    assert_eq!(dead.header("x-scriptsync-status").as_deref(), Some("503"));
    assert_eq!(
        dead.header("x-scriptsync-targets").as_deref(),
        Some("genesys")
    );
    let attempts: u64 = dead
        .header("x-scriptsync-attempts")
        .expect("attempts header")
        .parse()
        .expect("a number");
    let g = app.sim_state().tenant("budget").genesys;
    assert!(attempts >= 2, "retried before giving up: {attempts}");
    assert!(attempts < 1000, "the budget, not max_attempts, ended it");
    assert_eq!(attempts, g.answered(503), "one request per attempt");
    assert_eq!(g.violations, 0);
    eprintln!(
        "budget: 503 forever → exhausted after {attempts} attempts, dead-lettered {took:?} \
         after publishing (retry.max_elapsed 3s)"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_beyond_the_budget_is_waited_out_never_dead_lettered() {
    // The server's wait (6 s) is twice the whole failure budget (3 s): waiting it out is not
    // a failure, so the change is delivered after it, with nothing sent before it ends.
    let app = spawn_app(&["far"], |s| s.retry.max_elapsed = Duration::from_secs(3)).await;
    warm_up_genesys(&app, "far").await;
    let before = app.sim_state().tenant("far").genesys.total_requests();
    let inject = vec![InjectedResponse::new(429).with_retry_after("6")];
    app.sim
        .set_faults(Some("far"), SimTarget::Genesys, faults_inject(inject));
    let started = Instant::now();
    app.publish(&change_for("far", "s", TargetKind::Genesys))
        .await;
    app.wait_settled("far", 2).await;
    let took = started.elapsed();
    assert_eq!(
        app.depth(&app.names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
    let g = app.sim_state().tenant("far").genesys;
    assert_eq!(
        (g.total_requests() - before, g.answered(429), g.violations),
        (2, 1, 0),
        "one 429, then one request after the server's time"
    );
    assert_eq!(g.held["s"].version, 1);
    eprintln!(
        "far: Retry-After 6 s with retry.max_elapsed 3 s → delivered {took:?} after publishing"
    );
    app.stop().await;
}
