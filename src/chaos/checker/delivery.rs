//! The guarantees about what the targets hold: nothing lost (each (tenant, script, target)
//! ends at the newest version owed to it, or that version is in the DLQ with a permanent
//! reason), never an older version written over a newer one, and duplicate writes counted and
//! bounded.

use std::collections::BTreeMap;

use scriptsync::change::TargetKind;

use super::{Key, Limits, Verdict, script_window, with_faults};
use crate::chaos::history::Event;

/// The newest version owed to each (tenant, target, script), and whether it is a retire.
fn owed(history: &[Event]) -> BTreeMap<Key, (u64, bool)> {
    let mut owed: BTreeMap<Key, (u64, bool)> = BTreeMap::new();
    for e in history {
        let Event::Published {
            tenant,
            script,
            version,
            targets,
            retire,
            ..
        } = e
        else {
            continue;
        };
        for target in targets {
            let key = (tenant.clone(), *target, script.clone());
            let newest = owed.entry(key).or_insert((*version, *retire));
            if *version > newest.0 {
                *newest = (*version, *retire);
            }
        }
    }
    owed
}

/// Each key's writes, in the order they were applied: (version, deleted, the event).
pub(super) fn writes(history: &[Event]) -> BTreeMap<Key, Vec<(u64, bool, &Event)>> {
    let mut writes: BTreeMap<Key, Vec<(u64, bool, &Event)>> = BTreeMap::new();
    for e in history {
        if let Event::Applied {
            tenant,
            target,
            script,
            version,
            deleted,
            ..
        } = e
        {
            let key = (tenant.clone(), *target, script.clone());
            writes.entry(key).or_default().push((*version, *deleted, e));
        }
    }
    writes
}

/// Every confirmed change is at each target it is owed (the newest version last), or in the
/// DLQ with a permanent reason.
pub fn nothing_lost(history: &[Event]) -> Verdict {
    let owed = owed(history);
    let writes = writes(history);
    let mut dead: BTreeMap<Key, u64> = BTreeMap::new();
    for e in history {
        if let Event::DeadLettered {
            tenant,
            script,
            version,
            targets,
            permanent: true,
            ..
        } = e
        {
            for target in targets {
                let key = (tenant.clone(), *target, script.clone());
                let v = dead.entry(key).or_insert(*version);
                *v = (*v).max(*version);
            }
        }
    }
    let (mut reached, mut dead_lettered, mut lost) = (0, 0, Vec::new());
    for (key, (version, retire)) in &owed {
        let last = writes.get(key).and_then(|w| w.last());
        let holds = match last {
            // A retire owed: the script is gone (never written is gone too).
            None => *retire,
            Some((_, deleted, _)) if *retire => *deleted,
            Some((held, deleted, _)) => !deleted && held >= version,
        };
        if holds {
            reached += 1;
        } else if dead.get(key).is_some_and(|v| v >= version) {
            dead_lettered += 1;
        } else {
            lost.push(key);
        }
    }
    let evidence = lost
        .first()
        .map(|(tenant, _, script)| script_window(history, tenant, script))
        .unwrap_or_default();
    Verdict {
        guarantee: "nothing lost",
        figure: format!(
            "{reached} of {} (tenant, script, target) at their newest version, {dead_lettered} in \
             the DLQ with a permanent reason, {} lost{}",
            owed.len(),
            lost.len(),
            lost.first()
                .map(|(t, k, s)| format!(" (first: {t} {s} at {k})"))
                .unwrap_or_default()
        ),
        held: lost.is_empty(),
        evidence,
    }
}

/// No write of an older version after a newer one, at any moment, at either target. A
/// Genesys deletion carries the version its row held, not the retire's: it is no write.
pub fn never_older_over_newer(history: &[Event]) -> Verdict {
    let writes = writes(history);
    let (mut checked, mut bad) = (0usize, Vec::new());
    for ((tenant, target, script), list) in &writes {
        let mut newest: Option<&Event> = None;
        let mut high = 0;
        for (version, deleted, e) in list {
            if *deleted && *target == TargetKind::Genesys {
                continue;
            }
            checked += 1;
            if *version < high {
                bad.push((tenant, script, newest, *e));
            } else {
                high = *version;
                newest = Some(e);
            }
        }
    }
    let evidence = bad
        .first()
        .map(|(_, _, newer, older)| {
            let pair = newer.iter().copied().chain(std::iter::once(*older));
            let from = newer.map_or(older.at_ms(), Event::at_ms);
            with_faults(history, pair, from, older.at_ms())
        })
        .unwrap_or_default();
    Verdict {
        guarantee: "never older over newer",
        figure: format!(
            "{} of {checked} writes older than one applied before them{}",
            bad.len(),
            bad.first()
                .map(|(t, s, _, _)| format!(" (first: {t} {s})"))
                .unwrap_or_default()
        ),
        held: bad.is_empty(),
        evidence,
    }
}

/// Writes of a version the target already held: counted, and at most a share of all writes
/// (a redelivery after a crash may write once more; a loop of them may not).
pub fn duplicates_bounded(history: &[Event], limits: &Limits) -> Verdict {
    let writes = writes(history);
    let (mut total, mut duplicates, mut first) = (0usize, 0usize, None);
    for list in writes.values() {
        let mut held: Option<u64> = None;
        for (version, deleted, e) in list {
            total += 1;
            if *deleted {
                held = None;
                continue;
            }
            if held == Some(*version) {
                duplicates += 1;
                first.get_or_insert(*e);
            }
            held = Some(*version);
        }
    }
    let share = duplicates as f64 / total.max(1) as f64;
    let evidence = first
        .and_then(Event::script)
        .map(|(tenant, script)| script_window(history, tenant, script))
        .unwrap_or_default();
    let held = share <= limits.duplicate_share;
    Verdict {
        guarantee: "duplicates bounded",
        figure: format!(
            "{duplicates} of {total} writes held already ({:.2} %, bound {:.0} %)",
            share * 100.0,
            limits.duplicate_share * 100.0
        ),
        held,
        evidence: if held { Vec::new() } else { evidence },
    }
}
