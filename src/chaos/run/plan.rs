//! The seeded fault schedule of a chaos run: which fault ([`super::fault`]), when, on what,
//! for how long. Drawn whole before the run from the seed alone, so a seed names one schedule
//! (`--seed` repeats it); faults on the same thing (a worker, a tenant's target, the broker)
//! never overlap, and sometimes two start at the same instant.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use scriptsync::change::TargetKind;

use super::fault::{Breakage, Fault, LoginFailure, StormForm};

/// A fault and when it starts, from the run's start.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    pub at: Duration,
    pub fault: Fault,
}

/// What the schedule is drawn over.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub duration: Duration,
    pub workers: usize,
    pub tenants: usize,
    /// Broker nodes that can be stopped (0: a single broker).
    pub nodes: usize,
    pub quick: bool,
}

/// The whole schedule for `seed`: faults from 10 s in until 20 s before the end.
pub fn schedule(seed: u64, shape: Shape) -> Vec<Scheduled> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x006e_656d_6573_6973);
    let (gap, last) = if shape.quick {
        (
            (6, 12),
            shape.duration.saturating_sub(Duration::from_secs(20)),
        )
    } else {
        (
            (20, 70),
            shape.duration.saturating_sub(Duration::from_secs(60)),
        )
    };
    let mut busy: BTreeMap<String, Duration> = BTreeMap::new();
    let mut out = Vec::new();
    let mut at = Duration::from_secs(10);
    while at < last {
        let several = if rng.random_bool(0.25) { 2 } else { 1 };
        for _ in 0..several {
            // A few tries to find something free at `at`.
            for _ in 0..8 {
                let fault = draw(&mut rng, shape);
                let free = busy.get(&fault.resource()).is_none_or(|until| *until <= at);
                if free {
                    busy.insert(fault.resource(), at + fault.span() + Duration::from_secs(5));
                    out.push(Scheduled { at, fault });
                    break;
                }
            }
        }
        at += Duration::from_secs(rng.random_range(gap.0..=gap.1));
    }
    out
}

/// One fault of any kind, on something drawn at random.
fn draw(rng: &mut StdRng, shape: Shape) -> Fault {
    let secs = |rng: &mut StdRng, lo: u64, hi: u64| {
        let (lo, hi) = if shape.quick {
            (lo.min(3), hi.min(8))
        } else {
            (lo, hi)
        };
        Duration::from_secs(rng.random_range(lo..=hi))
    };
    let tenant = rng.random_range(0..shape.tenants);
    let target = if rng.random_bool(0.5) {
        TargetKind::Genesys
    } else {
        TargetKind::Servicenow
    };
    // The first worker is never killed: it lives the whole run, for the memory soak.
    let mortal = rng.random_range(1..shape.workers.max(2));
    let kinds = if shape.nodes > 0 { 12 } else { 11 };
    match rng.random_range(0..kinds) {
        0 => Fault::Kill {
            worker: mortal,
            down: secs(rng, 1, 5),
        },
        1 => Fault::Term { worker: mortal },
        2 => {
            // Longer than the replica heartbeat's three beats; now and then longer than the
            // AMQP heartbeat too (60 s), so the broker gives up on the connection.
            let long = !shape.quick && rng.random_bool(0.25);
            let stopped = if long {
                Duration::from_secs(rng.random_range(65..=75))
            } else {
                secs(rng, 4, 20)
            };
            Fault::Stop {
                worker: rng.random_range(0..shape.workers),
                stopped,
            }
        }
        3 => Fault::CloseConnections,
        4 | 5 => {
            let forms = [
                StormForm::RetryAfterSeconds,
                StormForm::RetryAfterDate,
                StormForm::GenesysBody,
                StormForm::Unavailable,
                StormForm::NoHint,
            ];
            let mut form = forms[rng.random_range(0..forms.len())];
            if form == StormForm::GenesysBody && target == TargetKind::Servicenow {
                form = StormForm::RetryAfterSeconds;
            }
            Fault::Storm {
                tenant,
                target,
                form,
                count: rng.random_range(2..=5),
                wait_s: rng.random_range(1..=5),
            }
        }
        6 | 7 => {
            let hows = [
                Breakage::ServerErrors,
                Breakage::Unavailable,
                Breakage::Hang,
                Breakage::Reset,
                Breakage::Slow,
            ];
            Fault::Broken {
                tenant,
                target,
                how: hows[rng.random_range(0..hows.len())],
                lasting: secs(rng, 5, 25),
            }
        }
        8 | 9 => {
            let hows = [
                LoginFailure::Unavailable,
                LoginFailure::Reset,
                LoginFailure::Hang,
                LoginFailure::Nonsense,
            ];
            Fault::Login {
                tenant,
                target,
                how: hows[rng.random_range(0..hows.len())],
                lasting: secs(rng, 5, 20),
            }
        }
        10 => Fault::TableFull {
            tenant,
            lasting: secs(rng, 10, 30),
        },
        _ => Fault::StopNode {
            node: rng.random_range(0..shape.nodes),
            down: secs(rng, 5, 20),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: Shape = Shape {
        duration: Duration::from_secs(1800),
        workers: 3,
        tenants: 8,
        nodes: 0,
        quick: false,
    };

    #[test]
    fn a_seed_names_one_schedule() {
        assert_eq!(schedule(7, SHAPE), schedule(7, SHAPE));
        assert_ne!(schedule(7, SHAPE), schedule(8, SHAPE));
    }

    #[test]
    fn faults_on_one_thing_never_overlap_and_the_soak_worker_is_never_killed() {
        for seed in 0..20 {
            let plan = schedule(seed, SHAPE);
            let mut until: BTreeMap<String, Duration> = BTreeMap::new();
            for s in &plan {
                let free = until.get(&s.fault.resource()).is_none_or(|u| *u <= s.at);
                assert!(free, "seed {seed}: {s:?} overlaps");
                until.insert(s.fault.resource(), s.at + s.fault.span());
                assert!(!matches!(
                    s.fault,
                    Fault::Kill { worker: 0, .. } | Fault::Term { worker: 0 }
                ));
            }
            assert!(plan.last().unwrap().at <= SHAPE.duration - Duration::from_secs(60));
        }
    }

    #[test]
    fn a_full_run_draws_every_kind_and_a_quick_one_several() {
        let plan = schedule(1, SHAPE);
        let kinds: std::collections::BTreeSet<&str> = plan.iter().map(|s| s.fault.kind()).collect();
        assert!(kinds.len() >= 10, "{kinds:?}");
        assert!(
            !kinds.contains("stop_node"),
            "no node to stop on one broker"
        );
        let quick = Shape {
            duration: Duration::from_secs(90),
            quick: true,
            ..SHAPE
        };
        assert!(schedule(1, quick).len() >= 5);
    }

    #[test]
    fn the_documented_cluster_seed_stops_nodes() {
        // docs/reliability.md runs `chaos --cluster --quick --seed 28`.
        let cluster = Shape {
            duration: Duration::from_secs(90),
            nodes: 3,
            quick: true,
            ..SHAPE
        };
        let plan = schedule(28, cluster);
        let stops = plan
            .iter()
            .filter(|s| s.fault.kind() == "stop_node")
            .count();
        assert_eq!(stops, 2, "{plan:?}");
    }
}
