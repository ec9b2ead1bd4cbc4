//! The demo's closing summary and its check: the simulator must hold exactly the newest
//! version of every script at both targets, with no request sent into a pause.

use std::fmt::Write as _;

use crate::metrics::Metrics;
use crate::sim::SimState;

use super::burst::Expected;

/// Figures of one demo run.
pub struct Summary {
    pub published: u64,
    pub consumed: u64,
    pub delivered_genesys: u64,
    pub delivered_servicenow: u64,
    pub superseded: u64,
    pub retried: u64,
    pub rate_limited: u64,
    pub dead_lettered: u64,
    pub violations: u64,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub elapsed_secs: f64,
    /// Scripts whose held version differs from the newest published, per target.
    pub mismatches: Vec<String>,
}

impl Summary {
    pub fn collect(
        metrics: &Metrics,
        sim: &SimState,
        expected: &Expected,
        published: u64,
        elapsed_secs: f64,
    ) -> Self {
        let sum = |family: &str, labels: &[(&str, &str)]| {
            metrics.counter_sum(family, labels).round() as u64
        };
        let mut mismatches = Vec::new();
        for ((tenant, script), &version) in expected {
            let state = sim.tenants.get(tenant);
            for (target, held) in [
                (
                    "genesys",
                    state
                        .and_then(|s| s.genesys.held.get(script))
                        .map(|h| h.version),
                ),
                (
                    "servicenow",
                    state
                        .and_then(|s| s.servicenow.held.get(script))
                        .map(|h| h.version),
                ),
            ] {
                if held != Some(version) {
                    mismatches.push(format!(
                        "{tenant}/{script} at {target}: holds {held:?}, newest is {version}"
                    ));
                }
            }
        }
        let violations = sim
            .tenants
            .values()
            .map(|t| t.genesys.violations + t.servicenow.violations)
            .sum();
        Self {
            published,
            consumed: sum("scriptsync_changes_consumed_total", &[]),
            delivered_genesys: sum(
                "scriptsync_pushes_total",
                &[("target", "genesys"), ("outcome", "delivered")],
            ),
            delivered_servicenow: sum(
                "scriptsync_pushes_total",
                &[("target", "servicenow"), ("outcome", "delivered")],
            ),
            superseded: sum("scriptsync_superseded_total", &[]),
            retried: sum("scriptsync_retries_total", &[]),
            rate_limited: sum("scriptsync_rate_limited_total", &[]),
            dead_lettered: sum("scriptsync_dead_lettered_total", &[]),
            violations,
            p50: metrics.end_to_end_quantile(0.5),
            p99: metrics.end_to_end_quantile(0.99),
            elapsed_secs,
            mismatches,
        }
    }

    /// True when the targets hold exactly the newest versions and no pause was violated.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty() && self.violations == 0
    }

    pub fn render(&self) -> String {
        let secs = |v: Option<f64>| v.map_or("n/a".into(), |s| format!("≤ {s} s"));
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nscriptsync demo summary ({:.1} s)",
            self.elapsed_secs
        );
        let _ = writeln!(out, "  published              {}", self.published);
        let _ = writeln!(out, "  consumed               {}", self.consumed);
        let _ = writeln!(
            out,
            "  delivered: genesys     {}  (row upserts, after coalescing)",
            self.delivered_genesys
        );
        let _ = writeln!(
            out,
            "  delivered: servicenow  {}  (import records)",
            self.delivered_servicenow
        );
        let _ = writeln!(
            out,
            "  superseded             {}  (acked; a newer version won)",
            self.superseded
        );
        let _ = writeln!(out, "  retried requests       {}", self.retried);
        let _ = writeln!(out, "  429s received          {}", self.rate_limited);
        let _ = writeln!(out, "  dead-lettered          {}", self.dead_lettered);
        let _ = writeln!(
            out,
            "  violations             {}  (requests sent during a pause)",
            self.violations
        );
        let _ = writeln!(
            out,
            "  end-to-end p50 / p99   {} / {}  (published_at → acked, histogram bucket bound)",
            secs(self.p50),
            secs(self.p99)
        );
        if self.mismatches.is_empty() {
            let _ = writeln!(
                out,
                "  check                  PASS: the simulator holds the newest version of every script at both targets"
            );
        } else {
            let _ = writeln!(
                out,
                "  check                  FAIL: {} script(s) not at their newest version",
                self.mismatches.len()
            );
            for m in self.mismatches.iter().take(10) {
                let _ = writeln!(out, "    {m}");
            }
        }
        out
    }
}
