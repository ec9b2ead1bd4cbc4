//! `scriptsync dlq stats`: counts of matching dead letters by tenant × reason × owed targets,
//! with the oldest and newest age of each group. Read-only (see [`super::scan`]).

use std::collections::BTreeMap;

use serde::Serialize;

use super::list::{Inspection, age};
use super::record::DeadLetterRecord;

/// One (tenant, reason, owed targets) group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub tenant: String,
    pub reason: String,
    /// Owed targets joined by `,` (`-` when none are named: all the change wants).
    pub targets: String,
    pub count: u64,
    pub oldest_age_seconds: Option<u64>,
    pub newest_age_seconds: Option<u64>,
}

/// The whole summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Messages in the DLQ when the pass started (matching or not).
    pub depth: u32,
    /// Matching messages.
    pub matched: u64,
    pub groups: Vec<Group>,
}

impl Stats {
    /// Groups the matches of `inspection`.
    pub fn from_inspection(inspection: &Inspection) -> Self {
        let mut groups: BTreeMap<(String, String, String), Group> = BTreeMap::new();
        for r in &inspection.matched {
            let key = key(r);
            let g = groups.entry(key.clone()).or_insert_with(|| Group {
                tenant: key.0,
                reason: key.1,
                targets: key.2,
                count: 0,
                oldest_age_seconds: None,
                newest_age_seconds: None,
            });
            g.count += 1;
            if let Some(a) = r.age_seconds {
                g.oldest_age_seconds = Some(g.oldest_age_seconds.map_or(a, |o| o.max(a)));
                g.newest_age_seconds = Some(g.newest_age_seconds.map_or(a, |n| n.min(a)));
            }
        }
        Self {
            depth: inspection.total,
            matched: inspection.matched.len() as u64,
            groups: groups.into_values().collect(),
        }
    }

    /// The table printed by `dlq stats`.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{:<16} {:<14} {:<20} {:>7} {:>10} {:>10}\n",
            "TENANT", "REASON", "OWED", "COUNT", "OLDEST", "NEWEST"
        );
        for g in &self.groups {
            out.push_str(&format!(
                "{:<16} {:<14} {:<20} {:>7} {:>10} {:>10}\n",
                g.tenant,
                g.reason,
                g.targets,
                g.count,
                age(g.oldest_age_seconds),
                age(g.newest_age_seconds)
            ));
        }
        out.push_str(&format!(
            "{} matching of {} in the DLQ\n",
            self.matched, self.depth
        ));
        out
    }
}

fn key(r: &DeadLetterRecord) -> (String, String, String) {
    let or_dash = |s: Option<&str>| s.filter(|s| !s.is_empty()).unwrap_or("-").to_owned();
    let targets = r.targets.join(",");
    (
        or_dash(r.tenant.as_deref()),
        or_dash(r.reason.as_deref()),
        or_dash(Some(&targets)),
    )
}
