//! What a replay sends, and what it leaves: a dry run moves nothing and says what it would
//! replay; a letter owed to one target only is pushed to that target alone; a replayed
//! version older than the one the targets hold is acked as superseded, never written.

use crate::common::{change, run_cli, spawn_app};
use scriptsync::change::TargetKind;
use scriptsync::dlq::replay::{ReplayOptions, replay};
use scriptsync::dlq::{Filter, Reason};
use scriptsync_sim::{Faults, SimTarget};

use super::{record_errors, tenant, tool_publisher};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing() {
    let app = spawn_app(&["dry"], |_| {}).await;
    app.sim.set_faults(
        Some("dry"),
        SimTarget::Servicenow,
        record_errors(&["d1", "d2", "d3"]),
    );
    for s in ["d1", "d2", "d3"] {
        app.publish(&change("dry", s, 1)).await;
    }
    app.wait_dlq(3).await;
    app.wait_settled("dry", 3).await;
    app.put_dead_letter(
        b"{not json",
        &[("x-scriptsync-reason", "invalid".into())],
        "raw-1",
    )
    .await;
    app.sim
        .set_faults(Some("dry"), SimTarget::Servicenow, Faults::default());
    let before = app.peek_dlq().await;
    let requests_before = app.sim_state().tenant("dry").servicenow.total_requests();
    let publisher = tool_publisher(&app).await;
    let opts = ReplayOptions {
        filter: tenant("dry"),
        dry_run: true,
        ..Default::default()
    };
    let report = replay(&app.conn, &app.names, &publisher, &opts)
        .await
        .unwrap();
    assert_eq!(report.moved, 0);
    assert_eq!(report.would_move.len(), 3);
    assert_eq!(report.depth, 4);
    app.wait_depth(&app.names.dlq(), 4).await;
    let config = app.write_config();
    let (code, out, err) = run_cli(&[
        "dlq",
        "--config",
        config.to_str().unwrap(),
        "replay",
        "--dry-run",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("dry run: 4 would be replayed; nothing moved"),
        "{out}"
    );
    app.wait_depth(&app.names.dlq(), 4).await;
    assert_eq!(app.peek_dlq().await, before, "DLQ contents identical");
    assert_eq!(app.depth(&app.names.tenant_queue("dry")).await, 0);
    assert_eq!(app.settled("dry"), 3, "the worker got nothing");
    assert_eq!(
        app.sim_state().tenant("dry").servicenow.total_requests(),
        requests_before
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_success_replay_pushes_only_to_the_owed_target() {
    let app = spawn_app(&["part"], |_| {}).await;
    app.sim
        .set_faults(Some("part"), SimTarget::Servicenow, record_errors(&["p"]));
    app.publish(&change("part", "p", 1)).await;
    app.wait_dlq(1).await;
    app.wait_settled("part", 1).await;
    let before = app.sim_state().tenant("part");
    assert_eq!(before.genesys.held["p"].writes, 1, "Genesys took it");
    app.sim
        .set_faults(Some("part"), SimTarget::Servicenow, Faults::default());
    let publisher = tool_publisher(&app).await;
    let opts = ReplayOptions {
        filter: Filter {
            target: Some(TargetKind::Servicenow),
            reason: Some(Reason::Permanent),
            ..tenant("part")
        },
        ..Default::default()
    };
    let report = replay(&app.conn, &app.names, &publisher, &opts)
        .await
        .unwrap();
    assert_eq!((report.moved, report.kept), (1, 0));
    app.wait_settled("part", 2).await;
    let after = app.sim_state().tenant("part");
    assert_eq!(
        after.servicenow.held["p"].version, 1,
        "delivered to ServiceNow"
    );
    assert_eq!(after.genesys.held["p"].writes, 1, "no second Genesys write");
    assert_eq!(
        after.genesys.total_requests(),
        before.genesys.total_requests(),
        "no Genesys request at all for the replay"
    );
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_replay_leaves_the_newer_version_in_place() {
    let app = spawn_app(&["stale"], |_| {}).await;
    app.sim
        .set_faults(Some("stale"), SimTarget::Genesys, record_errors(&["s"]));
    app.publish(&change("stale", "s", 3)).await;
    app.wait_dlq(1).await;
    app.wait_settled("stale", 1).await;
    app.sim
        .set_faults(Some("stale"), SimTarget::Genesys, Faults::default());
    app.publish(&change("stale", "s", 5)).await;
    app.wait_settled("stale", 2).await;
    let before = app.sim_state().tenant("stale");
    assert_eq!(before.genesys.held["s"].version, 5);
    let publisher = tool_publisher(&app).await;
    let opts = ReplayOptions {
        filter: tenant("stale"),
        ..Default::default()
    };
    let report = replay(&app.conn, &app.names, &publisher, &opts)
        .await
        .unwrap();
    assert_eq!(report.moved, 1);
    app.wait_settled("stale", 3).await;
    let after = app.sim_state().tenant("stale");
    assert_eq!(after.genesys.held["s"].version, 5, "Genesys keeps v5");
    assert_eq!(
        after.genesys.held["s"].writes,
        before.genesys.held["s"].writes
    );
    assert_eq!(after.servicenow.held["s"].version, 5, "ServiceNow keeps v5");
    assert_eq!(
        app.status("stale").superseded,
        1,
        "the replay was acked as superseded"
    );
    assert_eq!(
        app.depth(&app.names.dlq()).await,
        0,
        "not dead-lettered again"
    );
    app.stop().await;
}
