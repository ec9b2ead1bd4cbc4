//! Scenario H, time-to-newest under quota pressure: 3 tenants, 20 new scripts each, 5
//! versions of every script published 1 s apart, Genesys quota 10 requests per 5 s per
//! tenant, ServiceNow unlimited. Per target: p50 / p99 / max from each change's publish until
//! that target holds it or a newer version; Genesys requests sent per script; and measured
//! Genesys p99 ÷ the quota-optimal lower bound ([`super::bound`]) from the same publish times.

use std::collections::HashMap;
use std::time::Duration;

use scriptsync_sim::{Arrivals, LatencySummary, SimTarget};
use tokio::time::Instant;

use super::bound::{IdealSender, Publication};
use super::context::Ctx;
use super::paced::{Paced, Who};
use super::progress::ScenarioProgress;
use super::report::{Row, RowVerdict};
use super::rig::{self, Timed, change};
use super::worker::Quota;

const TENANTS: usize = 3;
const VERSIONS: u64 = 5;
const SPACING: Duration = Duration::from_secs(1);
const QUOTA: Quota = Quota {
    requests: 10,
    window: Duration::from_secs(5),
};
const WINDOW: Duration = Duration::from_secs(5);

/// What one run of H measured.
struct Pressure {
    genesys: LatencySummary,
    servicenow: LatencySummary,
    requests_per_script: f64,
    bound: LatencySummary,
}

/// The rows of H: scriptsync (when `ours`) and the naive baseline (when `naive`).
pub async fn rows(ctx: &Ctx, ours: bool, naive: bool) -> Vec<Row> {
    let scripts = ctx.size(20, 4);
    let what = format!(
        "quota pressure: 3 tenants × {scripts} new scripts × 5 versions 1 s apart, Genesys 10 requests per 5 s, ServiceNow unlimited"
    );
    let mut rows = Vec::new();
    for who in [Who::Scriptsync, Who::Naive] {
        if (who == Who::Scriptsync && !ours) || (who == Who::Naive && !naive) {
            continue;
        }
        let id = format!("H {}", who.as_str());
        match run(ctx, who, scripts).await {
            Ok(p) => rows.push(row(&id, &what, &p)),
            Err(e) => rows.push(Row::failed(&id, &what, &e)),
        }
    }
    rows
}

async fn run(ctx: &Ctx, who: Who, scripts: usize) -> anyhow::Result<Pressure> {
    let tenants = rig::tenants(TENANTS);
    let mut paced = Paced::start(ctx, who, "bench-h", tenants, QUOTA).await?;
    let result = measure(ctx, &mut paced, who, scripts).await;
    paced.finish().await?;
    result
}

async fn measure(
    ctx: &Ctx,
    paced: &mut Paced,
    who: Who,
    scripts: usize,
) -> anyhow::Result<Pressure> {
    let t0 = Instant::now() + Duration::from_millis(500);
    let mut schedule = Vec::new();
    for v in 1..=VERSIONS {
        for tenant in &paced.rig.tenants {
            for s in 0..scripts {
                let at = t0 + SPACING * (v as u32 - 1);
                schedule.push(Timed {
                    at: Some(at),
                    change: change(tenant, &format!("s{s}"), v),
                });
            }
        }
    }
    let total = schedule.len() as u64;
    let mut progress = ScenarioProgress::new(&format!("H {}", who.as_str()), total, ctx.plain);
    paced.publish(schedule).await?;
    let both = [SimTarget::Genesys, SimTarget::Servicenow];
    let deadline = Instant::now() + Duration::from_secs(ctx.size(240, 90));
    paced
        .wait_arrived(&both, |_| true, deadline, &mut progress)
        .await?;
    let summary = |t| LatencySummary::of(&paced.arrivals.latencies(&[t], |_| true), WINDOW);
    let state = paced.sim.state();
    let genesys_requests: u64 = state
        .tenants
        .values()
        .map(|t| t.genesys.total_requests())
        .sum();
    let p = Pressure {
        genesys: summary(SimTarget::Genesys),
        servicenow: summary(SimTarget::Servicenow),
        requests_per_script: genesys_requests as f64 / (TENANTS * scripts) as f64,
        bound: bound(&paced.arrivals, ctx.settings.headroom)?,
    };
    progress.finish(&format!("Genesys p99 {}", secs(p.genesys.p99)));
    Ok(p)
}

