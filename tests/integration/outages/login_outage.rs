//! A login outage: the token cache backs off (one fetch now, then one per step of the retry
//! schedule, no storm) and pushes resume when logins do.

use super::*;

/// Token fetches the cache makes during a login outage of `outage` that starts with the first
/// one: one now, then one each time its backoff (the retry schedule without jitter) ends.
fn expected_fetches(s: &Settings, outage: Duration) -> u64 {
    let (mut at, mut fetches, mut failures) = (Duration::ZERO, 0u64, 0i32);
    while at < outage {
        fetches += 1;
        failures += 1;
        let step = s
            .retry
            .initial
            .mul_f64(f64::from(s.retry.factor).powi(failures - 1))
            .min(s.retry.max_delay);
        at += step;
    }
    fetches
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_outage_backs_off_without_a_token_storm_and_pushes_resume() {
    const TENANT: &str = "login-out";
    const LOGIN_OUTAGE: Duration = Duration::from_secs(15);
    let app = spawn_app(&[TENANT], |s| {
        s.retry.max_elapsed = Duration::from_secs(50);
        // Every refused token fetch costs the waiting changes an attempt.
        s.retry.max_attempts = 30;
        s.retry.max_delay = Duration::from_secs(4);
    })
    .await;
    // Genesys's login answers 503, ServiceNow's drops the connection.
    let login = |mode| Some(Outage::new(mode, LOGIN_OUTAGE));
    set_outage(
        &app,
        TENANT,
        None,
        [login(OutageMode::Unavailable), login(OutageMode::Drop)],
    );
    let started = Instant::now();
    let mut published = Published::default();
    // 20 scripts × 2 versions: 40 changes, all wanting a token at once.
    published.versions(&app, TENANT, 0..20, 1..=2).await;
    within(
        "every change delivered after the login outage",
        LOGIN_OUTAGE + Duration::from_secs(30),
        || async { app.settled(TENANT) >= published.messages },
    )
    .await;
    let took = started.elapsed();

    let dead = app.drain_dlq().await;
    assert!(dead.is_empty(), "nothing dead-lettered: {}", dead.len());
    assert_nothing_lost(&app, TENANT, &published, &dead).await;
    let state = app.sim_state().tenant(TENANT);
    let bound = expected_fetches(&app.settings, LOGIN_OUTAGE) + 1;
    for target in TARGETS {
        let t = state.target(target);
        assert!(t.token_refusals >= 2, "{target:?}: retried the login");
        assert!(
            t.token_refusals <= bound,
            "{target:?}: {} token requests during the outage, at most {bound} expected",
            t.token_refusals
        );
        assert_eq!(
            t.token_requests - t.token_refusals,
            1,
            "{target:?}: one token once the login works again"
        );
        assert_eq!(t.answered(401), 0, "{target:?}: no push without a token");
    }
    println!(
        "login outage {LOGIN_OUTAGE:?} (genesys 503, servicenow dropped): token requests during \
         it genesys {} servicenow {} (schedule allows {bound} each; {} changes waiting), then \
         one each; all {} changes delivered {took:?} after publishing, {:?} after the outage \
         ended",
        state.genesys.token_refusals,
        state.servicenow.token_refusals,
        published.messages,
        published.messages,
        took.saturating_sub(LOGIN_OUTAGE),
    );
    app.stop().await;
}
