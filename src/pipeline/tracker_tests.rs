//! Unit tests of the ack tracker: every row of the settlement rules, across lanes.

use super::*;
use crate::targets::FailureReason;
use TargetKind::{Genesys as G, Servicenow as S};

fn change(script: &str, version: u64) -> Arc<ScriptChange> {
    let v = serde_json::json!({
        "schema": "script-change/v1", "id": format!("{script}-{version}"), "tenant": "t",
        "script_id": script, "version": version, "version_hash": "h",
        "published_at": "2026-01-01T00:00:00Z",
    });
    Arc::new(serde_json::from_value(v).unwrap())
}

fn failure() -> PushFailure {
    PushFailure {
        reason: FailureReason::Permanent,
        status: Some(400),
        error: "bad".into(),
        attempts: 1,
        correlation_id: None,
        first_failed_at: None,
    }
}

fn settlements(settled: Vec<Settled<u64>>) -> Vec<(u64, Settlement)> {
    let mut v: Vec<_> = settled
        .into_iter()
        .map(|s| (s.token, s.settlement))
        .collect();
    v.sort_by_key(|(t, _)| *t);
    v
}

#[test]
fn acked_only_when_every_owed_target_holds_it() {
    let mut t = AckTracker::default();
    assert!(t.admit(5, change("s", 5), vec![G, S]).is_none());
    assert!(
        t.reached(G, "s", 5, true).is_empty(),
        "ServiceNow still owed"
    );
    assert_eq!(
        settlements(t.reached(S, "s", 5, true)),
        [(5, Settlement::Delivered)]
    );
    assert!(t.is_empty());
}

#[test]
fn a_newer_version_supersedes_the_older_deliveries() {
    let mut t = AckTracker::default();
    for v in [3, 4, 9] {
        t.admit(v, change("s", v), vec![G]);
    }
    let out = settlements(t.reached(G, "s", 9, true));
    assert_eq!(
        out,
        [
            (3, Settlement::Superseded),
            (4, Settlement::Superseded),
            (9, Settlement::Delivered)
        ]
    );
}

#[test]
fn a_version_found_at_the_target_is_superseded_not_delivered() {
    let mut t = AckTracker::default();
    t.admit(5, change("s", 5), vec![G]);
    assert_eq!(
        settlements(t.reached(G, "s", 5, false)),
        [(5, Settlement::Superseded)]
    );
}

#[test]
fn newer_deliveries_keep_waiting_and_other_scripts_are_untouched() {
    let mut t = AckTracker::default();
    t.admit(7, change("s", 7), vec![G]);
    t.admit(1, change("other", 1), vec![G]);
    assert!(t.reached(G, "s", 6, true).is_empty());
    assert_eq!(t.len(), 2);
}

#[test]
fn partial_failure_owes_only_the_failed_target() {
    let mut t = AckTracker::default();
    t.admit(5, change("s", 5), vec![G, S]);
    assert!(
        t.failed(S, "s", 5, &failure()).is_empty(),
        "Genesys still owed"
    );
    let out = settlements(t.reached(G, "s", 5, true));
    match &out[0].1 {
        Settlement::DeadLetter(f) => assert_eq!(f.iter().map(|(t, _)| *t).collect::<Vec<_>>(), [S]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_older_delivery_fails_with_the_newer_version_it_waited_for() {
    let mut t = AckTracker::default();
    t.admit(3, change("s", 3), vec![G]);
    t.admit(9, change("s", 9), vec![G]);
    let out = settlements(t.failed(G, "s", 9, &failure()));
    assert!(
        out.iter()
            .all(|(_, v)| matches!(v, Settlement::DeadLetter(_)))
    );
    assert_eq!(out.len(), 2);
}

#[test]
fn owing_nothing_settles_at_once_and_only_owed_targets_count() {
    let mut t = AckTracker::default();
    let settled = t.admit(1, change("s", 1), vec![]).expect("settled");
    assert_eq!(settled.settlement, Settlement::Superseded);
    t.admit(2, change("s", 2), vec![S]);
    assert!(
        t.failed(G, "s", 2, &failure()).is_empty(),
        "Genesys not owed"
    );
    assert_eq!(
        settlements(t.reached(S, "s", 2, true)),
        [(2, Settlement::Delivered)]
    );
}

#[test]
fn a_parked_version_settles_its_own_delivery_as_parked_and_older_ones_as_superseded() {
    let mut t = AckTracker::default();
    assert!(t.admit(3, change("s", 3), vec![G, S]).is_none());
    assert!(t.admit(5, change("s", 5), vec![G, S]).is_none());
    assert!(t.admit(6, change("s", 6), vec![S]).is_none());
    // Genesys delivered 5 (so 3 and 5 hold it there).
    assert!(t.reached(G, "s", 5, true).is_empty());
    assert_eq!(t.owing(S, "s", 5), Some(&5));
    assert_eq!(t.owing(G, "s", 5), None, "Genesys is satisfied");
    // ServiceNow's gate stays closed: 5 goes to its wait queue.
    assert_eq!(
        settlements(t.handed_off(S, "s", 5, true)),
        [(3, Settlement::Superseded), (5, Settlement::Delivered)]
    );
    // 6 is covered by nothing yet; a newer copy of it parked settles it as parked.
    assert_eq!(
        settlements(t.handed_off(S, "s", 6, true)),
        [(6, Settlement::Parked)]
    );
    assert!(t.is_empty());
    // A covering copy (not its own) settles as superseded.
    assert!(t.admit(7, change("s", 7), vec![S]).is_none());
    assert_eq!(
        settlements(t.handed_off(S, "s", 8, false)),
        [(7, Settlement::Superseded)]
    );
}
