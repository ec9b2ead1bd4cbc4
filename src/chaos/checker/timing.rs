//! The guarantees about time and memory: the p99 time for an in-quota tenant's change to be
//! the newest at its target, outside fault windows, and each worker's memory flat over the run
//! (the last window's peak within a share of the first's).

use std::collections::{BTreeMap, BTreeSet};

use super::delivery::writes;
use super::{Limits, Verdict, began, script_window};
use crate::chaos::history::Event;

/// p99 time-to-newest of in-quota tenants' changes published outside fault windows (and
/// their grace): from the publish to the first write at each owed target that holds it or a
/// newer version (a retire: the script gone).
pub fn latency(history: &[Event], limits: &Limits) -> Verdict {
    let in_quota: BTreeSet<&str> =
        began(history).map_or_else(BTreeSet::new, |b| b.2.iter().map(String::as_str).collect());
    let faults: Vec<(u64, u64)> = history
        .iter()
        .filter_map(|e| match e {
            Event::Fault {
                at_ms, until_ms, ..
            } => Some((*at_ms, *until_ms)),
            _ => None,
        })
        .collect();
    let quiet = |at: u64| {
        faults.iter().all(|(from, until)| {
            at + limits.latency_p99_ms < *from || at > until + limits.fault_grace_ms
        })
    };
    let writes = writes(history);
    let mut samples: Vec<(u64, &Event)> = Vec::new();
    for e in history {
        let Event::Published {
            at_ms,
            tenant,
            script,
            version,
            targets,
            retire,
        } = e
        else {
            continue;
        };
        if !in_quota.contains(tenant.as_str()) || !quiet(*at_ms) {
            continue;
        }
        for target in targets {
            let Some(list) = writes.get(&(tenant.clone(), *target, script.clone())) else {
                continue;
            };
            // Applied in history order, so the writes after the publish are a tail.
            let after = list.partition_point(|(_, _, w)| w.at_ms() < *at_ms);
            // A retire is reached by the deletion of the row or record, unless a newer
            // version comes first (then it was never observable: no sample).
            let holds = |(v, deleted, _): &&(u64, bool, &Event)| {
                if *retire {
                    *deleted || v > version
                } else {
                    !deleted && v >= version
                }
            };
            if let Some((_, deleted, w)) = list[after..].iter().find(holds)
                && (!*retire || *deleted)
            {
                samples.push((w.at_ms() - at_ms, e));
            }
        }
    }
    samples.sort_by_key(|(ms, _)| *ms);
    let p99 = samples
        .get((samples.len() * 99).div_ceil(100).saturating_sub(1))
        .map_or(0, |(ms, _)| *ms);
    let held = p99 <= limits.latency_p99_ms;
    let evidence = match samples.last() {
        Some((_, e)) if !held => e
            .script()
            .map(|(t, s)| script_window(history, t, s))
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    Verdict {
        guarantee: "latency",
        figure: format!(
            "p99 time-to-newest {:.2} s over {} in-quota changes outside fault windows (bound {:.0} s)",
            p99 as f64 / 1000.0,
            samples.len(),
            limits.latency_p99_ms as f64 / 1000.0
        ),
        held,
        evidence,
    }
}

/// Each worker process sampled in both windows: the last window's peak resident memory is at
/// most `memory_growth` × the first window's.
pub fn memory_flat(history: &[Event], limits: &Limits) -> Verdict {
    let duration = began(history).map_or(0, |b| b.1);
    let window = limits.memory_window_ms.min(duration / 3);
    let mut peaks: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for e in history {
        if let Event::Rss {
            at_ms,
            worker,
            bytes,
        } = e
        {
            let peak = peaks.entry(worker).or_default();
            if *at_ms < window {
                peak.0 = peak.0.max(*bytes);
            } else if *at_ms >= duration.saturating_sub(window) {
                peak.1 = peak.1.max(*bytes);
            }
        }
    }
    let compared: Vec<(&str, f64)> = peaks
        .iter()
        .filter(|(_, (first, last))| *first > 0 && *last > 0)
        .map(|(w, (first, last))| (*w, *last as f64 / *first as f64))
        .collect();
    let worst = compared
        .iter()
        .copied()
        .fold(None, |worst: Option<(&str, f64)>, c| match worst {
            Some(w) if w.1 >= c.1 => Some(w),
            _ => Some(c),
        });
    let held = worst.is_none_or(|(_, growth)| growth <= limits.memory_growth);
    let evidence = match worst {
        Some((name, _)) if !held => history
            .iter()
            .filter(|e| matches!(e, Event::Rss { worker, .. } if worker == name))
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    Verdict {
        guarantee: "memory flat",
        figure: match worst {
            Some((name, growth)) => format!(
                "{} workers compared; worst {name}: last {:.0} s peak {growth:.2} × the first's \
                 (bound {:.2} ×)",
                compared.len(),
                window as f64 / 1000.0,
                limits.memory_growth
            ),
            None => "no worker sampled in both windows".to_owned(),
        },
        held: held && !compared.is_empty(),
        evidence,
    }
}
