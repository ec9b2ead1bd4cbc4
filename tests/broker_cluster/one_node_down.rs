//! One node of three stopped under a running worker: a follower (a node the worker is not
//! connected to), stopped and started again mid-run, which the worker does not notice; then
//! the worker's own node, kept down to the end, from which the worker reconnects to another
//! (its `/readyz` timeline and the reconnect time measured).

use std::time::{Duration, Instant};

use crate::common::cluster::LocalCluster;
use crate::common::eventually;
use crate::common::process::readyz;

use super::{SCRIPTS, VERSIONS, cluster_harness, poll_for, start_worker, worker_node};

pub(super) async fn follower_node_stopped_and_restarted_mid_run(cluster: &LocalCluster) {
    let h = cluster_harness(cluster, "cl-follower").await;
    let (worker, _admin) = start_worker(&h).await;
    let serving = worker_node(cluster, &h).await;
    let follower = (serving + 1) % 3;
    eprintln!(
        "worker on node {}, stopping follower node {}",
        serving + 1,
        follower + 1
    );
    let before = h.genesys_writes();
    let stopped = Instant::now();
    cluster.stop_node(follower).await;
    eventually("pushes go on while the follower is down", || async {
        h.genesys_writes() >= before + 10 || h.all_newest(SCRIPTS, VERSIONS)
    })
    .await;
    let writes_while_down = h.genesys_writes() - before;
    let pending = !h.all_newest(SCRIPTS, VERSIONS);
    cluster.start_node(follower).await;
    eprintln!(
        "follower down for {:.1} s (stop_app to start_app done): {writes_while_down} Genesys writes meanwhile, \
         changes still pending when it came back: {pending}; worker still on node {:?}",
        stopped.elapsed().as_secs_f64(),
        cluster
            .node_serving(&h.worker_connection_name())
            .await
            .map(|i| i + 1)
    );
    h.finish(worker, SCRIPTS, VERSIONS).await;
}

/// `/readyz` timeline from `t0`: the first not-ready answer, then the first 200 after it.
async fn watch_down_then_up(admin: String, t0: Instant) -> (Duration, Duration) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut down_at = None;
    loop {
        let status = readyz(&admin).await;
        match (status, down_at) {
            (Some(200), Some(down)) => return (down, t0.elapsed()),
            (Some(200), None) => {}
            (_, None) => down_at = Some(t0.elapsed()),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "readyz did not go down and back up within 90 s (down at {down_at:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(super) async fn the_workers_node_stopped_and_kept_down(cluster: &LocalCluster) {
    let h = cluster_harness(cluster, "cl-own-node").await;
    let (worker, admin) = start_worker(&h).await;
    let serving = worker_node(cluster, &h).await;
    let writes_before = h.genesys_writes();
    let t0 = Instant::now();
    let watch = tokio::spawn(watch_down_then_up(admin.clone(), t0));
    cluster.stop_node(serving).await;
    let stop_took = t0.elapsed();
    let (down_at, ready_at) = watch.await.unwrap();
    let name = h.worker_connection_name();
    let now_on = poll_for("the worker's connection listed on another node", || async {
        cluster.node_serving(&name).await.filter(|&n| n != serving)
    })
    .await;
    let listed_at = t0.elapsed();
    eprintln!(
        "worker's node {} stopped (stop_app took {:.2} s): readyz not ready at +{:.2} s, 200 again at +{:.2} s \
         (reconnect time {:.2} s from the stop command, {:.2} s from the first not-ready answer); \
         connection listed on node {} at +{:.2} s; {} Genesys writes before the stop",
        serving + 1,
        stop_took.as_secs_f64(),
        down_at.as_secs_f64(),
        ready_at.as_secs_f64(),
        ready_at.as_secs_f64(),
        (ready_at - down_at).as_secs_f64(),
        now_on + 1,
        listed_at.as_secs_f64(),
        writes_before,
    );
    assert!(
        ready_at < Duration::from_secs(60),
        "reconnect took {ready_at:?} (a reconnect to a live node is meant to take ≤ 10 s)"
    );
    // The node stays down to the end; finish() reaches the others through broker.urls.
    h.finish(worker, SCRIPTS, VERSIONS).await;
    cluster.start_node(serving).await;
}
