//! Scenarios B and C, end-to-end throughput with no quota: 20 tenants, changes published with
//! confirms while the worker (a child process) consumes; the clock stops when the worker's
//! `/metrics` show every change consumed and none in flight (acked after both targets).
//! B: every change a different script; C: 10 versions per script, published back to back,
//! so the lanes coalesce them (only the newest pending version of a script is sent). Also
//! the worker's CPU-seconds per 1,000 changes and peak RSS, and a check that the simulator
//! holds the newest version of every script at both targets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use scriptsync_sim::{SimHandle, SimState};
use tokio::time::Instant;

use super::context::{Ctx, UNLIMITED, simulator, wait_settled};
use super::progress::ScenarioProgress;
use super::rig::{self, Rig, Timed, change};
use scriptsync::change::ScriptChange;

const TENANTS: usize = 20;

/// What one throughput run measured.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    pub per_second: f64,
    pub cpu_per_1000: f64,
    pub peak_rss_mib: f64,
    /// Genesys row requests per change (coalescing makes it < 1).
    pub genesys_per_change: f64,
}

/// Runs `changes` changes, `versions` per script, through the worker.
pub async fn run(
    ctx: &Ctx,
    label: &str,
    changes: usize,
    versions: u64,
) -> anyhow::Result<Throughput> {
    let rig = Rig::open(&ctx.broker_url, "bench-tput", rig::tenants(TENANTS)).await?;
    let result = pass(ctx, &rig, label, changes, versions).await;
    rig.cleanup().await?;
    result
}

async fn pass(
    ctx: &Ctx,
    rig: &Rig,
    label: &str,
    changes: usize,
    versions: u64,
) -> anyhow::Result<Throughput> {
    let sim = simulator(UNLIMITED).await?;
    let result = drive(ctx, rig, &sim, label, changes, versions).await;
    sim.shutdown();
    result
}

/// Starts the worker, publishes while it consumes, stops the clock once it has settled.
async fn drive(
    ctx: &Ctx,
    rig: &Rig,
    sim: &SimHandle,
    label: &str,
    changes: usize,
    versions: u64,
) -> anyhow::Result<Throughput> {
    let worker = ctx.worker(rig, sim, UNLIMITED).await?;
    let all = generate(&rig.tenants, changes, versions);
    let mut progress = ScenarioProgress::new(label, all.len() as u64, ctx.plain);
    let total = AtomicU64::new(0);
    let cpu_before = worker.cpu_seconds().unwrap_or(0.0);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(900);
    let publish = async {
        let n = rig
            .publish(
                all.iter().cloned().map(|change| Timed { at: None, change }),
                |_, _| {},
            )
            .await?;
        total.store(n, Ordering::SeqCst);
        anyhow::Ok(n)
    };
    let settled = wait_settled(
        &worker,
        || total.load(Ordering::SeqCst),
        deadline,
        &mut progress,
    );
    let (published, settled) = tokio::join!(publish, settled);
    let published = published?;
    let elapsed = settled?.duration_since(started).as_secs_f64();
    let cpu = worker.cpu_seconds().unwrap_or(0.0) - cpu_before;
    let peak = worker.peak_rss_mib().unwrap_or(0.0);
    drop(worker);
    let state = sim.state();
    check_newest(&state, &all)?;
    let writes: u64 = state
        .tenants
        .values()
        .map(|t| t.genesys.total_requests())
        .sum();
    let result = Throughput {
        per_second: published as f64 / elapsed,
        cpu_per_1000: cpu / published as f64 * 1000.0,
        peak_rss_mib: peak,
        genesys_per_change: writes as f64 / published as f64,
    };
    progress.finish(&format!("{:.0} changes/s", result.per_second));
    Ok(result)
}

/// `changes` changes over 20 tenants, `versions` consecutive versions per script, tenants
/// interleaved.
fn generate(tenants: &[String], changes: usize, versions: u64) -> Vec<ScriptChange> {
    let versions = versions.max(1) as usize;
    (0..changes)
        .map(|i| {
            let tenant = &tenants[i % tenants.len()];
            let k = i / tenants.len();
            let version = (k % versions) as u64 + 1;
            change(tenant, &format!("s{}", k / versions), version)
        })
        .collect()
}

/// Every script's newest version must be held at both targets.
pub fn check_newest(state: &SimState, changes: &[ScriptChange]) -> anyhow::Result<()> {
    let mut newest = std::collections::HashMap::new();
    for c in changes {
        let v = newest.entry((c.tenant(), c.script_id())).or_insert(0);
        *v = (*v).max(c.version());
    }
    let wrong = newest
        .iter()
        .filter(|((tenant, script), version)| {
            let t = state.tenants.get(*tenant);
            let held = |f: fn(&scriptsync_sim::TenantState) -> &scriptsync_sim::TargetState| {
                t.and_then(|t| f(t).held.get(*script).map(|h| h.version))
            };
            held(|t| &t.genesys) != Some(**version) || held(|t| &t.servicenow) != Some(**version)
        })
        .count();
    anyhow::ensure!(
        wrong == 0,
        "{wrong} of {} scripts not at their newest version at both targets",
        newest.len()
    );
    Ok(())
}
