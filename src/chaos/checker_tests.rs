//! The checker proven able to fail: a clean history holds every guarantee, and each planted
//! violation (a lost change, an older-over-newer write, a request into a pause, a foreign
//! credential, too many duplicates, a slow change outside a fault, memory that grows) is
//! reported by its own guarantee, with the events that show it.

use super::*;
use TargetKind::{Genesys as G, Servicenow as S};

fn published(at_ms: u64, tenant: &str, script: &str, version: u64) -> Event {
    Event::Published {
        at_ms,
        tenant: tenant.into(),
        script: script.into(),
        version,
        targets: vec![G, S],
        retire: false,
    }
}

fn applied(at_ms: u64, tenant: &str, target: TargetKind, script: &str, version: u64) -> Event {
    Event::Applied {
        at_ms,
        tenant: tenant.into(),
        target,
        script: script.into(),
        version,
        deleted: false,
    }
}

fn rss(at_ms: u64, mib: u64) -> Event {
    Event::Rss {
        at_ms,
        worker: "w1".into(),
        bytes: mib << 20,
    }
}

/// Two tenants, three versions of one script each, every one at both targets within a
/// second; no pause entered, own credentials, memory flat over 90 s.
fn clean() -> Vec<Event> {
    let mut h = vec![Event::Began {
        seed: 7,
        duration_ms: 90_000,
        in_quota: vec!["t1".into(), "t2".into()],
    }];
    for tenant in ["t1", "t2"] {
        for v in 1..=3 {
            let at = v * 10_000;
            h.push(published(at, tenant, "s1", v));
            h.push(applied(at + 400, tenant, G, "s1", v));
            h.push(applied(at + 600, tenant, S, "s1", v));
        }
        for target in [G, S] {
            h.push(Event::IntoPause {
                at_ms: 80_000,
                tenant: tenant.into(),
                target,
                count: 0,
            });
            h.push(Event::Credential {
                at_ms: 80_000,
                tenant: tenant.into(),
                target,
                principal: tenant.into(),
            });
        }
    }
    h.extend((0..9).map(|i| rss(i * 10_000 + 5_000, 30 + i % 2)));
    h.sort_by_key(Event::at_ms);
    h
}

fn verdict(history: &[Event], guarantee: &str) -> Verdict {
    check(history, &Limits::default())
        .into_iter()
        .find(|v| v.guarantee == guarantee)
        .unwrap()
}

/// Only `guarantee` fails, and its evidence is not empty.
fn only_fails(history: &[Event], guarantee: &str) -> Verdict {
    let verdicts = check(history, &Limits::default());
    let failed: Vec<&str> = verdicts
        .iter()
        .filter(|v| !v.held)
        .map(|v| v.guarantee)
        .collect();
    assert_eq!(failed, [guarantee], "{verdicts:#?}");
    let v = verdicts.into_iter().find(|v| !v.held).unwrap();
    assert!(!v.evidence.is_empty(), "{guarantee}: no evidence");
    v
}

#[test]
fn a_clean_history_holds_every_guarantee() {
    for v in check(&clean(), &Limits::default()) {
        assert!(v.held, "{v:#?}");
        assert!(v.evidence.is_empty(), "{v:#?}");
    }
}

#[test]
fn a_lost_change_is_reported_with_its_scripts_events() {
    let mut h = clean();
    // t2's v3 never reaches ServiceNow.
    h.retain(|e| *e != applied(30_600, "t2", S, "s1", 3));
    let v = only_fails(&h, "nothing lost");
    assert!(
        v.figure.contains("1 lost (first: t2 s1 at servicenow)"),
        "{}",
        v.figure
    );
    assert!(v.evidence.iter().all(|e| e.script() == Some(("t2", "s1"))));
    assert!(v.evidence.contains(&published(30_000, "t2", "s1", 3)));
}

#[test]
fn a_dead_letter_excuses_only_with_a_permanent_reason() {
    let mut h = clean();
    h.retain(|e| *e != applied(30_600, "t2", S, "s1", 3));
    let dead = |permanent| Event::DeadLettered {
        at_ms: 85_000,
        tenant: "t2".into(),
        script: "s1".into(),
        version: 3,
        targets: vec![S],
        reason: if permanent { "permanent" } else { "exhausted" }.into(),
        permanent,
    };
    let mut excused = h.clone();
    excused.push(dead(true));
    assert!(verdict(&excused, "nothing lost").held);
    h.push(dead(false));
    only_fails(&h, "nothing lost");
}

#[test]
fn an_older_version_written_over_a_newer_one_is_reported_with_both_writes() {
    let mut h = clean();
    h.push(applied(31_000, "t1", G, "s1", 2));
    h.sort_by_key(Event::at_ms);
    // The target ends at v2 while v3 is owed: lost too. The write itself is its own finding.
    let v = verdict(&h, "never older over newer");
    assert!(!v.held);
    assert_eq!(
        v.figure,
        "1 of 13 writes older than one applied before them (first: t1 s1)"
    );
    assert_eq!(
        v.evidence,
        [
            applied(30_400, "t1", G, "s1", 3),
            applied(31_000, "t1", G, "s1", 2)
        ]
    );
}

