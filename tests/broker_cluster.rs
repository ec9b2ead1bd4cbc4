//! Losing a broker node, against a real local 3-node RabbitMQ cluster
//! ([`common::cluster::LocalCluster`], beside the machine's broker, which is not touched): the
//! worker runs as a real process given `broker.urls` (all three nodes), while nodes are stopped
//! and started under it:
//! - a follower (a node the worker is not connected to) stopped and restarted mid-run;
//! - the worker's own node stopped mid-run and kept down (reconnect time measured);
//! - a majority (2 of 3) lost: `/readyz` must say 503 meanwhile; what the broker answers then
//!   is probed and printed; everything is delivered once the majority is back;
//! - a dead letter being published while its node dies (duplicates counted and listed).
//!
//! The scenarios run in one test on one cluster (booting one takes about 15–20 s on 2 cores,
//! boot and join), each leaving every node running for the next; the cluster is owned by the
//! test, so it is stopped when the test ends, passed or failed (a cluster in a `static` would
//! never be stopped: statics are not dropped when the test binary exits). Where
//! `rabbitmq-server` is missing (or not root), the test prints `SKIPPED:` and returns.
//!
//! Here, the binary's root: the one test that runs the scenarios in order and what they
//! share (a harness on the cluster, the worker's node, starting the worker); the scenarios
//! in `broker_cluster/`: `one_node_down` (a follower, then the worker's own node),
//! `majority_loss`, `dead_letters` (a dead letter published while its node dies), and
//! `worker_log` (what the worker logged meanwhile).

mod common;

#[path = "broker_cluster/dead_letters.rs"]
mod dead_letters;
#[path = "broker_cluster/majority_loss.rs"]
mod majority_loss;
#[path = "broker_cluster/one_node_down.rs"]
mod one_node_down;
#[path = "broker_cluster/worker_log.rs"]
mod worker_log;

use std::time::{Duration, Instant};

use common::cluster::LocalCluster;
use common::process::{Harness, Options, readyz};
use common::{DEADLINE, KillOnDrop, eventually};
use dead_letters::dead_letter_published_while_its_node_dies;
use majority_loss::majority_lost_then_back;
use one_node_down::{
    follower_node_stopped_and_restarted_mid_run, the_workers_node_stopped_and_kept_down,
};
use scriptsync_sim::{Faults, SimConfig, SimTarget};

const SCRIPTS: u64 = 30;
const GENESYS_LATENCY: Duration = Duration::from_millis(250);
const VERSIONS: u64 = 8;

/// The four scenarios on one cluster, in this order; each leaves every node running. One
/// boot (15–20 s on 2 cores, with the join) instead of four: the node-loss scenarios use
/// fresh queue prefixes, so all they could inherit is the placement of queue leaders, which
/// each one reads afresh (`worker_node`). A failing scenario stops the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_losses_on_one_cluster() {
    if !common::broker_node_tests_allowed("node_losses_on_one_cluster") {
        return;
    }
    let Some(cluster) = LocalCluster::start() else {
        return;
    };
    follower_node_stopped_and_restarted_mid_run(&cluster).await;
    dead_letter_published_while_its_node_dies(&cluster).await;
    the_workers_node_stopped_and_kept_down(&cluster).await;
    majority_lost_then_back(&cluster).await;
}

/// A harness on the cluster's three nodes, Genesys answering after 250 ms (so the run lasts
/// long enough, 15 s or so, to stop nodes in the middle of it: `stop_app` alone takes 2–4 s).
async fn cluster_harness(cluster: &LocalCluster, tenant: &str) -> Harness {
    let sim_config = SimConfig {
        genesys_requests_per_minute: 100_000,
        ..SimConfig::default()
    };
    let h = Harness::with_urls(tenant, sim_config, Options::default(), cluster.urls()).await;
    let slow = Faults {
        latency: GENESYS_LATENCY,
        ..Faults::default()
    };
    h.sim.set_faults(Some(tenant), SimTarget::Genesys, slow);
    h
}

/// Polls `f` every 100 ms until it gives a value, or panics with `what` after [`DEADLINE`].
async fn poll_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The node the worker's connection is attached to, once `list_connections` shows it.
async fn worker_node(cluster: &LocalCluster, h: &Harness) -> usize {
    let name = h.worker_connection_name();
    poll_for("the worker's connection listed on a node", || {
        cluster.node_serving(&name)
    })
    .await
}

/// Spawns the worker mid-flight, waits for it to be ready; returns it with its admin address.
async fn start_worker(h: &Harness) -> (KillOnDrop, String) {
    let worker = h.spawn_mid_flight(SCRIPTS, VERSIONS).await;
    let admin = h.admin_addr().await;
    eventually("worker ready", || async {
        readyz(&admin).await == Some(200)
    })
    .await;
    (worker, admin)
}
