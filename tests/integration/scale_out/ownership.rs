//! Which replica owns which tenant, as replicas come and go: the tenants spread evenly over
//! three replicas, a killed replica's tenants move to the others (one handover each, never
//! back and forth), a joining replica takes its share, and a rolling restart (SIGTERM each
//! replica in turn) loses nothing and writes nothing older over newer.

use std::collections::{BTreeMap, BTreeSet};

use crate::common;
use common::process::signal;

use super::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_spread_over_replicas_and_a_killed_replica_hands_over() {
    let cluster = Cluster::new().await;
    let mut workers = cluster.started(&["r0", "r1", "r2"]).await;

    // Spread: each tenant ends on one replica, every replica serves 3–5 of the 12. A replica
    // that started later than the others' settle time (a loaded machine) takes its tenants
    // over during round 1: one handover, never back and forth.
    let runs = cluster.runs();
    let mut load: BTreeMap<String, usize> = BTreeMap::new();
    for (tenant, r) in &runs {
        let distinct: BTreeSet<&String> = r.iter().collect();
        assert!(
            !r.is_empty() && distinct.len() == r.len(),
            "{tenant}: one replica at a time, never back and forth: {r:?}"
        );
        *load.entry(r[r.len() - 1].clone()).or_default() += 1;
    }
    assert_eq!(load.len(), 3, "every replica owns tenants: {load:?}");
    assert!(load.values().all(|n| (3..=5).contains(n)), "{load:?}");

    // Kill the replica that owns the most; its tenants continue on the others.
    let (victim, _) = load.iter().max_by_key(|(_, n)| **n).unwrap();
    let victim = victim.clone();
    let killed = workers.remove(victim.as_str()).unwrap();
    signal(&killed.0, "KILL");
    let killed_at = std::time::Instant::now();
    drop(killed);
    cluster.publish_round(2).await;
    cluster.delivered(2).await;
    let failover = killed_at.elapsed();
    let after = cluster.runs();
    println!(
        "tenants per replica: {load:?}; killed {victim}; round 2 all delivered {failover:?} \
         after the kill; runs: {after:?}"
    );
    for (tenant, r) in &after {
        let last = r.last().unwrap();
        assert_ne!(last, &victim, "{tenant} still on the killed replica: {r:?}");
        // Since the kill: one handover at most (the victim's tenants), nothing else moved.
        let before = &runs[tenant];
        assert!(
            r.starts_with(before) && r.len() <= before.len() + 1,
            "{tenant}: {before:?} before the kill, {r:?} after"
        );
    }
    assert_eq!(cluster.violations_and_older_writes(), (0, 0));
    drop(workers);
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_replica_takes_its_share_and_a_rolling_restart_loses_nothing() {
    let cluster = Cluster::new().await;
    let mut workers = cluster.started(&["r0", "r1", "r2"]).await;

    // A fourth replica joins: its share moves to it, each tenant once, never back.
    workers.insert("r3".into(), cluster.spawn("r3"));
    let joined = std::time::Instant::now();
    // Rounds of changes until the newcomer has served its share (bounded: 60 rounds).
    let mut version = 1;
    let on_r3 = |runs: &BTreeMap<String, Vec<String>>| {
        runs.values()
            .filter(|r| r.last().is_some_and(|l| l == "r3"))
            .count()
    };
    for _ in 0..60 {
        version += 1;
        cluster.publish_round(version).await;
        cluster.delivered(version).await;
        if on_r3(&cluster.runs()) >= 2 {
            break;
        }
    }
    assert!(
        (2..=6).contains(&on_r3(&cluster.runs())),
        "{:?}",
        cluster.runs()
    );
    let rebalance = joined.elapsed();
    for (tenant, r) in cluster.runs() {
        let distinct: BTreeSet<&String> = r.iter().collect();
        assert_eq!(
            distinct.len(),
            r.len(),
            "{tenant}: interleaved replicas {r:?}"
        );
    }
    println!("r3 served its share {rebalance:?} after it started");

    // Rolling restart: SIGTERM each replica in turn, start it again, publish a round.
    for id in ["r0", "r1", "r2", "r3"] {
        let mut old = workers.remove(id).unwrap();
        signal(&old.0, "TERM");
        let status = common::process::wait_exit(&mut old.0).await;
        assert!(
            status.success(),
            "{id} exits cleanly on SIGTERM: {status}; the end of its log:\n{}",
            cluster.log_tail(id)
        );
        workers.insert(id.to_string(), cluster.spawn(id));
        version += 1;
        cluster.publish_round(version).await;
        cluster.delivered(version).await;
    }
    assert_eq!(cluster.violations_and_older_writes(), (0, 0));
    drop(workers);
    cluster.finish().await;
}
