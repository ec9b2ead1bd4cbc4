//! What a lane sends, and in what order: versions offered while one is on its way (or
//! failing) wait and only the newest goes, compliance first, up to the target's capacity a
//! request, a closed gate past the hold limit parks, and a lane whose offers close drains.

use super::*;

#[tokio::test(start_paused = true)]
async fn versions_offered_while_one_is_on_its_way_wait_and_only_the_newest_goes() {
    let slow = Scripted::Slow(Duration::from_secs(5), Box::new(Scripted::Deliver));
    let lane = answering(G, vec![slow]);
    lane.offer("s", 1, Priority::Normal);
    lane.until("v1 is on its way", |_, q| q.len() == 1).await;
    lane.offer("s", 2, Priority::Normal);
    lane.offer("s", 3, Priority::Normal);
    lane.until("v3 is delivered", |r, _| reached(r, "s", 3))
        .await;
    assert_eq!(lane.sent(), [vec![s("s", 1)], vec![s("s", 3)]]);
    assert!(reached(&lane.reports.lock(), "s", 1));
}

#[tokio::test(start_paused = true)]
async fn a_newer_version_supersedes_a_failing_one_and_its_retries_end() {
    let failing = Scripted::Slow(Duration::from_secs(2), Box::new(Scripted::status(503)));
    let lane = answering(G, vec![failing]);
    lane.offer("s", 1, Priority::Normal);
    lane.until("v1 is on its way", |_, q| q.len() == 1).await;
    lane.offer("s", 2, Priority::Normal);
    lane.until("v2 is delivered", |r, _| reached(r, "s", 2))
        .await;
    assert_eq!(
        lane.sent(),
        [vec![s("s", 1)], vec![s("s", 2)]],
        "v1 never again"
    );
    assert!(failed(&lane.reports.lock()).is_none());
}

#[tokio::test(start_paused = true)]
async fn compliance_goes_first_when_the_gate_admits_a_request() {
    let slow = Scripted::Slow(Duration::from_secs(1), Box::new(Scripted::Deliver));
    let lane = answering(G, vec![slow]);
    lane.offer("a", 1, Priority::Normal);
    lane.until("a is on its way", |_, q| q.len() == 1).await;
    lane.offer("b", 1, Priority::Normal);
    lane.offer("c", 1, Priority::Normal);
    lane.offer("d", 1, Priority::Compliance);
    lane.until("all delivered", |r, _| {
        ["b", "c", "d"].iter().all(|x| reached(r, x, 1))
    })
    .await;
    let order: Vec<String> = lane.sent().into_iter().map(|r| r[0].0.clone()).collect();
    assert_eq!(order, ["a", "d", "b", "c"]);
}

#[tokio::test(start_paused = true)]
async fn a_request_carries_up_to_the_targets_capacity_of_ready_scripts() {
    let target = ScriptedTarget::new(S, 3, Vec::new());
    let lane = start(target, RetrySettings::default(), Duration::from_secs(3_600));
    for script in ["a", "b", "c", "d"] {
        lane.offer(script, 1, Priority::Normal);
    }
    lane.until("all delivered", |r, _| r.len() == 4).await;
    let sizes: Vec<usize> = lane.sent().iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 1]);
}

#[tokio::test(start_paused = true)]
async fn a_change_that_would_wait_past_the_hold_limit_for_a_closed_gate_is_parked() {
    let target = ScriptedTarget::new(G, 1, Vec::new());
    let lane = start(target, RetrySettings::default(), Duration::from_secs(30));
    lane.target
        .gate()
        .pause_until(Instant::now() + Duration::from_secs(3_600));
    lane.offer("s", 1, Priority::Normal);
    lane.until("parked", |r, _| !r.is_empty()).await;
    let report = lane.reports.lock()[0].clone();
    let Report::Parked {
        script,
        version,
        wait,
    } = report
    else {
        panic!("{report:?}");
    };
    assert_eq!((script.as_str(), version), ("s", 1));
    assert!(
        wait >= Duration::from_secs(3_500),
        "comes back when the gate reopens: {wait:?}"
    );
    assert!(lane.requests().is_empty(), "nothing sent into the pause");
}

#[tokio::test(start_paused = true)]
async fn a_lane_whose_offers_close_drains_what_it_owes_and_ends() {
    let slow = Scripted::Slow(Duration::from_secs(3), Box::new(Scripted::Deliver));
    let lane = answering(G, vec![slow]);
    lane.offer("s", 1, Priority::Normal);
    lane.offer("t", 1, Priority::Normal);
    let Harness {
        offers,
        reports,
        lane: task,
        ..
    } = lane;
    drop(offers);
    task.await.unwrap();
    let reports = reports.lock();
    assert!(
        reached(&reports, "s", 1) && reached(&reports, "t", 1),
        "{reports:?}"
    );
}
