//! The worker against the services as they really behave (DESIGN §5, §12), one test per
//! behaviour the simulator reproduces: the org's limits, a quota shared with another
//! integration, a configured quota far above the real one, the older 429 wording, a daily
//! limit, a full data table, a duplicate row answered 400, and retiring scripts (also from the
//! DLQ). Real RabbitMQ, the whole worker; assertions on what the simulator saw and what sits in
//! the queues, never on time.

use crate::common;

use std::time::Duration;

use common::{TestApp, change, eventually, spawn_app, spawn_app_with_sim};
use scriptsync::broker::Publisher;
use scriptsync::change::{ScriptChange, TargetKind};
use scriptsync::dlq::replay::{ReplayOptions, replay};
use scriptsync::dlq::{Filter, Reason};
use scriptsync_sim::fixtures::{self, SIM_DATATABLE, SIM_SECRET};
use scriptsync_sim::{Faults, InjectedResponse, SimConfig, SimTarget};

/// A Genesys-only change.
fn genesys_only(tenant: &str, script: &str, version: u64) -> ScriptChange {
    change(tenant, script, version)
        .to_builder()
        .targets([TargetKind::Genesys])
        .build()
        .unwrap()
}

/// A retire of `script` at `version`.
fn retire(tenant: &str, script: &str, version: u64) -> ScriptChange {
    let id = format!("{tenant}-{script}-retire-{version}");
    ScriptChange::retire_builder(id, tenant, script, version)
        .published_at("2026-12-04T09:00:00Z")
        .build()
        .unwrap()
}

/// A worker told `told` Genesys requests per `window`.
async fn quota_app(tenant: &str, sim: SimConfig, (told, window): (u32, Duration)) -> TestApp {
    spawn_app_with_sim(&[tenant], sim, |s| {
        let g = s.tenants[0].genesys.as_mut().unwrap();
        g.requests_per_minute = told;
        g.window = window;
        s.retry.max_elapsed = Duration::from_secs(120);
    })
    .await
}

/// The tenant's Genesys gate ceiling now, requests per minute.
fn genesys_ceiling(app: &TestApp, tenant: &str) -> f64 {
    let gate = app.status(tenant).target(TargetKind::Genesys);
    gate.gate_ceiling.expect("the gate has a ceiling")
}

