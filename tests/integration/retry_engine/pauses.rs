//! A 429 pauses every change of its tenant while another tenant flows, and a sustained
//! overload uses the quota without 429s.

use super::*;

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
