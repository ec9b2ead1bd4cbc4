//! Admission of an authenticated API request, in the order the real services apply it:
//! violation check → outage → dropped connection → injected response → error rate → quota →
//! latency.
//!
//! Every 429 (and 503 with a wait) that this step decides records a pause for the
//! (principal, target); a request arriving inside a pause is a violation, answered 429 with the
//! remaining seconds, without extending the pause. The exception is a Genesys quota refusal
//! under the `genesys_legacy_429` fault: it announces no wait, so it records no pause. The
//! quota step itself (window, other integration's share, daily limit) is
//! [`super::allowance::Gate::admit`]. The handlers turn a [`Refusal`] into their own service's
//! error body.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::SimTarget;
use super::allowance::Exhausted;
use super::faults::OutageMode;
use super::injected::InjectedResponse;
use super::quota::ceil_secs;
use super::request_head::RequestHead;
use super::world::Shared;

/// What an outage in `nonsense` mode answers: a page that is no service's.
pub(crate) const NONSENSE_PAGE: &str =
    "<html><head><title>Sign in</title></head><body>Please sign in to continue.</body></html>";

/// A request the simulator will serve, with the per-record faults it must apply.
#[derive(Debug, Clone, Default)]
pub(crate) struct Admitted {
    pub(crate) record_errors: BTreeSet<String>,
    pub(crate) unserviced: BTreeSet<String>,
    /// ServiceNow only: answer 200 with a truncated body and apply nothing.
    pub(crate) truncated: bool,
    /// Genesys only: the org-limits endpoint answers 403 (the `limits_refused` fault).
    pub(crate) limits_refused: bool,
    /// Genesys only: the table counts as full (the `table_full` fault).
    pub(crate) table_full: bool,
}

/// Why a request is answered without reaching its handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Arrived during a pause: 429 with the remaining seconds.
    Paused {
        retry_after: u64,
    },
    /// Close the connection without a response.
    Drop,
    /// Held without an answer until `until` (an outage in `hang` mode), then closed like
    /// [`Refusal::Drop`]. Already counted (status 0) when decided, because the client usually
    /// gives up first and the handler is dropped with its connection.
    Hang {
        until: Instant,
    },
    Injected(InjectedResponse),
    /// Chosen by `error_rate`: 500.
    ServerError,
    /// A quota window (with another integration's share) or the daily limit is used up: 429
    /// with the seconds until it ends.
    OverQuota {
        retry_after: u64,
    },
    /// The same under `genesys_legacy_429`: the old wording with the window's limit and length
    /// in seconds, no `Retry-After`, no pause.
    OverQuotaLegacy {
        limit: u32,
        window_secs: u64,
    },
}

/// ServiceNow `X-RateLimit-*` values for the window the request fell in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateHeaders {
    pub(crate) limit: u32,
    pub(crate) reset_unix: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Decision {
    pub(crate) verdict: Result<Admitted, Refusal>,
    /// Set when a quota applies and the answer comes from the rate-limit rule (a violation,
    /// an over-quota 429 or an admitted request); injected faults carry no such headers.
    pub(crate) rate: Option<RateHeaders>,
}

/// Notes an authenticated API request (its method and path, and the replica that sent it),
/// decides its fate and, if admitted, waits the configured latency.
pub(crate) async fn admit(
    sim: &Shared,
    principal: &str,
    target: SimTarget,
    head: &RequestHead,
) -> Decision {
    let method_and_path = head.method_and_path();
    let replica = head.replica();
    sim.lock()
        .note_request(principal, target, method_and_path, replica);
    let (decision, latency) = decide(sim, principal, target, Instant::now(), SystemTime::now());
    match decision.verdict {
        Ok(_) if !latency.is_zero() => tokio::time::sleep(latency).await,
        Err(Refusal::Hang { until }) => tokio::time::sleep_until(until).await,
        _ => {}
    }
    decision
}

