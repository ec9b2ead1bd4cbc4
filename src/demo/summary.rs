//! The demo's closing summary and its check: the simulator must hold exactly the newest
//! version of every script at both targets, with no request sent into a pause. Latencies are
//! exact, per target: from each change's publication until that target held its version or
//! a newer one (the demo knows both instants: it published, and the simulator says when it
//! applied each write).

use std::fmt::Write as _;
use std::time::Duration;

use scriptsync_sim::{Arrivals, LatencySummary, SimState, SimTarget};

use scriptsync::change::{Operation, TargetKind};
use scriptsync::status::{PushOutcomeLabel, StatusSnapshot};

use super::burst::Expected;

/// The 5-second window agents have to show the right disclaimer.
const WINDOW: Duration = Duration::from_secs(5);

/// What one demo run produced, for [`Summary::collect`].
pub struct Run<'a> {
    pub sim: &'a SimState,
    pub expected: &'a Expected,
    pub arrivals: &'a Arrivals,
    pub published: u64,
    pub elapsed_secs: f64,
}

/// Figures of one demo run.
pub struct Summary {
    pub published: u64,
    pub consumed: u64,
    pub delivered_genesys: u64,
    pub delivered_servicenow: u64,
    /// Retires carried out, both targets together (rows deleted, records marked retired).
    pub retired: u64,
    pub superseded: u64,
    pub retried: u64,
    pub rate_limited: u64,
    pub dead_lettered: u64,
    pub violations: u64,
    /// Publication → the target holds it (or newer), per target.
    pub genesys: LatencySummary,
    pub servicenow: LatencySummary,
    pub elapsed_secs: f64,
    /// Scripts whose held version differs from the newest published, per target.
    pub mismatches: Vec<String>,
}

impl Summary {
    /// The figures of `run`, counts from the worker's status board `now`.
    pub fn collect(now: &StatusSnapshot, run: &Run<'_>) -> Self {
        let delivered =
            |target| now.total(|t| t.target(target).pushes.get(PushOutcomeLabel::Delivered));
        let latency = |target| {
            let l = run.arrivals.latencies(&[target], |_| true);
            LatencySummary::of(&l, WINDOW)
        };
        Self {
            published: run.published,
            consumed: now.total(|t| t.consumed),
            delivered_genesys: delivered(TargetKind::Genesys),
            delivered_servicenow: delivered(TargetKind::Servicenow),
            retired: now.total(|t| t.sum_targets(|x| x.retired)),
            superseded: now.total(|t| t.superseded),
            retried: now.total(|t| t.sum_targets(|x| x.retries)),
            rate_limited: now.total(|t| t.sum_targets(|x| x.rate_limited)),
            dead_lettered: now.total(|t| t.dead_lettered_total()),
            violations: run.sim.total_violations(),
            genesys: latency(SimTarget::Genesys),
            servicenow: latency(SimTarget::Servicenow),
            elapsed_secs: run.elapsed_secs,
            mismatches: mismatches(run.sim, run.expected),
        }
    }

    /// True when the targets hold exactly the newest versions and no pause was violated.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty() && self.violations == 0
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut line = |text: String| {
            let _ = writeln!(out, "{text}");
        };
        line(format!(
            "\nscriptsync demo summary ({:.1} s)",
            self.elapsed_secs
        ));
        line(format!("  published              {}", self.published));
        line(format!("  consumed               {}", self.consumed));
        line(format!(
            "  delivered: genesys     {}  (row writes, after coalescing)",
            self.delivered_genesys
        ));
        line(format!(
            "  delivered: servicenow  {}  (import records)",
            self.delivered_servicenow
        ));
        line(format!(
            "  retired                {}  (Genesys rows deleted + ServiceNow records marked retired)",
            self.retired
        ));
        line(format!(
            "  superseded             {}  (acked; a newer version won)",
            self.superseded
        ));
        line(format!("  retried requests       {}", self.retried));
        line(format!("  429s received          {}", self.rate_limited));
        line(format!("  dead-lettered          {}", self.dead_lettered));
        line(format!(
            "  violations             {}  (requests sent during a pause)",
            self.violations
        ));
        line("  time to target         publish → the target holds it or a newer version".into());
        for (name, l) in [("genesys", &self.genesys), ("servicenow", &self.servicenow)] {
            line(format!("    {name:<11}          {}", latency_line(l)));
        }
        if self.mismatches.is_empty() {
            line("  check                  PASS: the simulator holds the newest version of every script at both targets (retired: no row, the record marked retired)".into());
        } else {
            line(format!(
                "  check                  FAIL: {} script(s) not at their newest version",
                self.mismatches.len()
            ));
            for m in self.mismatches.iter().take(10) {
                line(format!("    {m}"));
            }
        }
        out
    }
}

/// "p50 0.12 s · p99 3.40 s · max 3.52 s · 97.5 % within 5 s" (and what never arrived).
fn latency_line(l: &LatencySummary) -> String {
    let secs =
        |d: Option<Duration>| d.map_or("n/a".into(), |d| format!("{:.2} s", d.as_secs_f64()));
    let mut text = format!(
        "p50 {} · p99 {} · max {} · {:.1} % within {} s",
        secs(l.p50),
        secs(l.p99),
        secs(l.max),
        l.share_within * 100.0,
        l.bound.as_secs()
    );
    if l.missing > 0 {
        let _ = write!(text, " · {} never arrived", l.missing);
    }
    text
}

/// Every (tenant, script, target) that does not hold what the newest message said: its
/// version, live; or, for a retire, no Genesys row and a ServiceNow record retired at it.
fn mismatches(sim: &SimState, expected: &Expected) -> Vec<String> {
    let mut out = Vec::new();
    for ((tenant, script), &(version, op)) in expected {
        let state = sim.tenants.get(tenant);
        for target in [SimTarget::Genesys, SimTarget::Servicenow] {
            let held = state
                .and_then(|s| s.target(target).held.get(script))
                .map(|h| (h.version, h.retired));
            let want = match (op, target) {
                (Operation::Retire, SimTarget::Genesys) => None,
                (Operation::Retire, SimTarget::Servicenow) => Some((version, true)),
                (Operation::Upsert, _) => Some((version, false)),
            };
            if held != want {
                out.push(format!(
                    "{tenant}/{script} at {}: holds {held:?} (version, retired), newest is {want:?}",
                    target.as_str()
                ));
            }
        }
    }
    out
}
