//! GenesysTarget's requests: a new row costs one POST, an existing one a PUT (and a publish
//! when the change names a version id); what it knows of the table goes stale and it falls
//! back; replays and a restarted worker never write an older version; a refused record fails
//! that item alone.

use std::collections::BTreeSet;
use std::sync::Arc;

use scriptsync::targets::FailureReason;
use scriptsync_sim::{Faults, InjectedResponse, SimTarget, fixtures};

use super::lane::{Outcome, assert_all_delivered, drive};
use super::{bounded, change, changes, context, genesys, sim};

#[tokio::test]
async fn genesys_creates_new_rows_with_one_request_then_updates_and_publishes() {
    bounded(async {
        let sim = sim().await;
        let ctx = context(10);
        let target = genesys(&sim, "g1", &ctx);
        // The lane lists the (empty) table first, so new rows cost one POST each.
        assert_all_delivered(
            &drive(target.clone(), &ctx, changes("g1", 3, 1), false).await,
            3,
        );
        let state = sim.state().tenant("g1").genesys;
        assert_eq!(
            state.answered(404),
            0,
            "no PUT before the POST: {:?}",
            state.paths
        );
        let posts = "POST /api/v2/flows/datatables/dt-1/rows";
        assert_eq!(state.paths.get(posts), Some(&3));
        // Existing rows: PUT only; a version id makes it publish too.
        let mut second = changes("g1", 3, 2);
        let mut with_publish = (*second[0]).clone();
        with_publish = with_publish
            .to_builder()
            .genesys_version_id("0b5e0f2a-8d7c-4f4e-9a1b-2c3d4e5f6a7b")
            .build()
            .unwrap();
        second[0] = Arc::new(with_publish);
        assert_all_delivered(&drive(target, &ctx, second, false).await, 3);

        let state = sim.state().tenant("g1").genesys;
        assert_eq!(state.held.len(), 3);
        assert!(
            state
                .held
                .values()
                .all(|h| h.version == 2 && h.disclaimer.as_deref() == Some("Calls are recorded"))
        );
        assert_eq!(state.answered(404), 0);
        assert_eq!(state.paths.get(posts), Some(&3), "updates are PUTs");
        assert_eq!(state.published.len(), 1);
        assert_eq!(state.published[0].script_id, "s0");
        assert_eq!(state.violations, 0);
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn genesys_stale_knowledge_falls_back_to_post_and_to_put() {
    bounded(async {
        let sim = sim().await;
        let ctx = context(10);
        // Learns an empty table, then another writer creates "s1" behind its back.
        let target = genesys(&sim, "g5", &ctx);
        assert_all_delivered(
            &drive(target.clone(), &ctx, changes("g5", 1, 1), false).await,
            1,
        );
        let other = genesys(&sim, "g5", &ctx);
        assert_all_delivered(
            &drive(other.clone(), &ctx, vec![change("g5", "s1", 1)], false).await,
            1,
        );
        // The next lane's listing is refused, so `target` keeps what it knew and believes
        // s1 is new: POST → 409 → PUT.
        let refused = InjectedResponse::new(400);
        let faults = Faults {
            inject: vec![refused],
            ..Faults::default()
        };
        sim.set_faults(Some("g5"), SimTarget::Genesys, faults);
        let out = drive(target, &ctx, vec![change("g5", "s1", 2)], false).await;
        assert_eq!(out["s1"], Outcome::Delivered(2));
        let state = sim.state().tenant("g5").genesys;
        assert_eq!((state.answered(400), state.answered(409)), (1, 1));
        assert_eq!(state.held["s1"].version, 2);
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn genesys_replays_skip_older_versions() {
    bounded(async {
        let sim = sim().await;
        let ctx = context(10);
        let target = genesys(&sim, "g2", &ctx);
        let script = "s/with space";
        let first = vec![change("g2", script, 5)];
        assert_all_delivered(&drive(target.clone(), &ctx, first, false).await, 1);
        let out = drive(target.clone(), &ctx, vec![change("g2", script, 3)], true).await;
        assert_eq!(out[script], Outcome::AlreadyHeld(5));
        let out = drive(target, &ctx, vec![change("g2", script, 6)], true).await;
        assert_eq!(out[script], Outcome::Delivered(6));
        let held = sim.state().tenant("g2").genesys.held;
        assert_eq!(held[script].version, 6, "{held:?}");
        assert_eq!(held[script].writes, 2, "v3 was never written");
        sim.shutdown();
    })
    .await;
}

/// A restarted worker (a new target, knowing nothing) lists the rows with their versions: a
/// change older than its row, arriving as a new message (not a redelivery), is held already
/// and never written, without a request of its own; a newer one is written with one PUT.
#[tokio::test]
async fn genesys_after_a_restart_never_writes_an_older_new_message() {
    bounded(async {
        let sim = sim().await;
        let ctx = context(10);
        let script = "s-restart";
        let before = genesys(&sim, "g6", &ctx);
        assert_all_delivered(
            &drive(before, &ctx, vec![change("g6", script, 5)], false).await,
            1,
        );
        let after = genesys(&sim, "g6", &ctx);
        let out = drive(after.clone(), &ctx, vec![change("g6", script, 3)], false).await;
        assert_eq!(out[script], Outcome::AlreadyHeld(5));
        let out = drive(after, &ctx, vec![change("g6", script, 5)], false).await;
        assert_eq!(out[script], Outcome::AlreadyHeld(5), "equal: superseded");
        let state = sim.state().tenant("g6").genesys;
        assert_eq!(state.held[script].version, 5, "{:?}", state.held);
        assert_eq!((state.writes, state.older_writes), (1, 0));
        let row = format!(
            "/api/v2/flows/datatables/{}/rows/{script}",
            fixtures::SIM_DATATABLE
        );
        assert!(
            !state.paths.keys().any(|p| p.ends_with(&row)),
            "no row read or write after the restart: {:?}",
            state.paths
        );
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn genesys_record_error_is_permanent_for_that_item_only() {
    bounded(async {
        let sim = sim().await;
        let faults = Faults {
            record_errors: BTreeSet::from(["s1".to_string()]),
            ..Faults::default()
        };
        sim.set_faults(Some("g3"), SimTarget::Genesys, faults);
        let ctx = context(10);
        let out = drive(genesys(&sim, "g3", &ctx), &ctx, changes("g3", 3, 1), false).await;
        let Outcome::Failed(f) = &out["s1"] else {
            panic!("{:?}", out["s1"])
        };
        assert_eq!((f.reason, f.status), (FailureReason::Permanent, Some(400)));
        assert!(
            f.error.len() <= 1024 && !f.error.contains("g-secret"),
            "{}",
            f.error
        );
        assert_eq!(out["s0"], Outcome::Delivered(1));
        assert_eq!(out["s2"], Outcome::Delivered(1));
        sim.shutdown();
    })
    .await;
}
