//! The shape of one gate ([`GateConfig`]): its ceiling, burst, concurrency cap and how it
//! learns (DESIGN §6), built from a quota without naming any target's settings: a fixed
//! window a 429 can teach the gate its share of (Genesys), or a rule the server reports as it
//! goes (ServiceNow).

use std::time::Duration;

use super::rate::{MAX_BURST, RECOVERY_PERIOD, UNLIMITED_PER_MINUTE};

/// The shape of one gate.
#[derive(Debug, Clone, PartialEq)]
pub struct GateConfig {
    /// The ceiling in requests per minute (quota × headroom).
    pub per_minute: f64,
    /// Requests that may go back to back after a quiet spell. With `quota − ceiling` per
    /// window, no window ever sees more than the quota.
    pub burst: u32,
    pub max_concurrency: usize,
    /// Share of a server-reported limit we use (`X-RateLimit-Limit`).
    pub headroom: f64,
    /// How long a spell without a 429 must last for AIMD to give back one step: the quota
    /// window (a minute; shorter only against a simulator with scaled windows).
    pub recovery_period: Duration,
    /// The server's quota window: what a reported limit counts in (Genesys: a minute;
    /// ServiceNow: an hour; scaled only for rehearsals).
    pub window: Duration,
    /// Whether a 429 with a wait ends a fixed window of `window` whose count this gate can
    /// learn its share from (Genesys). ServiceNow reports its limit instead.
    pub learns_from_429: bool,
}

impl GateConfig {
    /// A quota of `quota` requests per fixed `window` that a 429 can teach the gate its share
    /// of (Genesys: `requests_per_minute` per minute, or a rehearsal's scaled window):
    /// `quota` × `headroom` per window, the rest as the burst.
    pub fn learning_window(
        quota: u32,
        window: Duration,
        headroom: f64,
        max_concurrency: usize,
    ) -> Self {
        let quota = f64::from(quota);
        let per_window = quota * headroom;
        let window = window.max(Duration::from_millis(1));
        Self {
            per_minute: per_window * 60.0 / window.as_secs_f64(),
            burst: burst_for(quota - per_window),
            max_concurrency,
            headroom,
            recovery_period: window,
            window,
            learns_from_429: true,
        }
    }

    /// A rule of `per_window` requests per `window` that the server reports as it goes
    /// (ServiceNow: a rate-limit rule per hour, or a rehearsal's scaled hour), × `headroom`;
    /// `None`: no rule, no pacing beyond the concurrency cap.
    pub fn reported_rule(
        per_window: Option<u32>,
        window: Duration,
        headroom: f64,
        max_concurrency: usize,
    ) -> Self {
        let window = window.max(Duration::from_millis(1));
        let (per_minute, burst) = match per_window {
            Some(per_window) => {
                let per_window = f64::from(per_window);
                (
                    per_window * headroom * 60.0 / window.as_secs_f64(),
                    burst_for(per_window * (1.0 - headroom)),
                )
            }
            None => (UNLIMITED_PER_MINUTE, MAX_BURST),
        };
        Self {
            per_minute,
            burst,
            max_concurrency,
            headroom,
            recovery_period: RECOVERY_PERIOD,
            window,
            learns_from_429: false,
        }
    }
}

fn burst_for(spare: f64) -> u32 {
    (spare.floor() as u32).clamp(1, MAX_BURST)
}
