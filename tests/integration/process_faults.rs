//! The worker as a process: SIGTERM mid-flight drains and exits 0; SIGKILL mid-flight loses
//! nothing. Each ends with every change delivered at its newest version (or in the DLQ with
//! a reason), nothing lost and no older version written over a newer one, which also holds
//! for an older version published late to a restarted worker.

use crate::common;

use std::time::Duration;

use common::eventually;
use common::process::{Harness, Options, signal, wait_exit};
use scriptsync_sim::{Faults, SimConfig, SimTarget};

const SCRIPTS: u64 = 30;
const VERSIONS: u64 = 8;

/// A harness whose Genesys is slow, so a signal lands while pushes are in flight.
async fn slow_harness() -> Harness {
    let sim_config = SimConfig {
        genesys_requests_per_minute: 100_000,
        ..SimConfig::default()
    };
    let h = Harness::new("proc", sim_config, Options::default()).await;
    let slow = Faults {
        latency: Duration::from_millis(150),
        ..Faults::default()
    };
    h.sim.set_faults(Some("proc"), SimTarget::Genesys, slow);
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_flight_drains_exits_zero_and_a_restart_delivers_the_rest() {
    let h = slow_harness().await;
    let mut worker = h.spawn_mid_flight(SCRIPTS, VERSIONS).await;
    signal(&worker.0, "TERM");
    let status = wait_exit(&mut worker.0).await;
    assert!(status.success(), "exit after SIGTERM: {status:?}");
    let left = h.depth(&h.names.tenant_queue("proc")).await;
    println!(
        "after SIGTERM: {} Genesys writes, {left} messages back in the queue",
        h.genesys_writes()
    );
    let worker = h.spawn_worker();
    h.finish(worker, SCRIPTS, VERSIONS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_flight_loses_nothing() {
    let h = slow_harness().await;
    let mut worker = h.spawn_mid_flight(SCRIPTS, VERSIONS).await;
    signal(&worker.0, "KILL");
    let _ = wait_exit(&mut worker.0).await;
    println!("after SIGKILL: {} Genesys writes", h.genesys_writes());
    let worker = h.spawn_worker();
    h.finish(worker, SCRIPTS, VERSIONS).await;
}

/// A restarted worker remembers nothing it delivered, and a late publisher's older version
/// arrives as a new message (not a redelivery): the Genesys lane's listing, which carries
/// each row's version, still keeps it from overwriting the newer row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_a_late_older_version_never_overwrites_the_row() {
    let h = Harness::new("late", SimConfig::default(), Options::default()).await;
    let mut worker = h.spawn_worker();
    h.publish_all(3, 5).await;
    eventually("every script at version 5", || async { h.all_newest(3, 5) }).await;
    signal(&worker.0, "TERM");
    assert!(wait_exit(&mut worker.0).await.success());
    let writes = h.genesys_writes();

    let mut worker = h.spawn_worker();
    h.publish_one("s0", 2).await;
    // Published after the old version: once it is held, the old one was taken.
    h.publish_one("s1", 6).await;
    let genesys_holds = |script: &str| {
        let state = h.sim.state();
        state
            .tenant("late")
            .genesys
            .held
            .get(script)
            .map(|r| r.version)
    };
    eventually("s1's version 6 at Genesys", || async {
        genesys_holds("s1") == Some(6)
    })
    .await;
    // A clean stop drains: what is still unacked goes back to the queue.
    signal(&worker.0, "TERM");
    assert!(wait_exit(&mut worker.0).await.success());
    assert_eq!(h.depth(&h.names.tenant_queue("late")).await, 0, "all acked");
    assert_eq!(genesys_holds("s0"), Some(5), "the newer row stays");
    assert_eq!(
        h.genesys_writes(),
        writes + 1,
        "only s1's version 6 was written"
    );
    assert_eq!(h.sim.state().tenant("late").genesys.older_writes, 0);
    assert_eq!(
        h.depth(&h.names.dlq()).await,
        0,
        "superseded, not dead-lettered"
    );
    h.clean().await;
}
