//! ServiceNow's rate-limit rule, waited out: a rule already used up when the changes arrive
//! (none dead-lettered, nothing sent before the server's time, Genesys delivering meanwhile),
//! and a batch item answered 429 pausing the gate until the rule's window ends.

use super::*;

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
