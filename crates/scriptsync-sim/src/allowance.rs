//! [`Gate`]: what one (principal, target) may still send: its quota window (shared, for
//! Genesys, with another integration of the same org), its Genesys daily window, and its pause.
//!
//! Another integration with share `s` of a window whose limit is `L` has sent
//! `floor(s × L × f)` requests when the window is a fraction `f` through (spread evenly); a
//! request is admitted only while `own admitted + that < L`. Its requests are counted when this
//! principal's requests arrive (each arrival adds what the other sent since the last one in the
//! same window), so `other_requests` covers the windows this principal used, up to its latest
//! request, at the share in force when each request arrived.
//!
//! The daily window is judged first: when both are used up, the longer wait is the true one.
//! A request is counted in both windows only when both have room.

use std::time::Duration;

use tokio::time::Instant;

use super::quota::{FixedWindow, Pause};
use super::{SimConfig, SimTarget};

/// What the simulator tracks per (principal, target): its quotas (if any) and its pause.
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    pub(crate) window: Option<FixedWindow>,
    /// Genesys only: the `genesys_daily_limit` window.
    pub(crate) day: Option<FixedWindow>,
    pub(crate) pause: Pause,
    other: OtherSeen,
}

/// The other integration's requests already counted in one window.
#[derive(Debug, Clone, Copy, Default)]
struct OtherSeen {
    index: u128,
    counted: u32,
}

/// A used-up window: how long until it ends, and its limit and length (for the wording of a
/// legacy Genesys 429).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exhausted {
    pub(crate) wait: Duration,
    pub(crate) limit: u32,
    pub(crate) window: Duration,
}

/// The quota's answer to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quota {
    /// Requests the other integration sent since this principal's previous request.
    pub(crate) other_sent: u32,
    pub(crate) verdict: Result<(), Exhausted>,
}

impl Gate {
    pub(crate) fn new(window: Option<FixedWindow>, day: Option<FixedWindow>) -> Self {
        Self {
            window,
            day,
            pause: Pause::default(),
            other: OtherSeen::default(),
        }
    }

    /// A fresh gate for `target`, per the config, with windows aligned to `origin`: its quota
    /// window (`None`: no quota) and, for Genesys, the daily window.
    pub(crate) fn for_target(config: &SimConfig, origin: Instant, target: SimTarget) -> Self {
        match target {
            SimTarget::Genesys => Self::new(
                Some(FixedWindow::new(
                    config.genesys_requests_per_minute,
                    config.genesys_window,
                    origin,
                )),
                config
                    .genesys_daily_limit
                    .map(|n| FixedWindow::new(n, config.genesys_day, origin)),
            ),
            SimTarget::Servicenow => Self::new(
                config
                    .servicenow_requests_per_hour
                    .map(|n| FixedWindow::new(n, config.servicenow_window(), origin)),
                None,
            ),
        }
    }

    /// Admits one request at `now` (counting it in every window) or says which window is used
    /// up. `share`: the other integration's share of the quota window (0.0: none).
    pub(crate) fn admit(&mut self, now: Instant, share: f64) -> Quota {
        let mut other_now = 0;
        let mut other_sent = 0;
        if let Some(window) = &self.window {
            other_now = other_consumption(share, window.limit(), window.elapsed_fraction(now));
            other_sent = self.other.observe(window.index_at(now), other_now);
        }
        let exhausted = |window: &FixedWindow, wait| Exhausted {
            wait,
            limit: window.limit(),
            window: window.length(),
        };
        if let Some(day) = self.day.as_mut()
            && let Err(wait) = day.room(now, 0)
        {
            let verdict = Err(exhausted(day, wait));
            return Quota {
                other_sent,
                verdict,
            };
        }
        if let Some(window) = self.window.as_mut()
            && let Err(wait) = window.room(now, other_now)
        {
            let verdict = Err(exhausted(window, wait));
            return Quota {
                other_sent,
                verdict,
            };
        }
        for window in [self.window.as_mut(), self.day.as_mut()]
            .into_iter()
            .flatten()
        {
            window.take();
        }
        Quota {
            other_sent,
            verdict: Ok(()),
        }
    }
}

