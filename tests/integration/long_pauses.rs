//! A pause the server asks for is not a failure (DESIGN §6), end to end: real RabbitMQ, the
//! whole worker, the simulator.
//!
//! - A ServiceNow rate-limit rule (5 requests per scaled "hour" of 30 s) already used up when
//!   the changes arrive, with a retry budget of 5 s: every change waits out the server's
//!   `Retry-After`, none is dead-lettered, nothing is sent before the server's time, Genesys
//!   delivers meanwhile.
//! - A gate closed past the hold limit (half of `broker.consumer_timeout`): the changes go to
//!   the (tenant, target) wait queue, come back when the gate reopens, and are delivered,
//!   newest last; their deliveries were acked long before, nothing is lost.
//!
//! Waits poll with a deadline; times are printed (`cargo test --test integration
//! long_pauses:: -- --nocapture`), never asserted.

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{TestApp, change, spawn_app, spawn_app_with_sim, within};
use scriptsync::change::TargetKind;
use scriptsync_sim::fixtures::SIM_SECRET;
use scriptsync_sim::{Faults, InjectedResponse, SimConfig, SimTarget};

/// Uses up `tenant`'s ServiceNow rule of `limit` calls for the current window with empty Batch
/// API calls made as the tenant's own principal (without being refused: a refusal would tell
/// the simulator that this principal was asked to wait, which the worker never heard);
/// returns the seconds until the window ends (`X-RateLimit-Reset`).
async fn use_up_servicenow_rule(app: &TestApp, tenant: &str, limit: u32) -> u64 {
    let http = reqwest::Client::new();
    let url = format!("{}/api/now/v1/batch", app.sim.base_url());
    let mut reset = 0;
    for _ in 0..limit {
        let answer = http
            .post(&url)
            .basic_auth(tenant, Some(SIM_SECRET))
            .header("content-type", "application/json")
            .body(r#"{"batch_request_id":"use-up","rest_requests":[]}"#)
            .send()
            .await
            .expect("the simulator answers");
        assert_eq!(answer.status(), 200, "inside the rule");
        let header = answer
            .headers()
            .get("x-ratelimit-reset")
            .expect("X-RateLimit-Reset");
        reset = header
            .to_str()
            .unwrap()
            .parse::<u64>()
            .expect("UNIX seconds");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    reset.saturating_sub(now)
}

/// The newest version published per script.
fn newest(published: &[(String, u64)]) -> BTreeMap<String, u64> {
    let mut newest = BTreeMap::new();
    for (script, version) in published {
        let v = newest.entry(script.clone()).or_insert(0);
        *v = (*v).max(*version);
    }
    newest
}

/// True when `target` of `tenant` holds exactly `newest`.
fn holds(app: &TestApp, tenant: &str, target: SimTarget, newest: &BTreeMap<String, u64>) -> bool {
    let state = app.sim_state().tenant(tenant);
    let held = match target {
        SimTarget::Genesys => state.genesys.held,
        SimTarget::Servicenow => state.servicenow.held,
    };
    newest
        .iter()
        .all(|(s, v)| held.get(s).is_some_and(|h| h.version == *v))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hourly_style_servicenow_rule_is_waited_out_never_dead_lettered() {
    const TENANT: &str = "hour-rule";
    // The rule: 5 calls per "hour" of 30 s (the simulator's hour scaled by 120).
    let sim = SimConfig {
        servicenow_requests_per_hour: Some(5),
        servicenow_time_factor: 120.0,
        ..SimConfig::default()
    };
    let app = spawn_app_with_sim(&[TENANT], sim, |s| {
        // A budget far shorter than the server's wait: waiting is not failing.
        s.retry.max_elapsed = Duration::from_secs(5);
        let sn = s.tenants[0].servicenow.as_mut().unwrap();
        sn.window = Duration::from_secs(30);
    })
    .await;
    let retry_after = use_up_servicenow_rule(&app, TENANT, 5).await;
    let started = Instant::now();
    let mut published = Vec::new();
    for round in 1..=3 {
        for i in 0..20 {
            let script = format!("s{i}");
            app.publish(&change(TENANT, &script, round)).await;
            published.push((script, round));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let newest = newest(&published);
    within(
        "Genesys holds every newest version",
        Duration::from_secs(20),
        || async { holds(&app, TENANT, SimTarget::Genesys, &newest) },
    )
    .await;
    let genesys_done = started.elapsed();
    let sn = app.sim_state().tenant(TENANT).servicenow;
    assert!(
        sn.held.is_empty() || genesys_done.as_secs() >= retry_after,
        "ServiceNow got records inside a used-up window: {:?}",
        sn.held
    );
    within(
        "every change settled after the ServiceNow window",
        Duration::from_secs(retry_after + 40),
        || async { app.settled(TENANT) >= published.len() as u64 },
    )
    .await;
    let took = started.elapsed();
    assert!(holds(&app, TENANT, SimTarget::Servicenow, &newest));
    let sn = app.sim_state().tenant(TENANT).servicenow;
    assert_eq!(sn.violations, 0, "nothing sent before the server's time");
    assert!(
        sn.answered(429) >= 1,
        "the rule refused the worker: {:?}",
        sn.requests
    );
    assert_eq!(sn.older_writes, 0);
    assert_eq!(
        app.depth(&app.names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
    let status = app.status(TENANT);
    assert_eq!(status.dead_lettered_total(), 0);
    eprintln!(
        "hour rule (5 per 30 s, used up, Retry-After {retry_after} s, retry.max_elapsed 5 s): \
         Genesys held every newest version {genesys_done:?} after publishing, ServiceNow after \
         {took:?}; {} ServiceNow calls answered 429, 0 violations, 0 dead-lettered",
        sn.answered(429)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_closed_past_the_hold_limit_parks_changes_and_loses_nothing() {
    const TENANT: &str = "parking";
    const PAUSE: u64 = 12;
    let app = spawn_app(&[TENANT], |s| {
        // Hold limit 2 s: a 12 s pause is far past it.
        s.broker.consumer_timeout = Duration::from_secs(4);
    })
    .await;
    let inject = InjectedResponse::new(429).with_retry_after(PAUSE.to_string());
    let faults = Faults {
        inject: vec![inject],
        ..Faults::default()
    };
    app.sim
        .set_faults(Some(TENANT), SimTarget::Servicenow, faults);
    let started = Instant::now();
    let mut published = Vec::new();
    for version in 1..=3 {
        for i in 0..5 {
            let script = format!("s{i}");
            app.publish(&change(TENANT, &script, version)).await;
            published.push((script, version));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let newest = newest(&published);
    // Every delivery is acked while ServiceNow's gate is still closed: Genesys took its part,
    // the wait queue took ServiceNow's.
    within(
        "every delivery settled during the pause",
        Duration::from_secs(PAUSE),
        || async { app.settled(TENANT) >= published.len() as u64 },
    )
    .await;
    let acked_after = started.elapsed();
    assert!(holds(&app, TENANT, SimTarget::Genesys, &newest));
    let parked = app.status(TENANT).target(TargetKind::Servicenow).parked;
    assert!(parked >= 1, "changes went to the wait queue");
    // The copies come back when the gate reopens and are delivered, newest last.
    within(
        "ServiceNow holds every newest version",
        Duration::from_secs(PAUSE + 30),
        || async { holds(&app, TENANT, SimTarget::Servicenow, &newest) },
    )
    .await;
    let delivered_after = started.elapsed();
    let wait_queue = app.names.wait_queue(TENANT, TargetKind::Servicenow);
    within(
        "the wait queue is empty",
        Duration::from_secs(20),
        || async { app.depth(&wait_queue).await == 0 },
    )
    .await;
    within("every copy settled", Duration::from_secs(20), || async {
        app.status(TENANT).inflight == 0
    })
    .await;
    let sn = app.sim_state().tenant(TENANT).servicenow;
    assert_eq!(sn.violations, 0);
    assert_eq!(
        sn.older_writes, 0,
        "never an older version over a newer one"
    );
    assert_eq!(
        app.depth(&app.names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
    assert_eq!(app.depth(&app.names.tenant_queue(TENANT)).await, 0);
    eprintln!(
        "parking (pause {PAUSE} s, hold limit 2 s): {} deliveries acked {acked_after:?} after \
         the first publish with {parked} changes parked; ServiceNow held every newest version \
         after {delivered_after:?}; {} ServiceNow writes",
        published.len(),
        sn.writes
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_item_answered_429_pauses_the_gate_until_the_rules_window_ends() {
    const TENANT: &str = "item-429";
    // A rule of 100 calls per 30 s window: the answers carry X-RateLimit-Reset.
    let sim = SimConfig {
        servicenow_requests_per_hour: Some(100),
        servicenow_time_factor: 120.0,
        ..SimConfig::default()
    };
    let app = spawn_app_with_sim(&[TENANT], sim, |s| {
        s.batch.linger = Duration::from_millis(300);
        s.tenants[0].servicenow.as_mut().unwrap().window = Duration::from_secs(30);
    })
    .await;
    // Start well inside a window, so that its end is many seconds away.
    let mut reset_in = use_up_servicenow_rule(&app, TENANT, 1).await;
    if reset_in < 15 {
        tokio::time::sleep(Duration::from_secs(reset_in + 1)).await;
        reset_in = use_up_servicenow_rule(&app, TENANT, 1).await;
    }
    let faults = Faults {
        item_rate_limited: BTreeMap::from([("s1".to_string(), 1)]),
        ..Faults::default()
    };
    app.sim
        .set_faults(Some(TENANT), SimTarget::Servicenow, faults);
    let started = Instant::now();
    for i in 0..3 {
        let c = change(TENANT, &format!("s{i}"), 1)
            .to_builder()
            .targets([TargetKind::Servicenow])
            .build()
            .unwrap();
        app.publish(&c).await;
    }
    within(
        "s0 and s2 delivered, s1 held back",
        Duration::from_secs(10),
        || async {
            let held = app.sim_state().tenant(TENANT).servicenow.held;
            held.contains_key("s0") && held.contains_key("s2")
        },
    )
    .await;
    // The item's 429 closed the gate until the rule's window ends (X-RateLimit-Reset of the
    // call), not for a short back-off: a pause of many seconds, and s1 only after it.
    let paused = app
        .status(TENANT)
        .target(TargetKind::Servicenow)
        .paused_seconds;
    assert!(
        paused >= 8.0,
        "paused {paused} s for a window ending in {reset_in} s"
    );
    within(
        "s1 delivered after the window",
        Duration::from_secs(reset_in + 30),
        || async { app.settled(TENANT) >= 3 },
    )
    .await;
    let sn = app.sim_state().tenant(TENANT).servicenow;
    assert_eq!(sn.held["s1"].version, 1);
    assert_eq!(sn.violations, 0);
    assert_eq!(sn.sub_requests, 4, "s1 was sent twice, the others once");
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    eprintln!(
        "item 429: the gate paused {paused:.0} s (window ending in {reset_in} s); s1 delivered \
         {:?} after publishing",
        started.elapsed()
    );
    app.stop().await;
}
