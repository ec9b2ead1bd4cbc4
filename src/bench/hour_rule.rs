//! Scenario I, a ServiceNow rate-limit rule that makes the worker wait long: 3 tenants whose
//! ServiceNow rule allows 5 calls per window (full: 10 minutes, a 6× scaled hour; the worker
//! is told that window), each window already used up when the changes arrive (5 calls made
//! beforehand as the tenant's own user), 20 scripts × 3 versions per tenant published over the
//! first 20 s, both targets owed, the default retry budget (`retry.max_elapsed` 5 min: less
//! than the wait). Measured: dead letters, requests sent before the server's time
//! (violations), every change delivered to ServiceNow (after the window), and Genesys's
//! latencies, which the ServiceNow pause must not touch. The run lasts about 12 minutes in
//! full (`--quick`: a 20 s window).

use std::time::Duration;

use scriptsync_sim::{LatencySummary, SimConfig, SimTarget, fixtures};
use tokio::time::Instant;

use super::context::Ctx;
use super::paced::{Paced, Who};
use super::progress::ScenarioProgress;
use super::report::{Row, RowVerdict};
use super::rig::{self, Timed, change};
use super::worker::Quota;

const TENANTS: usize = 3;
const SCRIPTS: usize = 20;
const VERSIONS: u64 = 3;
/// Calls the rule allows per window.
const RULE: u32 = 5;
/// Genesys as it really is: 300 per minute.
const GENESYS: Quota = Quota {
    requests: 300,
    window: Duration::from_secs(60),
};

/// What one run of I measured.
struct HourRule {
    window: Duration,
    genesys: LatencySummary,
    servicenow: LatencySummary,
    /// The soonest any change reached ServiceNow after its publication.
    servicenow_min: Option<Duration>,
    dead_lettered: u64,
    violations: u64,
    rate_limited: u64,
    retry_after_max: u64,
    took: Duration,
}

/// The row of I.
pub async fn rows(ctx: &Ctx) -> Vec<Row> {
    let window = ctx.size(Duration::from_secs(600), Duration::from_secs(20));
    let what = format!(
        "ServiceNow rule of {RULE} calls per {} s (used up when the changes arrive; retry.max_elapsed 300 s), {TENANTS} tenants × {SCRIPTS} scripts × {VERSIONS} versions, Genesys 300/min",
        window.as_secs()
    );
    match run(ctx, window).await {
        Ok(m) => vec![row(&what, &m)],
        Err(e) => vec![Row::failed("I", &what, &e)],
    }
}

async fn run(ctx: &Ctx, window: Duration) -> anyhow::Result<HourRule> {
    let config = SimConfig {
        servicenow_requests_per_hour: Some(RULE),
        servicenow_time_factor: 3600.0 / window.as_secs_f64(),
        ..fixtures::genesys_quota(GENESYS.requests, GENESYS.window)
    };
    let sim = fixtures::start(config).await?;
    let tenants = rig::tenants(TENANTS);
    let mut paced = Paced::start_on(
        ctx,
        (Who::Scriptsync, "bench-i"),
        tenants,
        sim,
        (GENESYS, Some(window)),
    )
    .await?;
    let result = measure(ctx, &mut paced, window).await;
    paced.finish().await?;
    result
}

