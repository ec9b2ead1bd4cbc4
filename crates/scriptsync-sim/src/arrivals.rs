//! [`Arrivals`]: time-to-target bookkeeping. Records when each change (tenant, script,
//! version) was published, takes the simulator's [`Applied`] events, and answers per target
//! how long each change took until that target held its version *or a newer one* (a newer
//! version makes an older change moot, so coalescing counts as arrival). Changes no target
//! event has covered yet are reported as missing, never dropped.
//!
//! [`percentile`] (nearest rank) and [`LatencySummary`] turn the latencies into the figures
//! the bench and the demo print. Independent of both: only the simulator's event type.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use super::{Applied, SimTarget};

/// (tenant, script id).
type ScriptKey = (String, String);

/// Publish instants and the version frontier every target reached, per script.
#[derive(Debug, Default)]
pub struct Arrivals {
    /// Every change published: (tenant, script) → [(version, published at)].
    published: HashMap<ScriptKey, Vec<(u64, Instant)>>,
    /// (tenant, script, target) → the instants the held version first rose to a new
    /// maximum, in time order: [(highest version so far, at)].
    frontier: HashMap<(String, String, SimTarget), Vec<(u64, Instant)>>,
}

/// Latencies of the changes a target (or every listed target) reached, and how many it did
/// not reach yet.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    pub reached: Vec<Duration>,
    pub missing: usize,
}

impl Arrivals {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes that `version` of `script` was published for `tenant` at `at`.
    pub fn published(&mut self, tenant: &str, script: &str, version: u64, at: Instant) {
        self.published
            .entry((tenant.to_owned(), script.to_owned()))
            .or_default()
            .push((version, at));
    }

    /// Takes one applied write into account (events must come in time order per target,
    /// as the simulator sends them).
    pub fn applied(&mut self, event: &Applied) {
        let key = (event.tenant.clone(), event.script_id.clone(), event.target);
        let steps = self.frontier.entry(key).or_default();
        if steps.last().is_none_or(|&(v, _)| event.version > v) {
            steps.push((event.version, event.at));
        }
    }

    /// Takes every event waiting in `events` without blocking; returns how many.
    pub fn drain(&mut self, events: &mut UnboundedReceiver<Applied>) -> usize {
        let mut n = 0;
        while let Ok(event) = events.try_recv() {
            self.applied(&event);
            n += 1;
        }
        n
    }

    /// When `target` first held `version` of (tenant, script) or a newer one.
    pub fn reached_at(
        &self,
        tenant: &str,
        script: &str,
        version: u64,
        target: SimTarget,
    ) -> Option<Instant> {
        let steps = self
            .frontier
            .get(&(tenant.to_owned(), script.to_owned(), target))?;
        let i = steps.partition_point(|&(v, _)| v < version);
        steps.get(i).map(|&(_, at)| at)
    }

    /// Per change of the tenants `include` accepts: the time until *every* target in
    /// `targets` held it (the latest of them), or missing if one has not yet.
    pub fn latencies(&self, targets: &[SimTarget], include: impl Fn(&str) -> bool) -> Latencies {
        let mut out = Latencies::default();
        for ((tenant, script), changes) in &self.published {
            if !include(tenant) {
                continue;
            }
            for &(version, published) in changes {
                let reached = targets
                    .iter()
                    .map(|&t| self.reached_at(tenant, script, version, t))
                    .try_fold(published, |latest, at| at.map(|at| latest.max(at)));
                match reached {
                    Some(at) => out.reached.push(at.saturating_duration_since(published)),
                    None => out.missing += 1,
                }
            }
        }
        out
    }

    /// Every change published: (tenant, script, version, published at), in no fixed order.
    pub fn publications(&self) -> impl Iterator<Item = (&str, &str, u64, Instant)> + '_ {
        self.published
            .iter()
            .flat_map(|((tenant, script), changes)| {
                changes
                    .iter()
                    .map(move |&(v, at)| (tenant.as_str(), script.as_str(), v, at))
            })
    }
}

/// The nearest-rank `q` quantile (0 < q ≤ 1) of `values` (sorted in place); `None` if empty.
pub fn percentile(values: &mut [Duration], q: f64) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (q * values.len() as f64).ceil().max(1.0) as usize;
    Some(values[rank.min(values.len()) - 1])
}