/// Publishes `n` new Genesys-only scripts and waits until all are settled.
async fn publish_scripts(app: &TestApp, tenant: &str, n: usize) {
    for i in 0..n {
        app.publish(&genesys_only(tenant, &format!("s{i}"), 1))
            .await;
    }
    app.wait_settled(tenant, n as u64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orgs_limits_cap_a_quota_configured_too_high() {
    const T: &str = "org-limits";
    let window = Duration::from_secs(2);
    // The org gives 20 per window; the worker is told 60.
    let app = quota_app(T, fixtures::genesys_quota(20, window), (60, window)).await;
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
    let app = quota_app(T, fixtures::genesys_quota(20, window), (60, window)).await;
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
    let app = quota_app(T, fixtures::genesys_quota(20, window), (20, window)).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_limit_is_waited_out_never_dead_lettered() {
    const T: &str = "daily";
    // A "day" of 8 s allowing 4 requests (the limits read and the listing among them).
    let sim = SimConfig {
        genesys_daily_limit: Some(4),
        genesys_day: Duration::from_secs(8),
        ..SimConfig::default()
    };
    let app = spawn_app_with_sim(&[T], sim, |s| {
        s.retry.max_elapsed = Duration::from_secs(2);
    })
    .await;
    for i in 0..5 {
        app.publish(&genesys_only(T, &format!("s{i}"), 1)).await;
    }
    app.wait_settled(T, 5).await;
    let g = app.sim_state().tenant(T).genesys;
    assert_eq!(g.held.len(), 5, "all delivered, after the day ended");
    assert!(g.answered(429) >= 1);
    assert_eq!(g.violations, 0);
    assert_eq!(
        app.depth(&app.names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_data_table_dead_letters_new_scripts_as_datatable_full() {
    const T: &str = "full";
    let sim = SimConfig {
        genesys_max_rows_per_table: 3,
        ..SimConfig::default()
    };
    let app = spawn_app_with_sim(&[T], sim, |s| {
        s.tenants[0].genesys.as_mut().unwrap().max_rows = 3;
    })
    .await;
    for i in 0..5 {
        app.publish(&change(T, &format!("s{i}"), 1)).await;
    }
    app.wait_settled(T, 5).await;
    app.wait_dlq(2).await;
    let dead = app.drain_dlq().await;
    assert_eq!(dead.len(), 2);
    for d in &dead {
        assert_eq!(
            d.header("x-scriptsync-reason").as_deref(),
            Some("datatable_full")
        );
        assert_eq!(d.header("x-scriptsync-targets").as_deref(), Some("genesys"));
    }
    let state = app.sim_state().tenant(T);
    assert_eq!(state.genesys.held.len(), 3);
    assert_eq!(
        state.servicenow.held.len(),
        5,
        "ServiceNow took all of them"
    );
    assert_eq!(app.status(T).datatable_rows, Some(3));
    // Rows that exist still take their changes.
    let kept = state.genesys.held.keys().next().unwrap().clone();
    app.publish(&change(T, &kept, 2)).await;
    app.wait_settled(T, 6).await;
    assert_eq!(app.sim_state().tenant(T).genesys.held[&kept].version, 2);
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    app.stop().await;
}

/// An access token of `client` for the simulator's Genesys side.
async fn genesys_token(app: &TestApp, client: &str) -> String {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/oauth/token", app.sim.base_url()))
        .basic_auth(client, Some(SIM_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_row_answered_400_is_taken_as_exists_and_updated() {
    const T: &str = "dup-400";
    let sim = SimConfig {
        genesys_duplicate_row_status: 400,
        ..SimConfig::default()
    };
    let app = spawn_app_with_sim(&[T], sim, |_| {}).await;
    // The lane lists the (empty) table with its first change.
    app.publish(&genesys_only(T, "first", 1)).await;
    app.wait_settled(T, 1).await;
    // Another writer creates "s" behind the worker's back.
    let token = genesys_token(&app, T).await;
    let url = format!(
        "{}/api/v2/flows/datatables/{SIM_DATATABLE}/rows",
        app.sim.base_url()
    );
    let created = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token)
        .json(&serde_json::json!({"key": "s", "version": 1, "versionHash": "other"}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    // The worker believes "s" is new: POST → 400 (exists, by its code) → PUT.
    app.publish(&genesys_only(T, "s", 2)).await;
    app.wait_settled(T, 2).await;
    let g = app.sim_state().tenant(T).genesys;
    assert_eq!(g.answered(400), 1);
    assert_eq!(g.held["s"].version, 2);
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retiring_deletes_the_row_marks_the_record_and_newest_wins_across_both() {
    const T: &str = "retire";
    let app = spawn_app(&[T], |_| {}).await;
    app.publish(&change(T, "s", 1)).await;
    app.publish(&change(T, "t", 1)).await;
    app.wait_settled(T, 2).await;
    app.publish(&retire(T, "s", 2)).await;
    // A retire older than what the row holds does nothing.
    app.publish(&change(T, "t", 5)).await;
    app.wait_settled(T, 4).await;
    app.publish(&retire(T, "t", 4)).await;
    app.wait_settled(T, 5).await;
    let state = app.sim_state().tenant(T);
    assert!(!state.genesys.held.contains_key("s"), "the row is deleted");
    assert_eq!(state.genesys.deletes, 1);
    let s = &state.servicenow.held["s"];
    assert_eq!((s.version, s.retired), (2, true));
    assert_eq!(
        state.genesys.held["t"].version, 5,
        "the older retire did nothing"
    );
    assert!(!state.servicenow.held["t"].retired);
    // An older change after the retire is superseded; a newer one creates the row again.
    app.publish(&change(T, "s", 1)).await;
    app.publish(&change(T, "s", 3)).await;
    app.wait_settled(T, 7).await;
    let state = app.sim_state().tenant(T);
    assert_eq!(state.genesys.held["s"].version, 3);
    let s = &state.servicenow.held["s"];
    assert_eq!((s.version, s.retired), (3, false));
    assert_eq!(
        state.genesys.older_writes + state.servicenow.older_writes,
        0
    );
    assert!(app.status(T).target(TargetKind::Genesys).retired >= 1);
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_retire_replays_as_a_retire() {
    const T: &str = "retire-dlq";
    let app = spawn_app(&[T], |_| {}).await;
    app.publish(&genesys_only(T, "s", 1)).await;
    app.wait_settled(T, 1).await;
    // The DELETE is refused once (a permanent 403): the retire is dead-lettered.
    let faults = Faults {
        inject: vec![InjectedResponse::new(403)],
        ..Faults::default()
    };
    app.sim.set_faults(Some(T), SimTarget::Genesys, faults);
    let r = retire(T, "s", 2)
        .to_builder()
        .targets([TargetKind::Genesys])
        .build()
        .unwrap();
    app.publish(&r).await;
    app.wait_dlq(1).await;
    assert!(app.sim_state().tenant(T).genesys.held.contains_key("s"));
    let publisher = Publisher::open(&app.conn, Duration::from_secs(10))
        .await
        .unwrap();
    let opts = ReplayOptions {
        filter: Filter {
            tenant: Some(T.into()),
            reason: Some(Reason::Permanent),
            ..Default::default()
        },
        ..Default::default()
    };
    let report = replay(&app.conn, &app.names, &publisher, &opts)
        .await
        .unwrap();
    assert_eq!(report.moved, 1);
    eventually("the replayed retire deleted the row", || async {
        !app.sim_state().tenant(T).genesys.held.contains_key("s")
    })
    .await;
    app.wait_settled(T, 3).await;
    assert_eq!(app.sim_state().tenant(T).genesys.deletes, 1);
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    app.stop().await;
}
