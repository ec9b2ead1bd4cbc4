//! Scenario D, quota use: 20 tenants at the Genesys quota with a scaled window (full: the
//! real 300 requests per window, but 10 s windows instead of 60 s, so the run sees several),
//! each offered twice its quota for a sustained period, changes cycling over 100 scripts.
//! Measured from the simulator over the period: Genesys requests sent ÷ requests the really
//! available quota × headroom allows, 429s per 1,000 requests, violations (requests sent into a
//! pause). Run for scriptsync and for the naive baseline, then two rows where the worker is
//! wrong about the quota and must learn it from the 429 point (the org's limits endpoint
//! refuses it): told 3× the real quota, and sharing the quota with another integration that
//! uses 40 % of it.

use std::time::Duration;

use scriptsync_sim::{Faults, SimState, SimTarget};
use tokio::time::Instant;

use super::context::Ctx;
use super::paced::{Paced, Who};
use super::progress::ScenarioProgress;
use super::report::{Row, RowVerdict};
use super::rig::{self, Timed, change};
use super::worker::Quota;

const TENANTS: usize = 20;
const SCRIPTS: usize = 100;
/// Offered load as a multiple of the quota.
const OFFERED: f64 = 2.0;
/// The learning rows: what the worker is told, as a multiple of the real quota …
const TOLD_OVER: u32 = 3;
/// … and the share of the quota another integration of the same org uses.
const OTHER_SHARE: f64 = 0.4;

/// How the quota the worker meets differs from what it is told.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Variant {
    /// Told the real quota.
    Told,
    /// Told `TOLD_OVER` × the real quota.
    Overtold,
    /// Told the quota, of which another integration uses `OTHER_SHARE`.
    Shared,
}

impl Variant {
    fn id(self, who: Who) -> String {
        match self {
            Variant::Told => format!("D {}", who.as_str()),
            Variant::Overtold => format!("D {TOLD_OVER}× told"),
            Variant::Shared => format!("D shared {:.0} %", OTHER_SHARE * 100.0),
        }
    }

    /// The share of the quota really available to the worker.
    fn available(self) -> f64 {
        match self {
            Variant::Shared => 1.0 - OTHER_SHARE,
            _ => 1.0,
        }
    }
}

/// The rows of D: scriptsync (when `ours`) and the naive baseline (when `naive`).
pub async fn rows(ctx: &Ctx, ours: bool, naive: bool) -> Vec<Row> {
    let quota = ctx.size(
        Quota {
            requests: 300,
            window: Duration::from_secs(10),
        },
        Quota {
            requests: 90,
            window: Duration::from_secs(3),
        },
    );
    let period = ctx.size(Duration::from_secs(60), Duration::from_secs(6));
    let what = format!(
        "quota use: 20 tenants offered 2× a Genesys quota of {} per {} s (real: 300 per 60 s) for {} s",
        quota.requests,
        quota.window.as_secs(),
        period.as_secs()
    );
    let mut rows = Vec::new();
    let runs = [
        (Who::Scriptsync, Variant::Told, ours),
        (Who::Naive, Variant::Told, naive),
        (Who::Scriptsync, Variant::Overtold, ours),
        (Who::Scriptsync, Variant::Shared, ours),
    ];
    for (who, variant, wanted) in runs {
        if !wanted {
            continue;
        }
        let id = variant.id(who);
        let what = match variant {
            Variant::Told => what.clone(),
            Variant::Overtold => {
                format!("{what}; the worker told {TOLD_OVER}× the quota, the org's limits refused")
            }
            Variant::Shared => format!(
                "{what}; another integration uses {:.0} % of it, the org's limits refused",
                OTHER_SHARE * 100.0
            ),
        };
        match run(ctx, (who, variant), quota, period).await {
            Ok(use_) => rows.push(row(&id, &what, who, ctx.settings.headroom, &use_)),
            Err(e) => rows.push(Row::failed(&id, &what, &e)),
        }
    }
    rows
}

/// What the simulator counted over the period.
struct QuotaUse {
    sent: u64,
    allowed: f64,
    rate_limited: u64,
    violations: u64,
}

