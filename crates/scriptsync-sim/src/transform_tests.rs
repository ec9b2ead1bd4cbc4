//! Unit tests of [`super`]: the transform's statuses, accounting and watch events for
//! upserts and retires, on an in-memory world.

use super::*;

fn record(tenant: &str, version: &str) -> Value {
    json!({"u_tenant": tenant, "u_script_id": "s1", "u_version": version,
           "u_version_hash": "h", "u_change_id": "c", "u_disclaimer": ""})
}

fn run(world: &mut World, skip: bool, version: &str) -> &'static str {
    apply(world, skip, "p", &record("t", version), &BTreeSet::new()).status
}

#[test]
fn statuses_follow_the_transform_script() {
    let mut w = World::default();
    assert_eq!(run(&mut w, true, "2"), "inserted");
    assert_eq!(run(&mut w, true, "3"), "updated");
    assert_eq!(run(&mut w, true, "3"), "ignored");
    assert_eq!(run(&mut w, true, "1"), "skipped");
    assert_eq!(run(&mut w, true, "0"), "error");
    assert_eq!(run(&mut w, true, "x"), "error");
    let state = &w.tenants["t"].servicenow;
    assert_eq!((state.writes, state.older_writes), (2, 1));
    assert_eq!(state.held["s1"].version, 3);
    assert_eq!(state.held["s1"].disclaimer, None);
    assert!(state.tokens_seen.contains("p"));
    assert!(
        !w.tenants.contains_key("p"),
        "records are filed under u_tenant"
    );
}

#[test]
fn without_skip_older_a_lower_version_overwrites() {
    let mut w = World::default();
    run(&mut w, false, "5");
    assert_eq!(run(&mut w, false, "4"), "updated");
    assert_eq!(w.tenants["t"].servicenow.held["s1"].version, 4);
    assert_eq!(w.tenants["t"].servicenow.older_writes, 1);
}

#[test]
fn flagged_records_fail_and_results_render() {
    let mut w = World::default();
    let errors = BTreeSet::from(["s1".to_string()]);
    let outcome = apply(&mut w, true, "p", &record("t", "1"), &errors);
    let json = outcome.to_json("http://x");
    assert_eq!(json["status"], "error");
    assert_eq!(json["error_message"], "simulated transform error");
    assert!(w.tenants["t"].servicenow.held.is_empty());
}

fn op(world: &mut World, operation: Value, version: &str) -> Outcome {
    let mut r = record("t", version);
    r["u_operation"] = operation;
    r["u_version_hash"] = json!("");
    r["u_change_id"] = json!(format!("c{version}"));
    apply(world, true, "p", &r, &BTreeSet::new())
}

#[test]
fn retires_mark_the_record_and_newer_upserts_revive_it() {
    let mut w = World::default();
    let mut events = {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        w.watchers.push(tx);
        rx
    };
    assert_eq!(run(&mut w, true, "2"), "inserted");
    assert_eq!(op(&mut w, json!("retire"), "3").status, "updated");
    let held = &w.tenants["t"].servicenow.held["s1"];
    assert!(held.retired);
    assert_eq!(
        (held.version, held.version_hash.as_str()),
        (3, "h"),
        "kept the hash"
    );
    assert_eq!(held.change_id, "c3");
    assert_eq!(op(&mut w, json!("retire"), "3").status, "ignored");
    let older = op(&mut w, json!("retire"), "1");
    assert_eq!(
        (older.status, older.message.as_deref()),
        ("skipped", Some("older version 1 than held 3"))
    );
    assert_eq!(
        run(&mut w, true, "2"),
        "skipped",
        "no resurrection by an older upsert"
    );
    assert_eq!(op(&mut w, json!("upsert"), "4").status, "updated");
    let state = &w.tenants["t"].servicenow;
    assert!(!state.held["s1"].retired);
    assert_eq!((state.writes, state.deletes, state.older_writes), (2, 1, 2));
    assert_eq!(state.held["s1"].writes, 3);
    let seen: Vec<(u64, bool)> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|e| (e.version, e.deleted))
        .collect();
    assert_eq!(seen, [(2, false), (3, true), (4, false)]);
}

#[test]
fn a_first_retire_inserts_a_tombstone_and_bad_operations_fail() {
    let mut w = World::default();
    assert_eq!(op(&mut w, json!("retire"), "5").status, "inserted");
    assert!(w.tenants["t"].servicenow.held["s1"].retired);
    assert_eq!(run(&mut w, true, "4"), "skipped");
    let bad = op(&mut w, json!("purge"), "6");
    assert_eq!(bad.status, "error");
    let message = bad.message.unwrap();
    assert!(
        message.contains("u_operation") && message.contains("purge"),
        "{message}"
    );
    assert_eq!(w.tenants["t"].servicenow.held["s1"].version, 5);
}
