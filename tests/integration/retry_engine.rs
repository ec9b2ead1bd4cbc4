//! The retry and rate-limit engine end to end (DESIGN §6): real RabbitMQ, the whole worker,
//! the simulator. Shared pause across a tenant's concurrent changes, sustained overload of a
//! scaled quota, the retry budget, and ServiceNow's whole-call vs per-item retries.
//!
//! Every wait polls with a deadline; outcomes are asserted on the simulator's counts and its
//! answer order (`TargetState::recent`), never on wall-clock time. Elapsed times are only
//! printed (`cargo test --test integration retry_engine:: -- --nocapture`).

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{TestApp, change, eventually, spawn_app, spawn_app_with_sim};
use scriptsync::change::{ScriptChange, TargetKind};
use scriptsync_sim::{Faults, InjectedResponse, SimTarget, fixtures};

/// A change for one target only.
fn change_for(tenant: &str, script: &str, target: TargetKind) -> ScriptChange {
    let mut c = change(tenant, script, 1);
    c = c.to_builder().targets([target]).build().unwrap();
    c
}

fn faults_inject(inject: Vec<InjectedResponse>) -> Faults {
    Faults {
        inject,
        ..Faults::default()
    }
}

/// One change through the tenant's Genesys lane, so that the lane has listed its table and
/// faults injected afterwards meet the changes of the test, not the listing.
async fn warm_up_genesys(app: &TestApp, tenant: &str) {
    app.publish(&change_for(tenant, "warm-up", TargetKind::Genesys))
        .await;
    app.wait_settled(tenant, 1).await;
}