/// The quota-optimal bound's latencies for the run's publish times, every tenant.
fn bound(arrivals: &Arrivals, headroom: f64) -> anyhow::Result<LatencySummary> {
    let ideal = IdealSender {
        requests: QUOTA.requests,
        headroom,
        window: QUOTA.window,
        requests_per_write: 1,
    };
    let mut per_tenant: HashMap<&str, (Vec<Publication>, HashMap<&str, usize>)> = HashMap::new();
    let origin = arrivals
        .publications()
        .map(|p| p.3)
        .min()
        .unwrap_or_else(Instant::now);
    for (tenant, script, _, at) in arrivals.publications() {
        let (pubs, ids) = per_tenant.entry(tenant).or_default();
        let next = ids.len();
        let script = *ids.entry(script).or_insert(next);
        pubs.push(Publication {
            script,
            at: at.duration_since(origin),
        });
    }
    let mut reached = Vec::new();
    for (pubs, _) in per_tenant.values() {
        let latencies = ideal
            .latencies(pubs)
            .ok_or_else(|| anyhow::anyhow!("the quota cannot afford a single write"))?;
        reached.extend(latencies);
    }
    Ok(LatencySummary::of(
        &scriptsync_sim::Latencies {
            reached,
            missing: 0,
        },
        WINDOW,
    ))
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("n/a".into(), |d| format!("{:.1} s", d.as_secs_f64()))
}

fn triple(s: &LatencySummary) -> String {
    format!("{} / {} / {}", secs(s.p50), secs(s.p99), secs(s.max))
}

fn row(id: &str, what: &str, p: &Pressure) -> Row {
    let p99 = |s: &LatencySummary| s.p99.unwrap_or_default().as_secs_f64();
    // A bound of 0 s (the quota never binds: `--quick` has fewer scripts per tenant than a
    // window allows) leaves no ratio to judge.
    let ratio = (p99(&p.bound) > 0.0).then(|| p99(&p.genesys) / p99(&p.bound));
    let mut row = Row::new(id, what);
    row.figure = format!(
        "p50 / p99 / max: Genesys {}, ServiceNow {}; {:.2} Genesys requests per script",
        triple(&p.genesys),
        triple(&p.servicenow),
        p.requests_per_script
    );
    row.ratio = match ratio {
        Some(ratio) => format!(
            "Genesys p99 = {ratio:.2} × bound (bound {})",
            triple(&p.bound)
        ),
        None => "no ratio: the bound is 0 s (the quota never binds at this size)".into(),
    };
    row.target =
        "Genesys p99 ≤ 1.2 × bound, ServiceNow p99 ≤ 1 s, ≤ 1.1 requests per script".into();
    if id.ends_with("scriptsync") {
        row.verdict = match ratio {
            Some(ratio) => RowVerdict::all(&[
                ratio <= 1.2,
                p99(&p.servicenow) <= 1.0,
                p.requests_per_script <= 1.1,
            ]),
            None => RowVerdict::Info,
        };
    }
    let mut values = |prefix: &str, s: &LatencySummary| {
        row.value(
            &format!("{prefix}_p50_seconds"),
            s.p50.unwrap_or_default().as_secs_f64(),
        )
        .value(&format!("{prefix}_p99_seconds"), p99(s))
        .value(
            &format!("{prefix}_max_seconds"),
            s.max.unwrap_or_default().as_secs_f64(),
        );
    };
    values("genesys", &p.genesys);
    values("servicenow", &p.servicenow);
    values("bound", &p.bound);
    row.value("genesys_requests_per_script", p.requests_per_script);
    if let Some(ratio) = ratio {
        row.value("genesys_p99_over_bound", ratio);
    }
    row
}