#[test]
fn a_request_into_a_pause_is_reported_with_the_faults_around_it() {
    let mut h = clean();
    let fault = Event::Fault {
        at_ms: 40_000,
        until_ms: 46_000,
        kind: "429 storm".into(),
        detail: "t1 genesys".into(),
    };
    let into = Event::IntoPause {
        at_ms: 45_000,
        tenant: "t1".into(),
        target: G,
        count: 1,
    };
    h.extend([fault.clone(), into.clone()]);
    h.sort_by_key(Event::at_ms);
    let v = only_fails(&h, "0 requests into a pause");
    assert_eq!(v.evidence, [fault, into]);
}

#[test]
fn a_record_written_with_another_tenants_credentials_is_reported() {
    let mut h = clean();
    let foreign = Event::Credential {
        at_ms: 85_000,
        tenant: "t1".into(),
        target: S,
        principal: "t2".into(),
    };
    h.push(foreign.clone());
    let v = only_fails(&h, "no cross-tenant credential");
    assert_eq!(v.evidence, [foreign]);
}

#[test]
fn duplicates_are_counted_and_too_many_fail() {
    let mut h = clean();
    h.push(applied(30_700, "t1", S, "s1", 3));
    let v = verdict(&h, "duplicates bounded");
    assert!(
        v.figure.starts_with("1 of 13 writes held already"),
        "{}",
        v.figure
    );
    assert!(!v.held, "1 of 13 is above 5 %");
    let bound = Limits {
        duplicate_share: 0.1,
        ..Limits::default()
    };
    let v = check(&h, &bound)
        .into_iter()
        .find(|v| v.guarantee == "duplicates bounded");
    assert!(v.unwrap().held, "below 10 %");
}

#[test]
fn a_slow_change_fails_latency_outside_a_fault_window_only() {
    let mut h = clean();
    h.retain(|e| *e != applied(20_600, "t1", S, "s1", 2));
    h.push(applied(28_000, "t1", S, "s1", 2));
    h.sort_by_key(Event::at_ms);
    let v = only_fails(&h, "latency");
    assert!(
        v.figure.starts_with("p99 time-to-newest 8.00 s over 12"),
        "{}",
        v.figure
    );
    // The same during a broker restart (and its grace) is not a latency sample.
    h.push(Event::Fault {
        at_ms: 19_000,
        until_ms: 22_000,
        kind: "broker restart".into(),
        detail: "rabbit@localhost".into(),
    });
    h.sort_by_key(Event::at_ms);
    let v = verdict(&h, "latency");
    assert!(v.held, "{v:#?}");
    // Both tenants' v2 (published at 20 s) are left out: a fault window covers every tenant.
    assert!(v.figure.contains("over 8 in-quota changes"), "{}", v.figure);
}

#[test]
fn a_retire_overtaken_by_a_newer_version_is_no_latency_sample() {
    // t1 retires s1 at 40 s (v4) where Genesys holds nothing to delete in time; v5 follows at
    // 50 s, and a later retire (v6, 600 s) deletes the row: that deletion is not v4's.
    let mut h = clean();
    h.push(Event::Published {
        at_ms: 40_000,
        tenant: "t1".into(),
        script: "s1".into(),
        version: 4,
        targets: vec![G],
        retire: true,
    });
    h.push(Event::Published {
        at_ms: 50_000,
        tenant: "t1".into(),
        script: "s1".into(),
        version: 5,
        targets: vec![G],
        retire: false,
    });
    h.push(applied(50_100, "t1", G, "s1", 5));
    h.push(Event::Published {
        at_ms: 60_000,
        tenant: "t1".into(),
        script: "s1".into(),
        version: 6,
        targets: vec![G],
        retire: true,
    });
    h.push(Event::Applied {
        at_ms: 60_200,
        tenant: "t1".into(),
        target: G,
        script: "s1".into(),
        version: 5,
        deleted: true,
    });
    h.sort_by_key(Event::at_ms);
    let v = verdict(&h, "latency");
    assert!(v.held, "{v:#?}");
    // v5 and v6 are samples (0.1 s, 0.2 s); v4 is not.
    assert!(
        v.figure.contains("over 14 in-quota changes"),
        "{}",
        v.figure
    );
}

#[test]
fn memory_that_grows_fails_and_a_worker_never_sampled_proves_nothing() {
    let mut h = clean();
    h.push(rss(85_000, 50));
    let v = only_fails(&h, "memory flat");
    assert!(
        v.figure.contains("worst w1: last 30 s peak 1.61 ×"),
        "{}",
        v.figure
    );
    let mut bare = clean();
    bare.retain(|e| !matches!(e, Event::Rss { .. }));
    let v = verdict(&bare, "memory flat");
    assert!(!v.held);
    assert_eq!(v.figure, "no worker sampled in both windows");
}

#[test]
fn a_retired_script_is_gone_and_its_genesys_deletion_is_no_older_write() {
    let mut h = clean();
    h.push(Event::Published {
        at_ms: 40_000,
        tenant: "t1".into(),
        script: "s1".into(),
        version: 4,
        targets: vec![G, S],
        retire: true,
    });
    // Genesys deletes the row (which held v3); ServiceNow marks the record retired at v4.
    for (target, version) in [(G, 3), (S, 4)] {
        h.push(Event::Applied {
            at_ms: 40_500,
            tenant: "t1".into(),
            target,
            script: "s1".into(),
            version,
            deleted: true,
        });
    }
    h.sort_by_key(Event::at_ms);
    for v in check(&h, &Limits::default()) {
        assert!(v.held, "{v:#?}");
    }
}
