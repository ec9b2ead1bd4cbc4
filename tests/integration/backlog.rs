//! Backlog: 100,000 changes queued before the worker starts. Memory stays bounded by the
//! prefetch and batch sizes (the peak RSS is printed and checked against a loose bound) and
//! everything is delivered at its newest version.

use crate::common;

use std::time::{Duration, Instant};

use common::process::{Harness, Options, peak_rss_kb};
use scriptsync_sim::SimConfig;

const SCRIPTS: u64 = 200;
const VERSIONS: u64 = 500;
/// Far above what prefetch (500) × message size needs; a leak or an unbounded read would
/// cross it long before 100,000 messages.
const RSS_BOUND_KB: u64 = 512 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100k_backlog_is_delivered_in_bounded_memory() {
    let sim_config = SimConfig {
        genesys_requests_per_minute: 10_000_000,
        ..SimConfig::default()
    };
    let options = Options {
        prefetch: 500,
        max_changes: 100,
        requests_per_minute: 1_000_000,
        max_concurrency: 16,
        ..Options::default()
    };
    let h = Harness::new("backlog", sim_config, options).await;
    let started = Instant::now();
    h.publish_all(SCRIPTS, VERSIONS).await;
    let published_in = started.elapsed();
    let queue = h.names.tenant_queue("backlog");
    assert_eq!(h.depth(&queue).await as u64, SCRIPTS * VERSIONS);

    let worker = h.spawn_worker();
    let pid = worker.0.id();
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    let mut peak = 0;
    while !h.all_newest(SCRIPTS, VERSIONS) {
        peak = peak.max(peak_rss_kb(pid).unwrap_or(0));
        assert!(
            tokio::time::Instant::now() < deadline,
            "backlog not delivered within 10 min"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drained_in = started.elapsed();
    peak = peak.max(peak_rss_kb(pid).unwrap_or(0));
    let state = h.sim.state();
    let t = state.tenant("backlog");
    println!(
        "backlog of {} changes: published in {published_in:.1?}, delivered in {drained_in:.1?}; peak RSS {} MiB; \
         Genesys writes {}, ServiceNow records {}, ServiceNow batch calls {}",
        SCRIPTS * VERSIONS,
        peak / 1024,
        t.genesys.writes,
        t.servicenow.writes,
        t.servicenow.batch_calls
    );
    assert!(peak > 0 && peak < RSS_BOUND_KB, "peak RSS {peak} kB");
    h.finish(worker, SCRIPTS, VERSIONS).await;
}
