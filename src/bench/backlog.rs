//! Scenario G, backlog memory: 10,000, 100,000 and 1,000,000 changes (20 tenants, 200
//! scripts each, versions rising) queued *before* the worker starts, then drained. The
//! worker's peak RSS while draining must stay flat across sizes: what it holds is bounded by
//! the in-flight budget (`broker.max_inflight`, split into the tenants' prefetches), not by
//! the backlog. Also the drain time and how many row writes were left
//! after coalescing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::context::{Ctx, UNLIMITED, simulator, wait_settled};
use super::progress::ScenarioProgress;
use super::report::{Row, RowVerdict};
use super::rig::{self, Rig, Timed, change};

const TENANTS: usize = 20;
const SCRIPTS: usize = 200;
/// The memory ceiling at every backlog size (with the default in-flight budget).
const MAX_RSS_MIB: f64 = 64.0;

/// What one backlog size measured.
struct Drained {
    peak_rss_mib: f64,
    /// Peaks of the allocator's own figures in the scrapes: (allocated, resident), MiB.
    peak_allocator_mib: (f64, f64),
    seconds: f64,
    genesys_writes: u64,
}

/// One row per backlog size.
pub async fn rows(ctx: &Ctx) -> Vec<Row> {
    let sizes: &[usize] = ctx.size(&[10_000, 100_000, 1_000_000], &[10_000, 50_000]);
    let mut rows = Vec::new();
    for &n in sizes {
        let id = format!("G {}k", n / 1000);
        let what =
            format!("backlog: {n} changes (20 tenants × 200 scripts) queued before start, drained");
        rows.push(match run(ctx, n).await {
            Ok(d) => {
                let mut row = Row::new(&id, &what);
                row.figure = format!(
                    "peak RSS {:.1} MiB (heap {:.1} MiB, allocator resident {:.1} MiB); drained in {:.1} s ({:.0} changes/s); {} Genesys requests after coalescing",
                    d.peak_rss_mib,
                    d.peak_allocator_mib.0,
                    d.peak_allocator_mib.1,
                    d.seconds,
                    n as f64 / d.seconds,
                    d.genesys_writes
                );
                row.target = format!("peak RSS ≤ {MAX_RSS_MIB} MiB");
                row.verdict = RowVerdict::all(&[d.peak_rss_mib <= MAX_RSS_MIB]);
                row.value("peak_rss_mib", d.peak_rss_mib)
                    .value("peak_heap_mib", d.peak_allocator_mib.0)
                    .value("peak_allocator_resident_mib", d.peak_allocator_mib.1)
                    .value("drain_seconds", d.seconds)
                    .value("changes_per_second", n as f64 / d.seconds)
                    .value("genesys_requests", d.genesys_writes as f64);
                row
            }
            Err(e) => Row::failed(&id, &what, &e),
        });
    }
    rows
}

async fn run(ctx: &Ctx, n: usize) -> anyhow::Result<Drained> {
    let rig = Rig::open(&ctx.broker_url, "bench-g", rig::tenants(TENANTS)).await?;
    let result = pass(ctx, &rig, n).await;
    rig.cleanup().await?;
    result
}

async fn pass(ctx: &Ctx, rig: &Rig, n: usize) -> anyhow::Result<Drained> {
    let label = format!("G {}k", n / 1000);
    let tenants = rig.tenants.clone();
    let backlog = (0..n).map(|i| {
        let tenant = &tenants[i % TENANTS];
        let k = i / TENANTS;
        let version = (k / SCRIPTS) as u64 + 1;
        Timed {
            at: None,
            change: change(tenant, &format!("s{}", k % SCRIPTS), version),
        }
    });
    let queued = AtomicU64::new(0);
    let mut filling = ScenarioProgress::new(&format!("{label} queueing"), n as u64, ctx.plain);
    let fill = rig.publish(backlog, |_, _| {
        let q = queued.fetch_add(1, Ordering::Relaxed) + 1;
        if q.is_multiple_of(1000) {
            filling.update(q, "published");
        }
    });
    let published = fill.await?;
    filling.finish(&format!("{published} queued"));

    let sim = simulator(UNLIMITED).await?;
    let result = async {
        let worker = ctx.worker(rig, &sim, UNLIMITED).await?;
        let started = Instant::now();
        let deadline = started + Duration::from_secs(120 + n as u64 / 500);
        let mut progress =
            ScenarioProgress::new(&format!("{label} draining"), published, ctx.plain);
        let done = wait_settled(&worker, || published, deadline, &mut progress).await?;
        let peak = worker.peak_rss_mib().unwrap_or(0.0);
        progress.finish(&format!("peak RSS {peak:.1} MiB"));
        let state = sim.state();
        anyhow::Ok(Drained {
            peak_rss_mib: peak,
            peak_allocator_mib: worker.peak_allocator_mib(),
            seconds: done.duration_since(started).as_secs_f64(),
            genesys_writes: state
                .tenants
                .values()
                .map(|t| t.genesys.total_requests())
                .sum(),
        })
    }
    .await;
    sim.shutdown();
    result
}
