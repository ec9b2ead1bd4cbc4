//! Unit tests of [`super`]: the admission order, pauses and violations, on a simulator
//! built in memory and judged at chosen instants (no clock, no HTTP).

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

/// The refusal of a request at `secs`, which must be refused.
fn refused(sim: &Shared, secs: u64) -> Refusal {
    at(sim, secs).unwrap_err()
}

fn violations(sim: &Shared) -> u64 {
    sim.snapshot().tenant("p").genesys.violations
}

#[test]
fn over_quota_pauses_and_early_arrivals_are_violations() {
    let sim = sim(2);
    assert!(at(&sim, 10).is_ok() && at(&sim, 10).is_ok());
    assert_eq!(refused(&sim, 15), Refusal::OverQuota { retry_after: 45 });
    assert_eq!(violations(&sim), 0);
    // Inside the pause: remaining seconds, and the pause is not extended.
    assert_eq!(refused(&sim, 50), Refusal::Paused { retry_after: 10 });
    assert_eq!(refused(&sim, 59), Refusal::Paused { retry_after: 1 });
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
    assert_eq!(refused(&sim, 4), Refusal::Paused { retry_after: 1 });
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
        let state = crate::fault_state::FaultState::new_at(faults(mode), set);
        sim.lock().faults.insert((None, SimTarget::Genesys), state);
    };
    at_set(&sim, OutageMode::Unavailable);
    for secs in [0, 10, 29] {
        assert!(
            matches!(at(&sim, secs), Err(Refusal::Injected(r)) if r.status == 503 && r.retry_after.is_none())
        );
    }
    assert_eq!(refused(&sim, 30), Refusal::Drop, "then the one-shot drop");
    assert!(at(&sim, 30).is_ok());
    assert_eq!(violations(&sim), 0, "an outage pauses nobody");

    at_set(&sim, OutageMode::Drop);
    assert_eq!(refused(&sim, 5), Refusal::Drop);

    at_set(&sim, OutageMode::Hang);
    assert_eq!(
        refused(&sim, 5),
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
    assert_eq!(refused(&sim, 0), Refusal::ServerError);
}

fn at_ms(sim: &Shared, principal: &str, target: SimTarget, ms: u64) -> Result<Admitted, Refusal> {
    let now = sim.origin + Duration::from_millis(ms);
    decide(sim, principal, target, now, SystemTime::now())
        .0
        .verdict
}

fn with_faults(sim: &Shared, principal: Option<&str>, faults: Faults) {
    sim.lock().set_faults(principal, SimTarget::Genesys, faults);
}

#[test]
fn another_integrations_share_refuses_early_and_pauses() {
    let sim = sim(10);
    let share = Faults {
        other_integration_share: 1.0,
        ..Faults::default()
    };
    with_faults(&sim, Some("p"), share);
    // 30 s into the 60 s window the other integration has sent 5: "p" gets 5 more at most.
    for _ in 0..5 {
        assert!(at_ms(&sim, "p", SimTarget::Genesys, 30_000).is_ok());
    }
    assert_eq!(refused(&sim, 30), Refusal::OverQuota { retry_after: 30 });
    assert_eq!(refused(&sim, 40), Refusal::Paused { retry_after: 20 });
    let state = sim.snapshot().tenant("p").genesys;
    assert_eq!((state.other_requests, state.violations), (5, 1));
    // Another principal without the fault keeps its whole quota; ServiceNow ignores it.
    for _ in 0..10 {
        assert!(at_ms(&sim, "q", SimTarget::Genesys, 30_000).is_ok());
    }
    assert_eq!(sim.snapshot().tenant("q").genesys.other_requests, 0);
    // The next window: the other integration starts from zero, and its count keeps growing.
    assert!(at(&sim, 60).is_ok());
    assert!(at(&sim, 90).is_ok());
    assert_eq!(sim.snapshot().tenant("p").genesys.other_requests, 10);
}

#[test]
fn the_daily_limit_refuses_with_the_rest_of_the_day_and_pauses() {
    let config = SimConfig {
        genesys_daily_limit: Some(2),
        genesys_day: Duration::from_secs(600),
        ..SimConfig::default()
    };
    let sim = Shared::new(config, "http://127.0.0.1:1".into());
    assert!(at(&sim, 0).is_ok() && at(&sim, 70).is_ok());
    assert_eq!(refused(&sim, 100), Refusal::OverQuota { retry_after: 500 });
    assert_eq!(refused(&sim, 130), Refusal::Paused { retry_after: 470 });
    assert_eq!(violations(&sim), 1);
    assert!(at(&sim, 600).is_ok(), "a new day");
}

#[test]
fn legacy_429s_name_the_window_and_record_no_pause() {
    let config = SimConfig {
        genesys_requests_per_minute: 1,
        genesys_daily_limit: Some(2),
        genesys_day: Duration::from_secs(600),
        ..SimConfig::default()
    };
    let sim = Shared::new(config, "http://127.0.0.1:1".into());
    let legacy = Faults {
        genesys_legacy_429: true,
        ..Faults::default()
    };
    with_faults(&sim, None, legacy);
    assert!(at(&sim, 0).is_ok());
    let minute = Refusal::OverQuotaLegacy {
        limit: 1,
        window_secs: 60,
    };
    assert_eq!(refused(&sim, 1), minute);
    assert_eq!(refused(&sim, 2), minute, "again, not a violation");
    assert!(at(&sim, 60).is_ok());
    let day = Refusal::OverQuotaLegacy {
        limit: 2,
        window_secs: 600,
    };
    assert_eq!(refused(&sim, 120), day);
    assert_eq!(violations(&sim), 0);
    // ServiceNow has no legacy wording and no Genesys quota.
    let snow = |secs: u64| at_ms(&sim, "p", SimTarget::Servicenow, secs * 1_000);
    assert!(snow(1).is_ok() && snow(2).is_ok());
}

#[test]
fn limits_refused_reaches_the_handler_for_genesys_only() {
    let sim = sim(300);
    let refused = Faults {
        limits_refused: true,
        ..Faults::default()
    };
    with_faults(&sim, Some("p"), refused);
    assert!(at(&sim, 0).unwrap().limits_refused);
    assert!(
        !at_ms(&sim, "q", SimTarget::Genesys, 0)
            .unwrap()
            .limits_refused
    );
}

#[test]
fn a_request_already_on_its_way_when_the_pause_was_announced_is_no_violation() {
    let sim = sim(1);
    let at_ms = |sim: &Shared, ms: u64| {
        let now = sim.origin + Duration::from_millis(ms);
        decide(sim, "p", SimTarget::Genesys, now, SystemTime::now())
            .0
            .verdict
    };
    assert!(at_ms(&sim, 1_000).is_ok());
    assert!(matches!(at_ms(&sim, 2_000), Err(Refusal::OverQuota { .. })));
    // 30 ms after the 429 was answered: it was in flight; refused, not a violation.
    assert!(matches!(at_ms(&sim, 2_030), Err(Refusal::Paused { .. })));
    let state = sim.snapshot().tenant("p").genesys;
    assert_eq!((state.violations, state.in_flight_at_pause), (0, 1));
    // Past the grace (100 ms by default): the client had been told.
    assert!(matches!(at_ms(&sim, 2_150), Err(Refusal::Paused { .. })));
    let state = sim.snapshot().tenant("p").genesys;
    assert_eq!((state.violations, state.in_flight_at_pause), (1, 1));
}
