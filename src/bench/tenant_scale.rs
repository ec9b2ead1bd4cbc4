//! Scenario J, tenant count: 10, 100 and 1,000 tenants (quick: 10 and 100) on one worker, each
//! at the real Genesys quota (300 per minute), each then receiving a small burst (3 new
//! scripts). Figures per size: how long the worker takes from its start until every tenant is
//! consumed (`/readyz`), its idle RSS once ready, the in-quota changes' time to both targets
//! (p50 / p99 / max, share within 5 s: the first requests of each tenant fetch its tokens),
//! and what the local broker's memory grew by per tenant (its queue and the worker's
//! channel; `rabbitmqctl eval 'erlang:memory(total).'`, "n/a" where that cannot run). Also the
//! worker's peak RSS through the burst beside what the sizing formula predicts for it
//! ([`scriptsync::budget::sizing`], fitted to other rows): within 25 %.

use std::process::Command;
use std::time::Duration;

use scriptsync_sim::{LatencySummary, SimTarget};
use tokio::time::Instant;

use super::context::Ctx;
use super::paced::{Paced, Who};
use super::progress::ScenarioProgress;
use super::report::{Row, RowVerdict};
use super::rig::{self, Timed, change};
use super::worker::Quota;
use scriptsync::budget::{held_at_most, predicted_rss_mib};
use scriptsync::config::BrokerSettings;

/// New scripts each tenant receives in its burst.
const BURST: usize = 3;
const WINDOW: Duration = Duration::from_secs(5);
const QUOTA: Quota = Quota {
    requests: 300,
    window: Duration::from_secs(60),
};
/// The targets, for the largest size (smaller sizes are held to the same).
const MAX_READY: Duration = Duration::from_secs(30);
const MAX_IDLE_RSS_MIB: f64 = 150.0;
/// How far the sizing formula may miss the measured peak.
const MAX_FORMULA_MISS: f64 = 0.25;

/// What one size measured.
struct Scaled {
    ready: Duration,
    idle_rss_mib: f64,
    /// Peak RSS through the burst, and what the sizing formula predicts for it.
    peak_rss_mib: f64,
    predicted_rss_mib: f64,
    latency: LatencySummary,
    broker_mib_per_tenant: Option<f64>,
}

/// One row per tenant count.
pub async fn rows(ctx: &Ctx) -> Vec<Row> {
    let sizes: &[usize] = ctx.size(&[10, 100, 1000], &[10, 100]);
    let mut rows = Vec::new();
    for &n in sizes {
        let id = format!("J {n}");
        let what = format!(
            "tenant count: {n} tenants on one worker, each at 300/min, each then sent {BURST} new scripts"
        );
        rows.push(match run(ctx, n).await {
            Ok(s) => row(&id, &what, &s),
            Err(e) => Row::failed(&id, &what, &e),
        });
    }
    rows
}

async fn run(ctx: &Ctx, n: usize) -> anyhow::Result<Scaled> {
    let before = broker_memory_bytes();
    let mut paced = Paced::start(ctx, Who::Scriptsync, "bench-j", rig::tenants(n), QUOTA).await?;
    let result = measure(ctx, &mut paced, n, before).await;
    paced.finish().await?;
    result
}

