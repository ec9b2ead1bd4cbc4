//! The broker goes away under a worker with pushes in flight: first every connection is
//! closed from the broker's side, then the broker app is stopped (kept down for two failed
//! reconnects) and started again. Each time `/readyz` turns false and back to true, the
//! worker logs its reconnects, and every change ends delivered at its newest version.

use std::time::Duration;

use crate::common;
use common::eventually;
use common::process::{Harness, Options, readyz};
use scriptsync_sim::{Faults, SimConfig, SimTarget};

use super::{SERIAL, rabbitmqctl, reconnect_attempts};

const SCRIPTS: u64 = 30;
const VERSIONS: u64 = 8;

/// Starts the broker app again when dropped (also on panic), and waits for it.
struct BrokerAppGuard;

impl Drop for BrokerAppGuard {
    fn drop(&mut self) {
        rabbitmqctl(&["start_app"]);
        rabbitmqctl(&["await_startup", "--timeout", "120"]);
    }
}

async fn slow_harness(tenant: &str) -> Harness {
    let sim_config = SimConfig {
        genesys_requests_per_minute: 100_000,
        ..SimConfig::default()
    };
    let h = Harness::new(tenant, sim_config, Options::default()).await;
    let slow = Faults {
        latency: Duration::from_millis(100),
        ..Faults::default()
    };
    h.sim.set_faults(Some(tenant), SimTarget::Genesys, slow);
    h
}

/// Polls `/readyz` every 10 ms until it has answered "not ready" (or not at all) at least
/// once and then 200 again. Returns how many polls were not ready.
async fn wait_not_ready_then_ready(admin: &str) -> u32 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut not_ready = 0;
    loop {
        match readyz(admin).await {
            Some(200) if not_ready > 0 => return not_ready,
            Some(200) => {}
            _ => not_ready += 1,
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "readyz never went false and back to true ({not_ready} not-ready polls)"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_closed_by_the_broker_mid_run() {
    if !common::broker_node_tests_allowed("connections_closed_by_the_broker_mid_run") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let h = slow_harness("brk-close").await;
    let worker = h.spawn_mid_flight(SCRIPTS, VERSIONS).await;
    let admin = h.admin_addr().await;
    eventually("worker ready", || async {
        readyz(&admin).await == Some(200)
    })
    .await;

    assert!(rabbitmqctl(&[
        "close_all_connections",
        "scriptsync broker fault test"
    ]));
    let not_ready = wait_not_ready_then_ready(&admin).await;
    println!(
        "close_all_connections: readyz not ready for {not_ready} polls, {} reconnect(s) logged, {} Genesys writes so far",
        reconnect_attempts(&h),
        h.genesys_writes()
    );
    assert!(reconnect_attempts(&h) >= 1);
    h.finish(worker, SCRIPTS, VERSIONS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_app_stopped_and_started_mid_run() {
    if !common::broker_node_tests_allowed("broker_app_stopped_and_started_mid_run") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let h = slow_harness("brk-restart").await;
    let worker = h.spawn_mid_flight(SCRIPTS, VERSIONS).await;
    let admin = h.admin_addr().await;
    eventually("worker ready", || async {
        readyz(&admin).await == Some(200)
    })
    .await;

    let guard = BrokerAppGuard;
    assert!(rabbitmqctl(&["stop_app"]));
    eventually("readyz false while the broker is down", || async {
        readyz(&admin).await != Some(200)
    })
    .await;
    // Keep the broker down until the worker has failed to reconnect at least twice.
    eventually("two failed reconnects", || async {
        reconnect_attempts(&h) >= 2
    })
    .await;
    let writes_while_down = h.genesys_writes();
    drop(guard); // start_app + await_startup
    eventually("ready again", || async {
        readyz(&admin).await == Some(200)
    })
    .await;
    println!(
        "stop_app/start_app: {} reconnect attempt(s) logged, {writes_while_down} Genesys writes before the restart",
        reconnect_attempts(&h)
    );
    h.finish(worker, SCRIPTS, VERSIONS).await;
}
