//! The quota-optimal lower bound of scenario H ([`crate::cli::BOUND_FORMULA`] in words): an
//! ideal sender per tenant that spends every request the quota × headroom allows, in fixed
//! windows starting at the first publish, with zero network time, and at each request slot
//! sends the newest published version of the script whose oldest unserved change is oldest.
//! A pure function of the quota and the publish times, so the bench feeds it the run's real
//! publish times and divides the measured p99 by the bound's.

use std::collections::BTreeMap;
use std::time::Duration;

/// The ideal sender's quota.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdealSender {
    /// Requests the quota allows per window.
    pub requests: u32,
    /// Share of the quota used (N = floor(requests × headroom)).
    pub headroom: f64,
    pub window: Duration,
    /// Requests one write of a script costs (1: PUT for a known row, POST for a new one).
    pub requests_per_write: u32,
}

/// One change: which script, and when it was published (offset from any fixed origin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publication {
    pub script: usize,
    pub at: Duration,
}

impl IdealSender {
    /// N: requests usable per window.
    pub fn slots(&self) -> u32 {
        (f64::from(self.requests) * self.headroom + 1e-9).floor() as u32
    }

    /// Bound latency of every publication (same order as `pubs`): from its publication to
    /// the ideal write that covers it. `None` when a window cannot afford a single write.
    /// Versions are taken to rise with publication time per script, so a write of the newest
    /// published version covers every earlier unserved change of that script.
    pub fn latencies(&self, pubs: &[Publication]) -> Option<Vec<Duration>> {
        let per_window = self.slots() / self.requests_per_write.max(1);
        if per_window == 0 || self.window.is_zero() {
            return None;
        }
        let mut order: Vec<usize> = (0..pubs.len()).collect();
        order.sort_by_key(|&i| (pubs[i].at, i));
        let Some(&first) = order.first() else {
            return Some(Vec::new());
        };
        let t0 = pubs[first].at;
        let window_start = |k: u32| t0 + self.window * k;
        let mut latency = vec![Duration::ZERO; pubs.len()];
        // script → its unserved changes in publication order.
        let mut pending: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let (mut next, mut window, mut left, mut now) = (0, 0u32, per_window, t0);
        loop {
            while next < order.len() && pubs[order[next]].at <= now {
                let i = order[next];
                pending.entry(pubs[i].script).or_default().push(i);
                next += 1;
            }
            if left > 0 {
                // The script whose oldest unserved change is oldest (then by index).
                let oldest = pending
                    .iter()
                    .min_by_key(|(_, changes)| (pubs[changes[0]].at, changes[0]))
                    .map(|(&script, _)| script);
                if let Some(script) = oldest {
                    for i in pending.remove(&script).unwrap_or_default() {
                        latency[i] = now - pubs[i].at;
                    }
                    left -= 1;
                    continue;
                }
            }
            if pending.is_empty() {
                let Some(&i) = order.get(next) else {
                    return Some(latency);
                };
                now = pubs[i].at;
                let k = ((now - t0).as_nanos() / self.window.as_nanos()) as u32;
                if k != window {
                    (window, left) = (k, per_window);
                }
            } else {
                window += 1;
                left = per_window;
                now = window_start(window);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn sender(requests: u32, window: u64) -> IdealSender {
        IdealSender {
            requests,
            headroom: 1.0,
            window: s(window),
            requests_per_write: 1,
        }
    }

    fn at(script: usize, secs: u64) -> Publication {
        Publication {
            script,
            at: s(secs),
        }
    }

    #[test]
    fn headroom_floors_the_slots() {
        let h = IdealSender {
            headroom: 0.9,
            ..sender(10, 5)
        };
        assert_eq!(h.slots(), 9);
        assert_eq!(
            IdealSender {
                headroom: 0.9,
                ..sender(300, 60)
            }
            .slots(),
            270
        );
    }

    #[test]
    fn one_write_per_window_serves_scripts_in_turn() {
        let pubs = [at(0, 0), at(1, 0), at(2, 0)];
        assert_eq!(sender(1, 5).latencies(&pubs).unwrap(), [s(0), s(5), s(10)]);
    }

    #[test]
    fn late_binding_covers_every_older_version_with_one_write() {
        // v1 at 0 goes at once; v2 (t=1) and v3 (t=2) wait for the next window and share
        // its single write.
        let pubs = [at(0, 0), at(0, 1), at(0, 2)];
        assert_eq!(sender(1, 5).latencies(&pubs).unwrap(), [s(0), s(4), s(3)]);
    }

    #[test]
    fn oldest_unserved_change_goes_first() {
        // Window 0 writes script 0 (t=0). At t=5 both wait: script 1 since t=1, script 0
        // since t=3, so script 1 goes first, script 0 at t=10.
        let pubs = [at(0, 0), at(1, 1), at(0, 3)];
        assert_eq!(sender(1, 5).latencies(&pubs).unwrap(), [s(0), s(4), s(7)]);
    }

    #[test]
    fn windows_start_at_the_first_publish_and_idle_windows_are_skipped() {
        let pubs = [at(0, 2), at(1, 2), at(2, 13)];
        // Windows [2,7), [7,12), [12,17): the third change is written on arrival.
        assert_eq!(sender(1, 5).latencies(&pubs).unwrap(), [s(0), s(5), s(0)]);
    }

    #[test]
    fn a_write_costing_more_than_a_window_is_impossible() {
        let costly = IdealSender {
            requests_per_write: 2,
            ..sender(1, 5)
        };
        assert_eq!(costly.latencies(&[at(0, 0)]), None);
        assert_eq!(sender(1, 5).latencies(&[]), Some(vec![]));
    }

    #[test]
    fn two_requests_per_write_halve_the_writes() {
        let two = IdealSender {
            requests_per_write: 2,
            ..sender(2, 5)
        };
        let pubs = [at(0, 0), at(1, 0)];
        assert_eq!(two.latencies(&pubs).unwrap(), [s(0), s(5)]);
    }
}