async fn measure(
    ctx: &Ctx,
    paced: &mut Paced,
    n: usize,
    broker_before: Option<u64>,
) -> anyhow::Result<Scaled> {
    let worker = paced.worker().ok_or_else(|| anyhow::anyhow!("no worker"))?;
    let ready = worker.ready_after();
    // Idle: every consumer started, the first listings and limit reads done.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_rss_mib = worker.rss_mib().unwrap_or(0.0);
    let broker_mib_per_tenant = broker_before
        .zip(broker_memory_bytes())
        .map(|(before, after)| after.saturating_sub(before) as f64 / 1048576.0 / n as f64);
    let tenants = paced.rig.tenants.clone();
    let t0 = Instant::now() + Duration::from_millis(200);
    let mut schedule = Vec::new();
    for (i, tenant) in tenants.iter().enumerate() {
        // Spread over a second, as many publishers would be.
        let at = t0 + Duration::from_micros(1_000_000 * i as u64 / n as u64);
        for s in 0..BURST {
            schedule.push(Timed {
                at: Some(at),
                change: change(tenant, &format!("s{s}"), 1),
            });
        }
    }
    let mut progress = ScenarioProgress::new(&format!("J {n}"), (n * BURST) as u64, ctx.plain);
    paced.publish(schedule).await?;
    let both = [SimTarget::Genesys, SimTarget::Servicenow];
    let deadline = Instant::now() + Duration::from_secs(60 + n as u64 / 10);
    paced
        .wait_arrived(&both, |_| true, deadline, &mut progress)
        .await?;
    let latency = LatencySummary::of(&paced.arrivals.latencies(&both, |_| true), WINDOW);
    let peak_rss_mib = paced.worker().and_then(|w| w.peak_rss_mib()).unwrap_or(0.0);
    let budget = BrokerSettings::default().max_inflight;
    let held = ((n * BURST) as u64).min(held_at_most(ctx.settings.prefetch, budget, n));
    progress.finish(&format!(
        "ready after {:.1} s, idle RSS {idle_rss_mib:.1} MiB",
        ready.as_secs_f64()
    ));
    Ok(Scaled {
        ready,
        idle_rss_mib,
        peak_rss_mib,
        predicted_rss_mib: predicted_rss_mib(n, held),
        latency,
        broker_mib_per_tenant,
    })
}

fn row(id: &str, what: &str, s: &Scaled) -> Row {
    let secs = |d: Option<Duration>| d.unwrap_or_default().as_secs_f64();
    let broker = s
        .broker_mib_per_tenant
        .map_or("n/a".to_owned(), |m| format!("{:.0} KiB", m * 1024.0));
    let miss = s.peak_rss_mib / s.predicted_rss_mib - 1.0;
    let mut row = Row::new(id, what);
    row.figure = format!(
        "ready {:.1} s after start; idle RSS {:.1} MiB, peak {:.1} MiB (sizing formula {:.1} MiB, {:+.0} %); time to both targets p50 {:.2} s / p99 {:.2} s / max {:.2} s, {:.1} % within 5 s; broker memory +{broker} per tenant",
        s.ready.as_secs_f64(),
        s.idle_rss_mib,
        s.peak_rss_mib,
        s.predicted_rss_mib,
        miss * 100.0,
        secs(s.latency.p50),
        secs(s.latency.p99),
        secs(s.latency.max),
        s.latency.share_within * 100.0,
    );
    row.target = format!(
        "ready ≤ {} s, idle RSS ≤ {MAX_IDLE_RSS_MIB} MiB, formula within {:.0} %, p99 ≤ 1 s, 100 % within 5 s",
        MAX_READY.as_secs(),
        MAX_FORMULA_MISS * 100.0
    );
    row.verdict = RowVerdict::all(&[
        s.ready <= MAX_READY,
        s.idle_rss_mib <= MAX_IDLE_RSS_MIB,
        // The formula's constants are a release build's.
        cfg!(debug_assertions) || miss.abs() <= MAX_FORMULA_MISS,
        secs(s.latency.p99) <= 1.0,
        s.latency.share_within >= 1.0,
    ]);
    row.value("ready_seconds", s.ready.as_secs_f64())
        .value("idle_rss_mib", s.idle_rss_mib)
        .value("peak_rss_mib", s.peak_rss_mib)
        .value("predicted_rss_mib", s.predicted_rss_mib)
        .value("p50_seconds", secs(s.latency.p50))
        .value("p99_seconds", secs(s.latency.p99))
        .value("max_seconds", secs(s.latency.max))
        .value("share_within_5s", s.latency.share_within);
    if let Some(m) = s.broker_mib_per_tenant {
        row.value("broker_mib_per_tenant", m);
    }
    row
}

/// The local broker's memory (bytes), from `rabbitmqctl`; `None` where it cannot run.
fn broker_memory_bytes() -> Option<u64> {
    let out = Command::new("rabbitmqctl")
        .args(["-q", "eval", "erlang:memory(total)."])
        .output()
        .ok()?;
    out.status.success().then_some(())?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}