async fn measure(ctx: &Ctx, paced: &mut Paced, window: Duration) -> anyhow::Result<HourRule> {
    let base = paced.sim.base_url();
    for tenant in &paced.rig.tenants {
        use_up_rule(&base, tenant).await?;
    }
    let started = Instant::now();
    let t0 = started + Duration::from_millis(200);
    let mut schedule = Vec::new();
    for v in 1..=VERSIONS {
        for s in 0..SCRIPTS {
            for tenant in &paced.rig.tenants {
                let at = t0 + Duration::from_secs(10) * (v as u32 - 1);
                schedule.push(Timed {
                    at: Some(at),
                    change: change(tenant, &format!("s{s}"), v),
                });
            }
        }
    }
    let total = schedule.len() as u64;
    let mut progress = ScenarioProgress::new("I", total, ctx.plain);
    paced.publish(schedule).await?;
    let both = [SimTarget::Genesys, SimTarget::Servicenow];
    let deadline = Instant::now() + window + Duration::from_secs(ctx.size(180, 60));
    paced
        .wait_arrived(&both, |_| true, deadline, &mut progress)
        .await?;
    let took = started.elapsed();
    let summary = |t| {
        LatencySummary::of(
            &paced.arrivals.latencies(&[t], |_| true),
            Duration::from_secs(5),
        )
    };
    let state = paced.sim.state();
    let sn = |f: fn(&scriptsync_sim::TargetState) -> u64| -> u64 {
        state.tenants.values().map(|t| f(&t.servicenow)).sum()
    };
    let metrics = paced.worker_metrics().await?;
    let m = HourRule {
        window,
        genesys: summary(SimTarget::Genesys),
        servicenow: summary(SimTarget::Servicenow),
        servicenow_min: paced
            .arrivals
            .latencies(&[SimTarget::Servicenow], |_| true)
            .reached
            .into_iter()
            .min(),
        dead_lettered: metrics.sum("scriptsync_dead_lettered_total", &[]) as u64,
        violations: state.total_violations(),
        rate_limited: sn(|s| s.answered(429)),
        retry_after_max: window.as_secs(),
        took,
    };
    progress.finish(&format!("all delivered after {:.0} s", took.as_secs_f64()));
    Ok(m)
}

/// Uses up `tenant`'s ServiceNow rule for the current window with empty Batch API calls as
/// the tenant's own user, without being refused (a refusal would announce a pause the worker
/// never heard of).
async fn use_up_rule(base: &str, tenant: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for _ in 0..RULE {
        let answer = http
            .post(format!("{base}/api/now/v1/batch"))
            .basic_auth(tenant, Some(fixtures::SIM_SECRET))
            .header("content-type", "application/json")
            .body(r#"{"batch_request_id":"use-up","rest_requests":[]}"#)
            .send()
            .await?;
        anyhow::ensure!(
            answer.status().is_success(),
            "bench: using up the rule got {}",
            answer.status()
        );
    }
    Ok(())
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("n/a".into(), |d| format!("{:.1} s", d.as_secs_f64()))
}

fn row(what: &str, m: &HourRule) -> Row {
    let mut row = Row::new("I", what);
    let p99 = |s: &LatencySummary| s.p99.unwrap_or_default().as_secs_f64();
    row.figure = format!(
        "{} dead-lettered, {} violations, {} ServiceNow calls answered 429; every change at ServiceNow after {} (p50 {} / max {}); Genesys p50 {} / p99 {}; done in {:.0} s",
        m.dead_lettered,
        m.violations,
        m.rate_limited,
        secs(m.servicenow_min),
        secs(m.servicenow.p50),
        secs(m.servicenow.max),
        secs(m.genesys.p50),
        secs(m.genesys.p99),
        m.took.as_secs_f64()
    );
    row.ratio = format!(
        "ServiceNow waited up to {} s of a {} s window",
        m.servicenow.max.unwrap_or_default().as_secs(),
        m.retry_after_max
    );
    row.target = "0 dead-lettered, 0 violations, all delivered, Genesys p99 ≤ 1 s".into();
    row.verdict = RowVerdict::all(&[
        m.dead_lettered == 0,
        m.violations == 0,
        m.servicenow.missing == 0 && m.genesys.missing == 0,
        p99(&m.genesys) <= 1.0,
    ]);
    row.value("dead_lettered", m.dead_lettered as f64)
        .value("violations", m.violations as f64)
        .value("servicenow_rate_limited", m.rate_limited as f64)
        .value("servicenow_max_seconds", p99(&m.servicenow))
        .value("genesys_p99_seconds", p99(&m.genesys))
        .value("window_seconds", m.window.as_secs_f64());
    row
}