/// The synchronous part of [`admit`]: everything under the lock, at `now`.
fn decide(
    sim: &Shared,
    principal: &str,
    target: SimTarget,
    now: Instant,
    now_wall: SystemTime,
) -> (Decision, Duration) {
    let mut guard = sim.lock();
    let world = &mut *guard;
    world.target(principal, target);
    let (pause_left, rate) = {
        let gate = sim.gate(world, principal, target);
        let rate = gate
            .window
            .as_ref()
            .filter(|_| target == SimTarget::Servicenow)
            .map(|w| RateHeaders {
                limit: w.limit(),
                reset_unix: sim.unix_secs(w.window_end(now)),
            });
        let left = gate.pause.remaining(now);
        let violation = gate.pause.violated_by(now, sim.config.in_flight_grace);
        (left.map(|l| (l, violation)), rate)
    };
    let refuse = |refusal, rate| {
        (
            Decision {
                verdict: Err(refusal),
                rate,
            },
            Duration::ZERO,
        )
    };

    if let Some((left, violation)) = pause_left {
        let state = world.target(principal, target);
        if violation {
            state.violations += 1;
        } else {
            state.in_flight_at_pause += 1;
        }
        return refuse(
            Refusal::Paused {
                retry_after: ceil_secs(left),
            },
            rate,
        );
    }

    let mut admitted = Admitted::default();
    let mut latency = Duration::ZERO;
    let mut error_rate = 0.0;
    let (mut share, mut legacy) = (0.0, false);
    if let Some(faults) = world.faults_for(principal, target) {
        if let Some(outage) = faults.api_outage(now) {
            let refusal = match outage.mode {
                OutageMode::Unavailable => Refusal::Injected(InjectedResponse::new(503)),
                OutageMode::Drop => Refusal::Drop,
                OutageMode::Nonsense => {
                    Refusal::Injected(InjectedResponse::new(502).with_body(NONSENSE_PAGE))
                }
                OutageMode::Hang => {
                    world.count(principal, target, 0);
                    Refusal::Hang {
                        until: outage.until,
                    }
                }
            };
            return refuse(refusal, None);
        }
        if faults.take_drop() {
            return refuse(Refusal::Drop, None);
        }
        if let Some(injected) = faults.next_injected() {
            if let Some(wait) = injected.wait(target, now_wall) {
                sim.gate(world, principal, target)
                    .pause
                    .announce(now, now + wait);
            }
            return refuse(Refusal::Injected(injected), None);
        }
        error_rate = faults.faults.error_rate;
        latency = faults.faults.latency;
        admitted.record_errors = faults.faults.record_errors.clone();
        admitted.unserviced = faults.faults.unserviced.clone();
        admitted.truncated = target == SimTarget::Servicenow && faults.take_truncated();
        if target == SimTarget::Genesys {
            admitted.limits_refused = faults.faults.limits_refused;
            admitted.table_full = faults.faults.table_full;
            share = faults.faults.share();
            legacy = faults.faults.genesys_legacy_429;
        }
    }
    if error_rate > 0.0 && rand::random::<f64>() < error_rate {
        return refuse(Refusal::ServerError, None);
    }

    let gate = sim.gate(world, principal, target);
    let quota = gate.admit(now, share);
    let refusal = quota
        .verdict
        .err()
        .map(|used_up| over_quota(used_up, legacy));
    if let Some(Refusal::OverQuota { retry_after }) = refusal {
        gate.pause
            .announce(now, now + Duration::from_secs(retry_after));
    }
    world.target(principal, target).other_requests += u64::from(quota.other_sent);
    if let Some(refusal) = refusal {
        return refuse(refusal, rate);
    }
    (
        Decision {
            verdict: Ok(admitted),
            rate,
        },
        latency,
    )
}

/// The refusal for a used-up window: announced (and so a pause), or in the legacy wording.
fn over_quota(exhausted: Exhausted, legacy: bool) -> Refusal {
    if legacy {
        Refusal::OverQuotaLegacy {
            limit: exhausted.limit,
            window_secs: ceil_secs(exhausted.window),
        }
    } else {
        Refusal::OverQuota {
            retry_after: ceil_secs(exhausted.wait),
        }
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