/// Count, p50, p99, max, and the share reached within `bound` (of reached + missing).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: usize,
    pub missing: usize,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    pub max: Option<Duration>,
    pub bound: Duration,
    /// Of every change (missing ones included), the share reached within `bound`, 0–1.
    pub share_within: f64,
}

impl LatencySummary {
    pub fn of(latencies: &Latencies, bound: Duration) -> Self {
        let mut values = latencies.reached.clone();
        let total = values.len() + latencies.missing;
        let within = values.iter().filter(|d| **d <= bound).count();
        Self {
            count: values.len(),
            missing: latencies.missing,
            p50: percentile(&mut values, 0.50),
            p99: percentile(&mut values, 0.99),
            max: values.last().copied(),
            bound,
            share_within: if total == 0 {
                1.0
            } else {
                within as f64 / total as f64
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn event(t0: Instant, target: SimTarget, script: &str, version: u64, at: u64) -> Applied {
        Applied {
            tenant: "a".into(),
            target,
            script_id: script.into(),
            version,
            deleted: false,
            at: t0 + ms(at),
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&mut v, 0.5), Some(ms(50)));
        assert_eq!(percentile(&mut v, 0.99), Some(ms(99)));
        assert_eq!(percentile(&mut v, 1.0), Some(ms(100)));
        assert_eq!(percentile(&mut [ms(7)], 0.01), Some(ms(7)));
        assert_eq!(percentile(&mut [], 0.5), None);
        let mut unsorted = vec![ms(30), ms(10), ms(20)];
        assert_eq!(percentile(&mut unsorted, 0.5), Some(ms(20)));
    }

    #[test]
    fn a_newer_version_counts_as_arrival_and_missing_changes_are_kept() {
        let t0 = Instant::now();
        let mut a = Arrivals::new();
        for (v, at) in [(1, 0), (2, 100), (3, 200)] {
            a.published("a", "s", v, t0 + ms(at));
        }
        a.published("a", "other", 1, t0);
        // Genesys jumps from nothing to v3 at 500 ms: v1, v2 and v3 all arrive then.
        a.applied(&event(t0, SimTarget::Genesys, "s", 3, 500));
        a.applied(&event(t0, SimTarget::Genesys, "s", 2, 600));
        // ServiceNow gets v1 at 50 ms and v3 at 900 ms.
        a.applied(&event(t0, SimTarget::Servicenow, "s", 1, 50));
        a.applied(&event(t0, SimTarget::Servicenow, "s", 3, 900));
        let mut g = a.latencies(&[SimTarget::Genesys], |_| true);
        g.reached.sort();
        assert_eq!(g.reached, [ms(300), ms(400), ms(500)]);
        assert_eq!(g.missing, 1, "script 'other' never reached Genesys");
        assert_eq!(
            a.reached_at("a", "s", 2, SimTarget::Servicenow),
            Some(t0 + ms(900))
        );
        let both = a.latencies(&[SimTarget::Genesys, SimTarget::Servicenow], |t| t == "a");
        let mut both_reached = both.reached.clone();
        both_reached.sort();
        assert_eq!(both_reached, [ms(500), ms(700), ms(800)]);
        assert_eq!(a.publications().count(), 4);
    }

    #[test]
    fn summary_counts_missing_against_the_share() {
        let latencies = Latencies {
            reached: vec![ms(100), ms(6_000), ms(200)],
            missing: 1,
        };
        let s = LatencySummary::of(&latencies, Duration::from_secs(5));
        assert_eq!((s.count, s.missing), (3, 1));
        assert_eq!((s.p50, s.max), (Some(ms(200)), Some(ms(6_000))));
        assert!((s.share_within - 0.5).abs() < 1e-9);
    }

    #[tokio::test]
    async fn drains_events_from_the_simulator_channel() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let t0 = Instant::now();
        tx.send(event(t0, SimTarget::Genesys, "s", 1, 10)).unwrap();
        let mut a = Arrivals::new();
        a.published("a", "s", 1, t0);
        assert_eq!(a.drain(&mut rx), 1);
        assert_eq!(
            a.latencies(&[SimTarget::Genesys], |_| true).reached,
            [ms(10)]
        );
    }
}