async fn run(
    ctx: &Ctx,
    (who, variant): (Who, Variant),
    quota: Quota,
    period: Duration,
) -> anyhow::Result<QuotaUse> {
    let tenants = rig::tenants(TENANTS);
    let told = match variant {
        Variant::Overtold => Quota {
            requests: quota.requests * TOLD_OVER,
            ..quota
        },
        _ => quota,
    };
    let mut paced = Paced::start_told(ctx, who, "bench-d", tenants.clone(), (quota, told)).await?;
    if variant != Variant::Told {
        let faults = Faults {
            limits_refused: true,
            other_integration_share: if variant == Variant::Shared {
                OTHER_SHARE
            } else {
                0.0
            },
            ..Faults::default()
        };
        paced.sim.set_faults(None, SimTarget::Genesys, faults);
    }
    let result = measure(ctx, &mut paced, (who, variant), quota, period).await;
    paced.finish().await?;
    result
}

async fn measure(
    ctx: &Ctx,
    paced: &mut Paced,
    (who, variant): (Who, Variant),
    quota: Quota,
    period: Duration,
) -> anyhow::Result<QuotaUse> {
    let per_second = OFFERED * f64::from(quota.requests) / quota.window.as_secs_f64();
    let per_tenant = (per_second * period.as_secs_f64()) as usize;
    let step = Duration::from_secs_f64(1.0 / per_second);
    let t0 = Instant::now() + Duration::from_millis(200);
    let mut schedule = Vec::new();
    for k in 0..per_tenant {
        for (i, tenant) in paced.rig.tenants.iter().enumerate() {
            let at = t0 + step * k as u32 + step.mul_f64(i as f64 / TENANTS as f64);
            let script = format!("s{}", k % SCRIPTS);
            let version = (k / SCRIPTS) as u64 + 1;
            schedule.push(Timed {
                at: Some(at),
                change: change(tenant, &script, version),
            });
        }
    }
    let label = variant.id(who);
    let mut progress = ScenarioProgress::new(&label, period.as_secs(), ctx.plain);
    let before = paced.sim.state();
    let ticker = async {
        loop {
            progress.update(t0.elapsed().as_secs(), "s offered");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let published = tokio::select! {
        r = paced.publish(schedule) => r?,
        _ = ticker => unreachable!("the ticker never ends"),
    };
    let after = paced.sim.state();
    let elapsed = t0.elapsed();
    let genesys = |s: &SimState, status: Option<u16>| -> u64 {
        s.tenants
            .values()
            .map(|t| status.map_or(t.genesys.total_requests(), |st| t.genesys.answered(st)))
            .sum()
    };
    // The really available quota × headroom, per window.
    let available = f64::from(quota.requests) * variant.available();
    let slots = (available * ctx.settings.headroom + 1e-9).floor();
    let use_ = QuotaUse {
        sent: genesys(&after, None) - genesys(&before, None),
        allowed: slots * TENANTS as f64 * elapsed.as_secs_f64() / quota.window.as_secs_f64(),
        rate_limited: genesys(&after, Some(429)) - genesys(&before, Some(429)),
        violations: after.total_violations(),
    };
    progress.finish(&format!(
        "{published} offered, {} requests sent of {:.0} allowed",
        use_.sent, use_.allowed
    ));
    Ok(use_)
}

fn row(id: &str, what: &str, who: Who, headroom: f64, u: &QuotaUse) -> Row {
    let used = u.sent as f64 / u.allowed;
    let per_1000 = if u.sent == 0 {
        0.0
    } else {
        u.rate_limited as f64 * 1000.0 / u.sent as f64
    };
    let mut row = Row::new(id, what);
    row.figure = format!(
        "{} requests sent of {:.0} allowed; {per_1000:.1} 429s per 1,000; {} violations",
        u.sent, u.allowed, u.violations
    );
    // Where the worker was wrong about the quota it must learn it: ≥ 90 % of what is really
    // available (× headroom) is the target there; told right, ≥ 95 %.
    let learning = id.contains("told") || id.contains("shared");
    let floor = if learning { 0.90 } else { 0.95 };
    row.ratio = format!("{:.1} % of available quota × {headroom}", used * 100.0);
    row.target = format!(
        "≥ {:.0} %, ≤ 10 429s per 1,000, 0 violations",
        floor * 100.0
    );
    row.verdict = match who {
        Who::Scriptsync => RowVerdict::all(&[used >= floor, per_1000 <= 10.0, u.violations == 0]),
        Who::Naive => RowVerdict::Info,
    };
    row.value("requests_sent", u.sent as f64)
        .value("requests_allowed", u.allowed)
        .value("quota_use", used)
        .value("rate_limited_per_1000", per_1000)
        .value("violations", u.violations as f64);
    row
}
