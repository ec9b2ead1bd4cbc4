//! Per-target lanes end to end: real RabbitMQ, the whole worker, the simulator.
//! Each test states an ordering or a count, never a time: targets do not wait for each
//! other, late binding sends only the newest version after a pause, compliance changes go
//! first, a new row costs one request, and the retry budget counts the failures of a change
//! across its requests (a fallback and a wait are not failures).

use crate::common;

use std::time::Duration;

use common::{TestApp, change, eventually, spawn_app, spawn_app_with_sim};
use scriptsync::change::{Priority, ScriptChange, TargetKind};
use scriptsync_sim::fixtures::{self, SIM_DATATABLE};
use scriptsync_sim::{Applied, Faults, InjectedResponse, SimConfig, SimTarget};

/// Genesys quota of the saturated tests: 10 requests per 5 s window (9 after headroom).
const QUOTA: u32 = 10;
const WINDOW: Duration = Duration::from_secs(5);

fn saturated_sim() -> SimConfig {
    fixtures::genesys_quota(QUOTA, WINDOW)
}

/// A worker whose Genesys gate follows the saturated quota; changes may queue a long time.
async fn saturated_app(tenant: &str, max_concurrency: usize) -> TestApp {
    spawn_app_with_sim(&[tenant], saturated_sim(), |s| {
        let g = s.tenants[0].genesys.as_mut().unwrap();
        g.requests_per_minute = QUOTA;
        g.window = WINDOW;
        g.max_concurrency = max_concurrency;
        s.retry.max_elapsed = Duration::from_secs(120);
    })
    .await
}

fn only(mut c: ScriptChange, target: TargetKind) -> ScriptChange {
    c = c.to_builder().targets([target]).build().unwrap();
    c
}

