//! The checker: reads a whole history and gives a [`Verdict`] per guarantee (issue "chaos
//! with a checker"): nothing lost, never older over newer, no request into a pause, no
//! cross-tenant credential, duplicates bounded, latency outside fault windows, memory flat.
//! A failed guarantee carries the smallest window of history that shows it: the events of the
//! one (tenant, script) or (tenant, target) concerned, and the faults around them.

use scriptsync::change::TargetKind;

use super::history::Event;

mod delivery;
mod safety;
mod timing;

/// One guarantee, judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub guarantee: &'static str,
    /// What was measured, in words and figures.
    pub figure: String,
    pub held: bool,
    /// For a failure: the events that show it.
    pub evidence: Vec<Event>,
}

/// The bounds the guarantees are held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most duplicate writes (a version the target already held), as a share of all writes.
    pub duplicate_share: f64,
    /// Longest p99 time-to-newest for in-quota tenants outside fault windows.
    pub latency_p99_ms: u64,
    /// How long after a fault ends its effects may still be felt (not a latency sample).
    pub fault_grace_ms: u64,
    /// Memory: the last window's peak at most this × the first window's peak.
    pub memory_growth: f64,
    /// The memory windows: this long at most, else a third of the run.
    pub memory_window_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            duplicate_share: 0.05,
            latency_p99_ms: 5_000,
            fault_grace_ms: 5_000,
            memory_growth: 1.1,
            memory_window_ms: 600_000,
        }
    }
}

/// Every guarantee, judged against `history`.
pub fn check(history: &[Event], limits: &Limits) -> Vec<Verdict> {
    vec![
        delivery::nothing_lost(history),
        delivery::never_older_over_newer(history),
        safety::no_request_into_a_pause(history),
        safety::no_cross_tenant_credential(history),
        delivery::duplicates_bounded(history, limits),
        timing::latency(history, limits),
        timing::memory_flat(history, limits),
    ]
}

/// A (tenant, target, script).
pub(crate) type Key = (String, TargetKind, String);

/// The events about `tenant`'s `script` (at any target), and the faults that overlap the time
/// they span: the window that shows what happened to one script.
pub(crate) fn script_window(history: &[Event], tenant: &str, script: &str) -> Vec<Event> {
    let about: Vec<&Event> = history
        .iter()
        .filter(|e| e.script() == Some((tenant, script)))
        .collect();
    let (Some(first), Some(last)) = (about.first(), about.last()) else {
        return Vec::new();
    };
    with_faults(history, about.iter().copied(), first.at_ms(), last.at_ms())
}

/// `events` with the faults that overlap `from_ms..=to_ms`, in history order.
pub(crate) fn with_faults<'a>(
    history: &'a [Event],
    events: impl Iterator<Item = &'a Event>,
    from_ms: u64,
    to_ms: u64,
) -> Vec<Event> {
    let mut out: Vec<Event> = events.cloned().collect();
    out.extend(
        history
            .iter()
            .filter(|e| match e {
                Event::Fault {
                    at_ms, until_ms, ..
                } => *at_ms <= to_ms && *until_ms >= from_ms,
                _ => false,
            })
            .cloned(),
    );
    out.sort_by_key(Event::at_ms);
    out
}

/// The seed and duration of the run, from its `Began` line.
pub fn began(history: &[Event]) -> Option<(u64, u64, &[String])> {
    history.iter().find_map(|e| match e {
        Event::Began {
            seed,
            duration_ms,
            in_quota,
        } => Some((*seed, *duration_ms, in_quota.as_slice())),
        _ => None,
    })
}

#[cfg(test)]
#[path = "checker_tests.rs"]
mod tests;
