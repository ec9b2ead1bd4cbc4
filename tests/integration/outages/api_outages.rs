//! A 30 s outage of the APIs (answering 503, dropping connections, hanging past the request
//! timeout) is delivered after recovery; one longer than the budget dead-letters as
//! `exhausted` and loses nothing.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30s_outage_answering_503_is_delivered_after_recovery() {
    outage_then_recovery("out-503", OutageMode::Unavailable, 503).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30s_outage_dropping_connections_is_delivered_after_recovery() {
    outage_then_recovery("out-drop", OutageMode::Drop, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30s_outage_hanging_past_the_request_timeout_is_delivered_after_recovery() {
    outage_then_recovery("out-hang", OutageMode::Hang, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_the_budget_dead_letters_as_exhausted_and_loses_nothing() {
    const TENANT: &str = "out-long";
    const BUDGET: Duration = Duration::from_secs(8);
    let app = spawn_app(&[TENANT], |s| {
        s.retry.max_elapsed = BUDGET;
        s.retry.max_attempts = 1000;
        s.retry.max_delay = Duration::from_secs(2);
    })
    .await;
    set_outage(
        &app,
        TENANT,
        Some(Outage::new(OutageMode::Unavailable, OUTAGE)),
        [None, None],
    );
    let outage_ends = tokio::time::Instant::now() + OUTAGE;
    let started = Instant::now();
    let mut published = Published::default();
    published.versions(&app, TENANT, 0..6, 1..=2).await;
    within("every change settled (dead-lettered)", OUTAGE, || async {
        app.settled(TENANT) >= published.messages
    })
    .await;
    let settled_after = started.elapsed();
    let dead = app.drain_dlq().await;
    for d in &dead {
        assert_eq!(
            d.header("x-scriptsync-reason").as_deref(),
            Some("exhausted")
        );
        assert_eq!(d.header("x-scriptsync-status").as_deref(), Some("503"));
    }
    let scripts_dead = assert_nothing_lost(&app, TENANT, &published, &dead).await;
    assert_eq!(
        scripts_dead,
        published.newest.len(),
        "every script's newest version"
    );
    let during = answered(&app, TENANT, 503);
    let attempts: Vec<String> = dead
        .iter()
        .filter_map(|d| d.header("x-scriptsync-attempts"))
        .collect();

    // The outage is scheduled to end at a known time; then the worker delivers again.
    tokio::time::sleep_until(outage_ends).await;
    let mut after = Published::default();
    after.versions(&app, TENANT, 0..6, 3..=3).await;
    let resumed = Instant::now();
    app.wait_settled(TENANT, published.messages + after.messages)
        .await;
    assert_nothing_lost(&app, TENANT, &after, &[]).await;
    println!(
        "outage {OUTAGE:?} > retry.max_elapsed {BUDGET:?}: {} messages on {} scripts settled \
         {settled_after:?} after publishing; {} dead letters, all exhausted/503 (attempts \
         {attempts:?}); {during} requests answered 503; after the outage the next versions \
         were delivered in {:?}",
        published.messages,
        published.newest.len(),
        dead.len(),
        resumed.elapsed(),
    );
    app.stop().await;
}
