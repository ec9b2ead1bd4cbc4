//! The bench's result: one [`Row`] per scenario (per size for G, scriptsync and naive side by
//! side for D, E and H), rendered as a Markdown table (the README pastes it as is) and
//! written as JSON with `--json FILE`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::machine::Machine;
use super::worker::WorkerSettings;

/// Whether a row's figure meets its target (the column beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowVerdict {
    Met,
    Missed,
    /// No target: a figure to compare against (ceilings, baselines, H today).
    Info,
    /// The scenario did not complete (its error is the figure).
    Failed,
}

impl RowVerdict {
    fn as_str(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::Missed => "missed",
            Self::Info => "—",
            Self::Failed => "FAILED",
        }
    }

    /// Met when every check holds.
    pub fn all(checks: &[bool]) -> Self {
        if checks.iter().all(|c| *c) {
            Self::Met
        } else {
            Self::Missed
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// "A(a)", "B", "D scriptsync", "G 100k", …
    pub id: String,
    pub what: String,
    pub figure: String,
    pub ratio: String,
    pub target: String,
    pub verdict: RowVerdict,
    /// The figures as numbers, for the JSON.
    pub values: BTreeMap<String, f64>,
}

impl Row {
    pub fn new(id: &str, what: &str) -> Self {
        Self {
            id: id.to_owned(),
            what: what.to_owned(),
            figure: String::new(),
            ratio: String::new(),
            target: String::new(),
            verdict: RowVerdict::Info,
            values: BTreeMap::new(),
        }
    }

    /// A row for a scenario step that did not complete.
    pub fn failed(id: &str, what: &str, error: &anyhow::Error) -> Self {
        let mut row = Self::new(id, what);
        row.figure = format!("error: {error:#}");
        row.verdict = RowVerdict::Failed;
        row
    }

    pub fn value(&mut self, name: &str, v: f64) -> &mut Self {
        self.values.insert(name.to_owned(), v);
        self
    }
}

/// Everything one bench run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub command: String,
    pub quick: bool,
    pub settings: WorkerSettings,
    /// `SCRIPTSYNC__*` variables the worker inherits: they override its settings.
    pub overrides: Vec<String>,
    pub elapsed_secs: f64,
    pub rows: Vec<Row>,
}

impl Report {
    /// The header lines and the Markdown table.
    pub fn render(&self) -> String {
        let m = &self.machine;
        let s = &self.settings;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "scriptsync bench{}: {} cores ({}), Linux {}, RabbitMQ {}, {} build; worker {}",
            if self.quick { " --quick" } else { "" },
            m.cores,
            m.cpu,
            m.kernel,
            m.rabbitmq,
            m.profile,
            m.worker_bin
        );
        let _ = writeln!(
            out,
            "worker settings: prefetch {}, batch.max_changes {}, batch.linger {} ms, max_concurrency {} per gate, headroom {}, log level warn, quorum queues; {:.0} s in all",
            s.prefetch,
            s.max_changes,
            s.linger.as_millis(),
            s.max_concurrency,
            s.headroom,
            self.elapsed_secs
        );
        if !self.overrides.is_empty() {
            let _ = writeln!(
                out,
                "worker settings overridden by the environment: {}",
                self.overrides.join(" ")
            );
        }
        out.push('\n');
        let header = ["row", "what", "figure", "ratio", "target", "verdict"];
        let cells: Vec<[String; 6]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.id.clone(),
                    r.what.clone(),
                    r.figure.clone(),
                    r.ratio.clone(),
                    r.target.clone(),
                    r.verdict.as_str().to_owned(),
                ]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cols: &[String]| {
            let padded: Vec<String> = cols
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        out.push_str(&line(&header.map(String::from)));
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
        for row in &cells {
            out.push_str(&line(row));
        }
        out
    }
}
