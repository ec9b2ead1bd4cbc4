//! Retiring scripts: the row deleted and the record marked, newest wins across upserts and
//! retires at both targets, and a dead-lettered retire replays as a retire.

use super::*;

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
