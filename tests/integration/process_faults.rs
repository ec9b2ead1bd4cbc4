//! The worker as a process: SIGTERM mid-flight drains and exits 0; SIGKILL mid-flight loses
//! nothing. Each ends with every change delivered at its newest version (or in the DLQ with
//! a reason), nothing lost and no older version written over a newer one.

use crate::common;

use std::time::Duration;

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
