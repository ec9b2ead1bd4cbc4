//! Scenario E, the seed's storm: 19 orgs each receive bursts within their Genesys quota (the
//! real 300 per minute) while a 20th, noisy org is offered 10× its quota. Figures: p50 / p99
//! / max end-to-end latency of the 19 in-quota orgs (publish → both targets hold the change
//! or a newer version, from the simulator's applied writes), their share within 5 s, and how
//! far the noisy org moves their p99 (the same run without it). For scriptsync and naive.

use std::time::Duration;

use scriptsync_sim::{LatencySummary, SimTarget};
use tokio::time::Instant;

use super::context::Ctx;
use super::paced::{Paced, Who};
use super::progress::ScenarioProgress;
use super::report::{Row, RowVerdict};
use super::rig::{self, Timed, change};
use super::worker::Quota;

const TENANTS: usize = 20;
/// Scripts each in-quota org updates in every burst.
const BURST: usize = 20;
/// Scripts the noisy org cycles over.
const NOISY_SCRIPTS: usize = 500;
/// The disclaimer window.
const WINDOW: Duration = Duration::from_secs(5);
const QUOTA: Quota = Quota {
    requests: 300,
    window: Duration::from_secs(60),
};

/// The rows of E: scriptsync (when `ours`) and the naive baseline (when `naive`).
pub async fn rows(ctx: &Ctx, ours: bool, naive: bool) -> Vec<Row> {
    let period = ctx.size(Duration::from_secs(30), Duration::from_secs(5));
    let every = ctx.size(Duration::from_secs(5), Duration::from_millis(2500));
    let bursts = (period.as_millis() / every.as_millis()) as u32;
    let what = format!(
        "storm: 19 orgs × {bursts} bursts of {BURST} changes (within 300/min) while org 20 is offered 10× its quota for {} s",
        period.as_secs()
    );
    let mut rows = Vec::new();
    for who in [Who::Scriptsync, Who::Naive] {
        if (who == Who::Scriptsync && !ours) || (who == Who::Naive && !naive) {
            continue;
        }
        let id = format!("E {}", who.as_str());
        let quiet = run(ctx, who, false, period, every).await;
        let noisy = run(ctx, who, true, period, every).await;
        rows.push(match (quiet, noisy) {
            (Ok(quiet), Ok(noisy)) => row(&id, &what, who, &quiet, &noisy),
            (Err(e), _) | (_, Err(e)) => Row::failed(&id, &what, &e),
        });
    }
    rows
}

async fn run(
    ctx: &Ctx,
    who: Who,
    noisy: bool,
    period: Duration,
    every: Duration,
) -> anyhow::Result<LatencySummary> {
    let tenants = rig::tenants(TENANTS);
    let mut paced = Paced::start(ctx, who, "bench-e", tenants.clone(), QUOTA).await?;
    let result = measure(ctx, &mut paced, who, noisy, period, every).await;
    paced.finish().await?;
    result
}

async fn measure(
    ctx: &Ctx,
    paced: &mut Paced,
    who: Who,
    noisy: bool,
    period: Duration,
    every: Duration,
) -> anyhow::Result<LatencySummary> {
    let tenants = paced.rig.tenants.clone();
    let noisy_org = tenants[TENANTS - 1].clone();
    let t0 = Instant::now() + Duration::from_millis(500);
    let mut schedule = Vec::new();
    let bursts = (period.as_millis() / every.as_millis()) as u32;
    for b in 0..bursts {
        for (i, tenant) in tenants.iter().take(TENANTS - 1).enumerate() {
            let at = t0 + every * b + Duration::from_millis(50 * i as u64);
            for s in 0..BURST {
                let change = change(tenant, &format!("s{s}"), u64::from(b) + 1);
                schedule.push(Timed {
                    at: Some(at),
                    change,
                });
            }
        }
    }
    if noisy {
        // 10× the quota: 10 × 300 per minute = 50 changes per second.
        let per_second = 10.0 * f64::from(QUOTA.requests) / QUOTA.window.as_secs_f64();
        let n = (per_second * period.as_secs_f64()) as usize;
        for k in 0..n {
            let at = t0 + Duration::from_secs_f64(k as f64 / per_second);
            let version = (k / NOISY_SCRIPTS) as u64 + 1;
            let change = change(&noisy_org, &format!("n{}", k % NOISY_SCRIPTS), version);
            schedule.push(Timed {
                at: Some(at),
                change,
            });
        }
    }
    schedule.sort_by_key(|t| t.at);
    let label = format!(
        "E {} {}",
        who.as_str(),
        if noisy { "noisy" } else { "quiet" }
    );
    let in_quota = |t: &str| t != noisy_org;
    let mut progress = ScenarioProgress::new(
        &label,
        (bursts as usize * BURST * (TENANTS - 1)) as u64,
        ctx.plain,
    );
    paced.publish(schedule).await?;
    let both = [SimTarget::Genesys, SimTarget::Servicenow];
    let deadline = Instant::now() + Duration::from_secs(60);
    paced
        .wait_arrived(&both, in_quota, deadline, &mut progress)
        .await?;
    let summary = LatencySummary::of(&paced.arrivals.latencies(&both, in_quota), WINDOW);
    progress.finish(&format!("p99 {}", ms(summary.p99)));
    Ok(summary)
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("n/a".into(), |d| format!("{} ms", d.as_millis()))
}

fn row(id: &str, what: &str, who: Who, quiet: &LatencySummary, noisy: &LatencySummary) -> Row {
    let p99 = |s: &LatencySummary| s.p99.unwrap_or_default().as_secs_f64();
    let moved = if p99(quiet) > 0.0 {
        p99(noisy) / p99(quiet) - 1.0
    } else {
        0.0
    };
    let mut row = Row::new(id, what);
    row.figure = format!(
        "with the noisy org: p50 {} / p99 {} / max {}, {:.1} % within 5 s; without: p99 {}",
        ms(noisy.p50),
        ms(noisy.p99),
        ms(noisy.max),
        noisy.share_within * 100.0,
        ms(quiet.p99)
    );
    row.ratio = format!("noisy org moves p99 by {:+.0} %", moved * 100.0);
    row.target = "100 % within 5 s, p99 ≤ 1 s, moved ≤ 20 %".into();
    row.verdict = match who {
        Who::Scriptsync => {
            RowVerdict::all(&[noisy.share_within >= 1.0, p99(noisy) <= 1.0, moved <= 0.20])
        }
        Who::Naive => RowVerdict::Info,
    };
    row.value("p50_seconds", noisy.p50.unwrap_or_default().as_secs_f64())
        .value("p99_seconds", p99(noisy))
        .value("max_seconds", noisy.max.unwrap_or_default().as_secs_f64())
        .value("share_within_5s", noisy.share_within)
        .value("quiet_p99_seconds", p99(quiet))
        .value("p99_moved", moved);
    row
}