impl OtherSeen {
    /// Notes that the other integration has sent `now_sent` requests in window `index`;
    /// returns how many of them were not counted yet.
    fn observe(&mut self, index: u128, now_sent: u32) -> u32 {
        if index != self.index {
            *self = Self { index, counted: 0 };
        }
        let new = now_sent.saturating_sub(self.counted);
        self.counted = self.counted.max(now_sent);
        new
    }
}

/// Requests another integration with `share` of a `limit` has sent `fraction` of the way
/// through a window: `floor(share × limit × fraction)`.
pub(crate) fn other_consumption(share: f64, limit: u32, fraction: f64) -> u32 {
    if share.is_nan() || share <= 0.0 {
        return 0;
    }
    let exact = share.min(1.0) * f64::from(limit) * fraction.clamp(0.0, 1.0);
    // A hair of tolerance, so a product that is mathematically whole is not floored below it.
    (exact + 1e-9).floor() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_other_integration_consumes_its_share_evenly() {
        assert_eq!(other_consumption(0.5, 10, 0.0), 0);
        assert_eq!(other_consumption(0.5, 10, 0.5), 2, "floor(2.5)");
        assert_eq!(other_consumption(1.0, 10, 0.3), 3);
        assert_eq!(other_consumption(1.0, 300, 0.7), 210);
        assert_eq!(other_consumption(0.0, 10, 0.9), 0);
        assert_eq!(other_consumption(f64::NAN, 10, 0.9), 0);
        assert_eq!(
            other_consumption(7.0, 10, 0.5),
            5,
            "clamped to the whole quota"
        );
    }

    #[test]
    fn own_plus_other_must_stay_below_the_limit() {
        let origin = Instant::now();
        let window = FixedWindow::new(10, ms(1_000), origin);
        let mut gate = Gate::new(Some(window), None);
        // Half-way through, a full share has used 5: this principal gets the other 5 … minus
        // what the other keeps sending meanwhile.
        let at = |gate: &mut Gate, t| gate.admit(origin + ms(t), 1.0);
        let first = at(&mut gate, 500);
        assert_eq!((first.other_sent, first.verdict), (5, Ok(())));
        for _ in 0..3 {
            assert_eq!(
                at(&mut gate, 500),
                Quota {
                    other_sent: 0,
                    verdict: Ok(())
                }
            );
        }
        let refused = at(&mut gate, 600);
        assert_eq!(refused.other_sent, 1);
        assert_eq!(
            refused.verdict,
            Err(Exhausted {
                wait: ms(400),
                limit: 10,
                window: ms(1_000)
            })
        );
        // The next window starts fresh for both.
        let next = at(&mut gate, 1_000);
        assert_eq!((next.other_sent, next.verdict), (0, Ok(())));
        assert_eq!(at(&mut gate, 1_900).other_sent, 9);
    }

    #[test]
    fn the_day_window_is_judged_first_and_counts_only_admitted_requests() {
        let origin = Instant::now();
        let minute = FixedWindow::new(2, ms(1_000), origin);
        let day = FixedWindow::new(3, ms(10_000), origin);
        let mut gate = Gate::new(Some(minute), Some(day));
        let verdict = |gate: &mut Gate, t| gate.admit(origin + ms(t), 0.0).verdict;
        assert!(verdict(&mut gate, 0).is_ok() && verdict(&mut gate, 0).is_ok());
        let minute_full = verdict(&mut gate, 100).unwrap_err();
        assert_eq!((minute_full.wait, minute_full.limit), (ms(900), 2));
        assert!(
            verdict(&mut gate, 1_000).is_ok(),
            "the refusal took nothing"
        );
        let day_full = verdict(&mut gate, 2_500).unwrap_err();
        assert_eq!(
            day_full,
            Exhausted {
                wait: ms(7_500),
                limit: 3,
                window: ms(10_000)
            }
        );
        assert!(verdict(&mut gate, 10_000).is_ok(), "a new day");
    }
}
