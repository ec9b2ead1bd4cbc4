//! Admission of an authenticated API request, in the order the real services apply it:
//! violation check → outage → dropped connection → injected response → error rate → quota →
//! latency.
//!
//! Every 429 (and 503 with a wait) that this step decides records a pause for the
//! (principal, target); a request arriving inside a pause is a violation, answered 429 with the
//! remaining seconds, without extending the pause. The handlers turn a [`Refusal`] into their
//! own service's error body.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::SimTarget;
use super::faults::{InjectedResponse, OutageMode};
use super::quota::ceil_secs;
use super::world::Shared;

/// A request the simulator will serve, with the per-record faults it must apply.
#[derive(Debug, Clone, Default)]
pub(crate) struct Admitted {
    pub(crate) record_errors: BTreeSet<String>,
    pub(crate) unserviced: BTreeSet<String>,
    /// ServiceNow only: answer 200 with a truncated body and apply nothing.
    pub(crate) truncated: bool,
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
    /// The quota window is used up: 429 with the seconds until it ends.
    OverQuota {
        retry_after: u64,
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

/// Decides the request's fate and, if admitted, waits the configured latency.
pub(crate) async fn admit(sim: &Shared, principal: &str, target: SimTarget) -> Decision {
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
        (gate.pause.remaining(now), rate)
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

    if let Some(left) = pause_left {
        world.target(principal, target).violations += 1;
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
    if let Some(faults) = world.faults_for(principal, target) {
        if let Some(outage) = faults.api_outage(now) {
            let refusal = match outage.mode {
                OutageMode::Unavailable => Refusal::Injected(InjectedResponse::new(503)),
                OutageMode::Drop => Refusal::Drop,
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
                sim.gate(world, principal, target).pause.extend(now + wait);
            }
            return refuse(Refusal::Injected(injected), None);
        }
        error_rate = faults.faults.error_rate;
        latency = faults.faults.latency;
        admitted.record_errors = faults.faults.record_errors.clone();
        admitted.unserviced = faults.faults.unserviced.clone();
        admitted.truncated = target == SimTarget::Servicenow && faults.take_truncated();
    }
    if error_rate > 0.0 && rand::random::<f64>() < error_rate {
        return refuse(Refusal::ServerError, None);
    }

    let gate = sim.gate(world, principal, target);
    if let Some(window) = gate.window.as_mut()
        && let Err(left) = window.try_acquire(now)
    {
        let retry_after = ceil_secs(left);
        gate.pause.extend(now + Duration::from_secs(retry_after));
        return refuse(Refusal::OverQuota { retry_after }, rate);
    }
    (
        Decision {
            verdict: Ok(admitted),
            rate,
        },
        latency,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Faults, SimConfig};

    fn sim(per_minute: u32) -> Shared {
        let config = SimConfig {
            genesys_requests_per_minute: per_minute,
            ..SimConfig::default()
        };
        Shared::new(config, "http://127.0.0.1:1".into())
    }

    fn at(sim: &Shared, secs: u64) -> Result<Admitted, Refusal> {
        let now = sim.origin + Duration::from_secs(secs);
        decide(sim, "p", SimTarget::Genesys, now, SystemTime::now())
            .0
            .verdict
    }

    fn violations(sim: &Shared) -> u64 {
        sim.snapshot().tenant("p").genesys.violations
    }

    #[test]
    fn over_quota_pauses_and_early_arrivals_are_violations() {
        let sim = sim(2);
        assert!(at(&sim, 10).is_ok() && at(&sim, 10).is_ok());
        assert_eq!(
            at(&sim, 15).unwrap_err(),
            Refusal::OverQuota { retry_after: 45 }
        );
        assert_eq!(violations(&sim), 0);
        // Inside the pause: remaining seconds, and the pause is not extended.
        assert_eq!(
            at(&sim, 50).unwrap_err(),
            Refusal::Paused { retry_after: 10 }
        );
        assert_eq!(
            at(&sim, 59).unwrap_err(),
            Refusal::Paused { retry_after: 1 }
        );
        assert_eq!(violations(&sim), 2);
        assert!(at(&sim, 60).is_ok(), "the pause ends with the window");
    }

    #[test]
    fn injected_429_pauses_and_comes_before_the_quota() {
        let sim = sim(300);
        let faults = Faults {
            inject: vec![InjectedResponse::new(429).with_genesys_body_seconds(5)],
            ..Faults::default()
        };
        sim.lock().set_faults(None, SimTarget::Genesys, faults);
        assert!(matches!(at(&sim, 0), Err(Refusal::Injected(r)) if r.status == 429));
        assert_eq!(at(&sim, 4).unwrap_err(), Refusal::Paused { retry_after: 1 });
        assert!(at(&sim, 5).is_ok());
        assert_eq!(violations(&sim), 1);
    }

    #[test]
    fn injected_errors_without_wait_do_not_pause() {
        let sim = sim(300);
        let faults = Faults {
            inject: vec![InjectedResponse::new(500).times(2)],
            ..Faults::default()
        };
        sim.lock().set_faults(Some("p"), SimTarget::Genesys, faults);
        assert!(at(&sim, 0).is_err() && at(&sim, 0).is_err());
        assert!(at(&sim, 0).is_ok());
        assert_eq!(violations(&sim), 0);
    }

    #[test]
    fn an_outage_refuses_every_request_until_it_ends_then_one_shots_apply() {
        use crate::{Outage, OutageMode};
        let sim = sim(300);
        let set = sim.origin;
        let faults = |mode| Faults {
            outage: Some(Outage::new(mode, Duration::from_secs(30))),
            drop_connections: 1,
            ..Faults::default()
        };
        let at_set = |sim: &Shared, mode| {
            let state = crate::faults::FaultState::new_at(faults(mode), set);
            sim.lock().faults.insert((None, SimTarget::Genesys), state);
        };
        at_set(&sim, OutageMode::Unavailable);
        for secs in [0, 10, 29] {
            assert!(
                matches!(at(&sim, secs), Err(Refusal::Injected(r)) if r.status == 503 && r.retry_after.is_none())
            );
        }
        assert_eq!(
            at(&sim, 30).unwrap_err(),
            Refusal::Drop,
            "then the one-shot drop"
        );
        assert!(at(&sim, 30).is_ok());
        assert_eq!(violations(&sim), 0, "an outage pauses nobody");

        at_set(&sim, OutageMode::Drop);
        assert_eq!(at(&sim, 5).unwrap_err(), Refusal::Drop);

        at_set(&sim, OutageMode::Hang);
        assert_eq!(
            at(&sim, 5).unwrap_err(),
            Refusal::Hang {
                until: set + Duration::from_secs(30)
            }
        );
        let g = sim.snapshot().tenant("p").genesys;
        assert_eq!(
            g.answered(0),
            1,
            "a hung request is counted when it arrives"
        );
    }

    #[test]
    fn error_rate_one_always_fails() {
        let sim = sim(300);
        let faults = Faults {
            error_rate: 1.0,
            ..Faults::default()
        };
        sim.lock().set_faults(None, SimTarget::Genesys, faults);
        assert_eq!(at(&sim, 0).unwrap_err(), Refusal::ServerError);
    }
}