/// The single dead letter of a test, after it arrived.
async fn one_dead_letter(app: &TestApp) -> common::DeadLetterCopy {
    app.wait_dlq(1).await;
    let mut dead = app.drain_dlq().await;
    assert_eq!(dead.len(), 1, "exactly one dead letter");
    dead.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_429_pauses_every_change_of_the_tenant_while_another_tenant_flows() {
    let app = spawn_app(&["pause-a", "pause-b"], |s| {
        s.batch.linger = Duration::from_millis(100);
    })
    .await;
    let inject = vec![InjectedResponse::new(429).with_retry_after("2")];
    app.sim
        .set_faults(Some("pause-a"), SimTarget::Genesys, faults_inject(inject));

    // 20 changes of one tenant, all waiting on the same gate.
    for i in 0..20 {
        app.publish(&change("pause-a", &format!("a{i}"), 1)).await;
    }
    eventually("pause-a answered 429", || async {
        app.sim_state().tenant("pause-a").genesys.answered(429) == 1
    })
    .await;
    // Now the other tenant: it must not wait for pause-a's gate.
    for i in 0..5 {
        app.publish(&change("pause-b", &format!("b{i}"), 1)).await;
    }
    app.wait_settled("pause-b", 5).await;
    app.wait_settled("pause-a", 20).await;

    let state = app.sim_state();
    assert_eq!(state.total_violations(), 0, "nothing sent into a pause");
    let a = state.tenant("pause-a");
    let b = state.tenant("pause-b");
    for i in 0..20 {
        assert_eq!(a.genesys.held[&format!("a{i}")].version, 1, "a{i} genesys");
        assert_eq!(a.servicenow.held[&format!("a{i}")].version, 1, "a{i} sn");
    }
    for i in 0..5 {
        assert_eq!(b.genesys.held[&format!("b{i}")].version, 1, "b{i} genesys");
        assert_eq!(b.servicenow.held[&format!("b{i}")].version, 1, "b{i} sn");
    }
    assert_eq!(a.genesys.answered(429), 1, "one 429 in all");

    // The answer order: pause-a's 429, then pause-a's first request after its pause.
    // Everything pause-b sent, to both targets, was answered in between.
    let refused = a
        .genesys
        .recent
        .iter()
        .find(|r| r.status == 429)
        .expect("the 429 is logged")
        .seq;
    let resumed = a
        .genesys
        .recent
        .iter()
        .find(|r| r.seq > refused)
        .expect("pause-a resumed")
        .seq;
    let b_seqs: Vec<u64> = b
        .genesys
        .recent
        .iter()
        .chain(&b.servicenow.recent)
        .map(|r| r.seq)
        .collect();
    assert!(!b_seqs.is_empty());
    assert!(
        b_seqs.iter().all(|s| refused < *s && *s < resumed),
        "pause-b served while pause-a was paused: 429 at #{refused}, resumed at #{resumed}, \
         pause-b at {b_seqs:?}"
    );
    // The other target of the paused tenant kept flowing too.
    let a_sn_first = a.servicenow.recent.front().expect("pause-a servicenow").seq;
    assert!(
        a_sn_first < resumed,
        "pause-a's ServiceNow answered at #{a_sn_first}, before Genesys resumed at #{resumed}"
    );
    eprintln!(
        "shared pause: 429 at #{refused}, pause-a resumed at #{resumed}, pause-b answered at \
         {b_seqs:?}, violations 0"
    );
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_overload_uses_the_quota_without_429s() {
    // A scaled Genesys quota: 40 requests per 2 s window (20/s), on both sides.
    const QUOTA: u32 = 40;
    const WINDOW: Duration = Duration::from_secs(2);
    let sim = fixtures::genesys_quota(QUOTA, WINDOW);
    let app = spawn_app_with_sim(&["load"], sim, |s| {
        let g = s.tenants[0].genesys.as_mut().unwrap();
        g.requests_per_minute = QUOTA;
        g.window = WINDOW;
        // Changes queue at the gate far longer than the default test budget.
        s.retry.max_elapsed = Duration::from_secs(180);
    })
    .await;

    // Offer 3× the quota for 5 s: 60 new scripts/s, each one POST = 60 req/s.
    const SCRIPTS: usize = 300;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    for i in 0..SCRIPTS {
        if i % 6 == 0 {
            tick.tick().await;
        }
        let c = change_for("load", &format!("s{i}"), TargetKind::Genesys);
        app.publish(&c).await;
    }
    let offered_for = started.elapsed();
    app.wait_settled("load", SCRIPTS as u64).await;
    let took = started.elapsed();

    let state = app.sim_state();
    let g = state.tenant("load").genesys;
    assert_eq!(g.held.len(), SCRIPTS, "every change delivered");
    assert!(g.held.values().all(|h| h.version == 1));
    assert_eq!(g.violations, 0, "nothing sent into a pause");
    let total = g.total_requests();
    let limited = g.answered(429);
    let ratio = limited as f64 / total as f64;
    eprintln!(
        "sustained overload: {total} requests offered over {offered_for:?} at 3x the quota \
         ({QUOTA} per {WINDOW:?}); {limited} answered 429 ({:.2} %), {} violations; all \
         delivered after {took:?} ({:.1} requests/s against a quota of {:.1}/s)",
        ratio * 100.0,
        g.violations,
        total as f64 / took.as_secs_f64(),
        f64::from(QUOTA) / WINDOW.as_secs_f64(),
    );
    assert!(ratio <= 0.01, "429s are {limited} of {total} requests");
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    app.stop().await;
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_429_on_the_batch_call_retries_the_whole_batch_after_retry_after() {
    let app = spawn_app(&["sn-call"], |s| {
        s.batch.linger = Duration::from_millis(500);
    })
    .await;
    let inject = vec![InjectedResponse::new(429).with_retry_after("1")];
    app.sim.set_faults(
        Some("sn-call"),
        SimTarget::Servicenow,
        faults_inject(inject),
    );
    for i in 0..6 {
        let c = change_for("sn-call", &format!("s{i}"), TargetKind::Servicenow);
        app.publish(&c).await;
    }
    app.wait_settled("sn-call", 6).await;

    let sn = app.sim_state().tenant("sn-call").servicenow;
    assert_eq!(sn.answered(429), 1, "the whole call was refused once");
    assert_eq!(sn.violations, 0, "the retry waited for Retry-After");
    assert_eq!(sn.held.len(), 6);
    assert!(sn.held.values().all(|h| h.writes == 1), "{:?}", sn.held);
    // The refused call reached no handler; its retry carried every item again, once.
    assert_eq!(sn.sub_requests, 6);
    assert_eq!(sn.answered(200), sn.batch_calls);
    let order: Vec<u16> = sn.recent.iter().map(|r| r.status).collect();
    assert_eq!(order.first(), Some(&429), "{order:?}");
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_items_answered_429_or_unserviced_are_retried_alone() {
    let app = spawn_app(&["sn-item"], |s| {
        s.batch.linger = Duration::from_millis(500);
    })
    .await;
    let faults = Faults {
        item_rate_limited: BTreeMap::from([("s1".to_string(), 1)]),
        unserviced_calls: BTreeMap::from([("s4".to_string(), 1)]),
        ..Faults::default()
    };
    app.sim
        .set_faults(Some("sn-item"), SimTarget::Servicenow, faults);
    for i in 0..6 {
        let c = change_for("sn-item", &format!("s{i}"), TargetKind::Servicenow);
        app.publish(&c).await;
    }
    app.wait_settled("sn-item", 6).await;

    let sn = app.sim_state().tenant("sn-item").servicenow;
    assert_eq!(sn.held.len(), 6, "every item delivered");
    assert!(sn.held.values().all(|h| h.writes == 1), "{:?}", sn.held);
    // Six items once, plus the two held back once more: nothing else was resent.
    assert_eq!(sn.sub_requests, 8);
    assert_eq!(sn.answered(429), 0, "no call was refused as a whole");
    assert_eq!(sn.violations, 0);
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    app.stop().await;
}