/// Seq numbers (the simulator's answer order) of the 2xx answers of one target.
fn ok_seqs(app: &TestApp, tenant: &str, target: SimTarget) -> Vec<u64> {
    let state = app.sim_state().tenant(tenant);
    state
        .target(target)
        .recent
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .map(|r| r.seq)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_does_not_wait_for_a_saturated_genesys_quota() {
    const SCRIPTS: usize = 20;
    let app = saturated_app("apart", 4).await;
    // Two groups of ten, a few lingers apart: the second arrives while Genesys is still
    // working through the first, at its quota's pace.
    let mut pace = tokio::time::interval(Duration::from_millis(300));
    for i in 0..SCRIPTS {
        if i % 10 == 0 {
            pace.tick().await;
        }
        app.publish(&change("apart", &format!("s{i}"), 1)).await;
    }
    app.wait_settled("apart", SCRIPTS as u64).await;
    let genesys = ok_seqs(&app, "apart", SimTarget::Genesys);
    let servicenow = ok_seqs(&app, "apart", SimTarget::Servicenow);
    let state = app.sim_state().tenant("apart");
    assert_eq!(state.servicenow.held.len(), SCRIPTS);
    assert_eq!(state.genesys.held.len(), SCRIPTS);
    // The listing and 20 rows need three Genesys windows; ServiceNow had everything before
    // Genesys got past its first window's share.
    let first_window = genesys[(QUOTA as usize * 9 / 10) - 1];
    let sn_last = *servicenow.last().expect("ServiceNow answered");
    assert!(
        sn_last < first_window,
        "ServiceNow's last answer #{sn_last} came after Genesys's first window ended \
         (#{first_window}); Genesys answers {genesys:?}"
    );
    assert_eq!(app.sim_state().total_violations(), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_published_during_a_pause_cost_one_write_of_the_newest() {
    let app = spawn_app(&["late"], |_| {}).await;
    // The lane has listed its table; then v1's request is answered 429 (Retry-After 3 s),
    // which pauses the Genesys gate with v1 waiting to be sent again.
    app.publish(&only(change("late", "warm-up", 1), TargetKind::Genesys))
        .await;
    app.wait_settled("late", 1).await;
    let inject = vec![InjectedResponse::new(429).with_retry_after("3")];
    let faults = Faults {
        inject,
        ..Faults::default()
    };
    app.sim.set_faults(Some("late"), SimTarget::Genesys, faults);
    app.publish(&only(change("late", "s", 1), TargetKind::Genesys))
        .await;
    eventually("v1 was refused and the gate paused", || async {
        app.sim_state().tenant("late").genesys.answered(429) == 1
    })
    .await;
    for v in 2..=5 {
        app.publish(&only(change("late", "s", v), TargetKind::Genesys))
            .await;
    }
    app.wait_settled("late", 6).await;
    let state = app.sim_state().tenant("late").genesys;
    assert_eq!(state.held["s"].version, 5);
    assert_eq!(state.held["s"].writes, 1, "one write, of v5");
    assert_eq!(state.violations, 0);
    assert_eq!(app.status("late").superseded, 4);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_changes_overtake_normal_ones_behind_a_saturated_quota() {
    let app = saturated_app("prio", 1).await;
    let mut applied = app.sim.watch_applied();
    for i in 0..50 {
        let c = only(change("prio", &format!("n{i:02}"), 1), TargetKind::Genesys);
        app.publish(&c).await;
    }
    // Wait until the quota is the limit: the first window's share is spent.
    eventually("the first window is used up", || async {
        app.sim_state().tenant("prio").genesys.held.len() >= 5
    })
    .await;
    let mut before: Vec<Applied> = Vec::new();
    while let Ok(event) = applied.try_recv() {
        before.push(event);
    }
    for i in 0..5 {
        let mut c = only(change("prio", &format!("c{i}"), 1), TargetKind::Genesys);
        c = c
            .to_builder()
            .priority(Priority::Compliance)
            .build()
            .unwrap();
        app.publish(&c).await;
    }
    app.wait_settled("prio", 55).await;
    let mut after = Vec::new();
    while let Ok(event) = applied.try_recv() {
        if event.target == SimTarget::Genesys {
            after.push(event.script_id);
        }
    }
    let last_compliance = after
        .iter()
        .rposition(|s| s.starts_with('c'))
        .expect("compliance writes");
    let normal_first: Vec<&String> = after[..last_compliance]
        .iter()
        .filter(|s| s.starts_with('n'))
        .collect();
    // At most the one request already on its way (max_concurrency 1) when they arrived.
    assert!(
        normal_first.len() <= 1,
        "normal changes written before the compliance ones: {normal_first:?} (order {after:?})"
    );
    assert_eq!(after.len() + before.len(), 55, "one write per change");
    assert_eq!(app.sim_state().total_violations(), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_new_scripts_costs_one_genesys_request_each() {
    const SCRIPTS: usize = 40;
    let app = spawn_app(&["rows"], |_| {}).await;
    for i in 0..SCRIPTS {
        app.publish(&change("rows", &format!("s{i}"), 1)).await;
    }
    app.wait_settled("rows", SCRIPTS as u64).await;
    let g = app.sim_state().tenant("rows").genesys;
    assert_eq!(g.held.len(), SCRIPTS);
    let listing = format!("GET /api/v2/flows/datatables/{SIM_DATATABLE}/rows");
    let listings = g.paths.get(&listing).copied().unwrap_or(0);
    assert_eq!(listings, 1, "one page lists the empty table: {:?}", g.paths);
    let limits = "GET /api/v2/organizations/limits/namespaces/platform.api";
    assert_eq!(g.paths.get(limits), Some(&1), "the org's limits, once");
    assert_eq!(
        g.total_requests(),
        SCRIPTS as u64 + listings + 1,
        "{:?}",
        g.paths
    );
    assert_eq!(g.answered(404), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_attempts_counts_the_failures_of_a_change_across_its_requests() {
    const MAX_ATTEMPTS: usize = 3;
    const REQUESTS: u64 = 5;
    let app = spawn_app(&["budget"], |s| {
        s.retry.max_attempts = MAX_ATTEMPTS;
        s.retry.initial = Duration::from_millis(50);
        let g = s.tenants[0].genesys.as_mut().unwrap();
        g.publish_scripts = true;
    })
    .await;
    // The row exists and the lane knows it: v2 starts with a PUT.
    app.publish(&only(change("budget", "s", 1), TargetKind::Genesys))
        .await;
    app.wait_settled("budget", 1).await;
    let before = app.sim_state().tenant("budget").genesys.total_requests();
    // PUT 503 → PUT 404 → POST 503 → POST (200) → publish 503: five requests, three
    // transient failures on three kinds of request (the 404 is the fallback to POST, not a
    // failure), and no sixth.
    let inject = [503, 404, 503, 200, 503]
        .into_iter()
        .map(InjectedResponse::new)
        .collect();
    let faults = Faults {
        inject,
        ..Faults::default()
    };
    app.sim
        .set_faults(Some("budget"), SimTarget::Genesys, faults);
    let mut c = only(change("budget", "s", 2), TargetKind::Genesys);
    c = c
        .to_builder()
        .genesys_version_id("3f2504e0-4f89-41d3-9a0c-0305e82c3301")
        .build()
        .unwrap();
    app.publish(&c).await;
    app.wait_dlq(1).await;
    let dead = app.drain_dlq().await;
    assert_eq!(dead.len(), 1);
    let d = &dead[0];
    assert_eq!(
        d.header("x-scriptsync-reason").as_deref(),
        Some("exhausted")
    );
    assert_eq!(
        d.header("x-scriptsync-attempts").as_deref(),
        Some(REQUESTS.to_string().as_str()),
        "the header counts the requests made"
    );
    let error = d.header("x-scriptsync-error").unwrap_or_default();
    assert!(error.contains("gave up after 3 failed requests"), "{error}");
    assert_eq!(d.header("x-scriptsync-status").as_deref(), Some("503"));
    // The last failed request's ININ-Correlation-Id (the simulator sends a UUID), and the
    // first failure (the first PUT) strictly before the dead-lettering (after four more).
    let cid = d.header("x-scriptsync-genesys-correlation-id");
    assert!(
        cid.as_deref()
            .is_some_and(|c| uuid::Uuid::parse_str(c).is_ok()),
        "{cid:?}"
    );
    assert_eq!(d.header("x-scriptsync-servicenow-transaction-id"), None);
    let at = |h: &str| {
        let text = d.header(h).unwrap_or_default();
        time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("{h} = {text:?}: {e}"))
    };
    assert!(at("x-scriptsync-first-failed-at") < at("x-scriptsync-dead-lettered-at"));
    let g = app.sim_state().tenant("budget").genesys;
    assert_eq!(g.total_requests() - before, REQUESTS);
    let kinds: Vec<&String> = g.paths.keys().collect();
    for kind in [
        "PUT ",
        "POST /api/v2/flows",
        "POST /api/v2/scripts/published",
    ] {
        assert!(
            kinds.iter().any(|k| k.starts_with(kind)),
            "{kind}: {kinds:?}"
        );
    }
    app.stop().await;
}
