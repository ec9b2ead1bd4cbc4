//! The quota-optimal lower bound of scenario H ([`crate::cli::BOUND_FORMULA`] in words): what
//! no sender within the quota can beat, whatever it knows.
//!
//! A change whose version stays its script's newest can only be served by a write sent after
//! its publication; every other change might have been served at once, so it counts 0. The
//! newest changes compete for the quota: at most N = floor(requests × headroom) requests in
//! any window of length W (sliding, so it holds whatever the server's window alignment), a
//! write costing r requests. Served in publication order, each as early as that allows (the
//! order that minimises every order statistic of their waits), they give the bound's
//! per-change latencies. A pure function of the quota and the publish times: the bench feeds
//! it the run's real publish times and divides the measured p99 by the bound's.

use std::collections::HashMap;
use std::time::Duration;

/// The quota of the ideal sender.
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
/// Versions rise with publication time per script.
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

    /// Bound latency of every publication (same order as `pubs`). `None` when a window
    /// cannot afford a single write.
    pub fn latencies(&self, pubs: &[Publication]) -> Option<Vec<Duration>> {
        let per_window = (self.slots() / self.requests_per_write.max(1)) as usize;
        if per_window == 0 || self.window.is_zero() {
            return None;
        }
        // The newest publication of each script: the only ones that must wait for a write.
        let mut newest: HashMap<usize, usize> = HashMap::new();
        for (i, p) in pubs.iter().enumerate() {
            let slot = newest.entry(p.script).or_insert(i);
            if p.at >= pubs[*slot].at {
                *slot = i;
            }
        }
        let mut order: Vec<usize> = newest.into_values().collect();
        order.sort_by_key(|&i| (pubs[i].at, i));
        let mut latency = vec![Duration::ZERO; pubs.len()];
        let mut sent: Vec<Duration> = Vec::with_capacity(order.len());
        for i in order {
            // The earliest time at or after its publication with fewer than N writes in the
            // window ending there.
            let mut at = pubs[i].at;
            if sent.len() >= per_window {
                at = at.max(sent[sent.len() - per_window] + self.window);
            }
            sent.push(at);
            latency[i] = at - pubs[i].at;
        }
        Some(latency)
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
        let real = IdealSender {
            headroom: 0.9,
            ..sender(300, 60)
        };
        assert_eq!(real.slots(), 270);
    }

    #[test]
    fn n_writes_per_sliding_window() {
        let pubs = [at(0, 0), at(1, 0), at(2, 0)];
        assert_eq!(sender(1, 5).latencies(&pubs).unwrap(), [s(0), s(5), s(10)]);
        assert_eq!(sender(2, 5).latencies(&pubs).unwrap(), [s(0), s(0), s(5)]);
    }

    #[test]
    fn only_the_newest_version_of_a_script_must_wait() {
        // v1..v3 of one script: the older ones count as served at once.
        let pubs = [at(0, 0), at(0, 1), at(0, 2)];
        assert_eq!(sender(1, 5).latencies(&pubs).unwrap(), [s(0), s(0), s(0)]);
        // Two scripts updated together, one write per 5 s: the second newest waits 5 s.
        let pubs = [at(0, 0), at(1, 0), at(0, 4), at(1, 4)];
        assert_eq!(
            sender(1, 5).latencies(&pubs).unwrap(),
            [s(0), s(0), s(0), s(5)]
        );
    }

    #[test]
    fn the_window_slides_from_each_write() {
        // Writes at 0 and 3 (two per 5 s); the third may go at 5, the fourth at 8.
        let pubs = [at(0, 0), at(1, 3), at(2, 3), at(3, 3)];
        assert_eq!(
            sender(2, 5).latencies(&pubs).unwrap(),
            [s(0), s(0), s(2), s(5)]
        );
        // A quiet spell: a late publication is served on arrival.
        let pubs = [at(0, 0), at(1, 0), at(2, 30)];
        assert_eq!(sender(1, 5).latencies(&pubs).unwrap(), [s(0), s(5), s(0)]);
    }

    #[test]
    fn scenario_h_in_numbers() {
        // 20 scripts, 5 versions 1 s apart, 9 requests per 5 s: the 20 newest versions
        // (published at 4 s) go 9 at once, 9 five seconds later, 2 ten seconds later.
        let pubs: Vec<Publication> = (0..5)
            .flat_map(|v| (0..20).map(move |sc| at(sc, v)))
            .collect();
        let ideal = IdealSender {
            headroom: 0.9,
            ..sender(10, 5)
        };
        let mut l = ideal.latencies(&pubs).unwrap();
        l.sort();
        assert_eq!(l.iter().filter(|d| **d == s(10)).count(), 2);
        assert_eq!(l.iter().filter(|d| **d == s(5)).count(), 9);
        assert_eq!(l.last(), Some(&s(10)));
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
}
