//! A handover keeps the limits the target set for the tenant: the new owner together with
//! the old one never exceeds the Genesys quota window, and a pause (a 429's `Retry-After`)
//! the old owner was waiting out is waited out by the new one too.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common;
use common::process::signal;
use common::{KillOnDrop, eventually};

use super::{Cluster, Quota, REAL_QUOTA};

/// The handover happens while the tenants use their whole quota: the new owner's gate starts
/// with an empty bucket, so the old and the new owner together never exceed a quota window
/// (the simulator answers 429 to a request over it) and never send into a pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handover_at_full_quota_exceeds_no_window() {
    let tenants: Vec<String> = (0..4).map(|i| format!("busy-{i}")).collect();
    let quota = Quota {
        requests: 20,
        window: Duration::from_secs(2),
    };
    let cluster = Cluster::with(tenants, quota, 50).await;
    let mut workers: BTreeMap<&str, KillOnDrop> = ["q0", "q1"]
        .iter()
        .map(|id| (*id, cluster.spawn(id)))
        .collect();
    // Not `started`: this round is the one in flight when a replica dies.
    cluster.publish_round(1).await;
    // Kill a replica once every tenant is under way (about a fifth delivered).
    eventually("every tenant under way", || {
        let ok = cluster.tenants.iter().all(|t| cluster.held(t, 1) >= 10);
        async move { ok }
    })
    .await;
    let runs = cluster.runs();
    let victim = runs
        .values()
        .filter_map(|r| r.last())
        .next()
        .unwrap()
        .clone();
    let killed = workers.remove(victim.as_str()).unwrap();
    signal(&killed.0, "KILL");
    drop(killed);
    cluster.delivered(1).await;
    let moved = cluster.runs().values().filter(|r| r.len() == 2).count();
    assert!(moved >= 1, "a tenant changed hands: {:?}", cluster.runs());
    assert_eq!(cluster.over_quota(), 0, "no quota window exceeded");
    assert_eq!(cluster.violations_and_older_writes(), (0, 0));
    drop(workers);
    cluster.finish().await;
}

/// A pause (a 429's `Retry-After`) on the old owner is honoured by the new one: the killed
/// replica's heartbeat carried it, and the replica that takes the tenant over waits it out
/// (the simulator counts a request sent inside the pause as a violation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_outlives_its_replica() {
    use futures::StreamExt;

    let tenants: Vec<String> = (0..4).map(|i| format!("calm-{i}")).collect();
    let cluster = Cluster::with(tenants, REAL_QUOTA, 2).await;
    let mut workers = cluster.started(&["p0", "p1"]).await;
    let runs = cluster.runs();
    let (tenant, owner) = runs
        .iter()
        .map(|(t, r)| (t.clone(), r[r.len() - 1].clone()))
        .next()
        .unwrap();

    // Listen to the replicas' heartbeats, as a replica would.
    let (conn, _publisher) = cluster.connect().await;
    let channel = conn.create_channel().await.unwrap();
    let mut beats = scriptsync::cluster::membership::listen(&channel, &cluster.names.replicas())
        .await
        .unwrap();

    // The owner's next request is answered 429 with a 6 s Retry-After: its gate pauses.
    let pause = scriptsync_sim::Faults {
        inject: vec![scriptsync_sim::InjectedResponse::new(429).with_retry_after("6")],
        ..Default::default()
    };
    cluster
        .sim
        .set_faults(Some(&tenant), scriptsync_sim::SimTarget::Genesys, pause);
    cluster.publish_round(2).await;
    // Wait for a beat of the owner that reports the pause, then kill the owner.
    let reported = tokio::time::timeout(common::DEADLINE, async {
        while let Some(Ok(beat)) = beats.next().await {
            let beat: serde_json::Value = serde_json::from_slice(&beat.data).unwrap_or_default();
            let from_owner = beat["replica"] == owner.as_str();
            let pauses = beat["pauses"].as_array().cloned().unwrap_or_default();
            if from_owner && pauses.iter().any(|p| p["tenant"] == tenant.as_str()) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(reported, Ok(true), "the owner's beat reports the pause");
    let killed = workers.remove(&owner).unwrap();
    signal(&killed.0, "KILL");
    drop(killed);
    cluster.delivered(2).await;
    let after = cluster.runs();
    assert_ne!(after[&tenant].last(), Some(&owner), "{after:?}");
    assert_eq!(cluster.violations_and_older_writes(), (0, 0), "{after:?}");
    let _ = conn.close(200, "done".into()).await;
    drop(workers);
    cluster.finish().await;
}
