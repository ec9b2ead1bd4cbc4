//! ServiceNow's batches: a 429 on the batch call retries the whole batch after
//! `Retry-After`; items answered 429 or not serviced are retried alone.

use super::*;

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
