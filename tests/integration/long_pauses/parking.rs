//! A gate closed past the hold limit: the changes go to the (tenant, target) wait queue, come
//! back when the gate reopens and are delivered, newest last; nothing is lost.

use super::*;

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
