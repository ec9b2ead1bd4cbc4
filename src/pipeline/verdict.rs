//! The ack tracker's rule, as a pure function: given what happened at each target to the
//! version pushed for a script, what is owed to one delivery of that script?
//!
//! A delivery is acked when every target it is owed succeeded with its version or a newer
//! one (or already held a newer one); otherwise it is dead-lettered owing the failed targets.

use std::collections::BTreeMap;

use crate::change::TargetKind;
use crate::targets::{FailureReason, PushFailure, PushOutcome};

/// What happened at one target for one script in one flush.
#[derive(Debug, Clone)]
pub enum TargetResult {
    /// An equal or newer version was delivered before: nothing was sent.
    AlreadyHeld,
    /// `version` was pushed and this came back.
    Pushed { version: u64, outcome: PushOutcome },
}

/// The terminal action owed to one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Its own version reached at least one target; every owed target is satisfied.
    Delivered,
    /// Every owed target holds a newer (or the same, already delivered) version.
    Superseded,
    /// Some owed targets failed: dead-letter owing exactly those.
    DeadLetter(Vec<(TargetKind, PushFailure)>),
}

/// Decides the verdict for a delivery of `version` owed `owed`.
pub fn verdict(
    version: u64,
    owed: &[TargetKind],
    results: &BTreeMap<TargetKind, TargetResult>,
) -> Verdict {
    let mut failures = Vec::new();
    let mut pushed_own = false;
    for &target in owed {
        match results.get(&target) {
            Some(TargetResult::AlreadyHeld) => {}
            Some(TargetResult::Pushed {
                version: v,
                outcome,
            }) => match outcome {
                PushOutcome::Delivered { .. } => pushed_own |= *v == version,
                PushOutcome::Superseded => {}
                PushOutcome::Failed(f) => failures.push((target, f.clone())),
            },
            None => failures.push((
                target,
                PushFailure {
                    reason: FailureReason::Exhausted,
                    status: None,
                    error: format!("no push was attempted to {target}"),
                    attempts: 0,
                    correlation_id: None,
                },
            )),
        }
    }
    if !failures.is_empty() {
        Verdict::DeadLetter(failures)
    } else if pushed_own {
        Verdict::Delivered
    } else {
        Verdict::Superseded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TargetKind::{Genesys as G, Servicenow as S};

    fn delivered(version: u64) -> TargetResult {
        TargetResult::Pushed {
            version,
            outcome: PushOutcome::Delivered {
                attempts: 1,
                correlation_id: None,
            },
        }
    }
    fn failed(version: u64) -> TargetResult {
        let f = PushFailure {
            reason: FailureReason::Permanent,
            status: Some(400),
            error: "bad".into(),
            attempts: 1,
            correlation_id: None,
        };
        TargetResult::Pushed {
            version,
            outcome: PushOutcome::Failed(f),
        }
    }

    #[test]
    fn own_version_delivered_everywhere() {
        let r = BTreeMap::from([(G, delivered(5)), (S, delivered(5))]);
        assert_eq!(verdict(5, &[G, S], &r), Verdict::Delivered);
    }

    #[test]
    fn older_member_of_a_coalesced_group_is_superseded() {
        let r = BTreeMap::from([(G, delivered(9)), (S, delivered(9))]);
        assert_eq!(verdict(3, &[G, S], &r), Verdict::Superseded);
    }

    #[test]
    fn already_held_is_superseded() {
        let r = BTreeMap::from([
            (G, TargetResult::AlreadyHeld),
            (S, TargetResult::AlreadyHeld),
        ]);
        assert_eq!(verdict(3, &[G, S], &r), Verdict::Superseded);
    }

    #[test]
    fn partial_failure_owes_only_the_failed_target() {
        let r = BTreeMap::from([(G, delivered(5)), (S, failed(5))]);
        match verdict(5, &[G, S], &r) {
            Verdict::DeadLetter(f) => {
                assert_eq!(f.iter().map(|(t, _)| *t).collect::<Vec<_>>(), vec![S])
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn older_member_fails_when_the_newer_push_failed() {
        let r = BTreeMap::from([(G, failed(9))]);
        assert!(matches!(verdict(3, &[G], &r), Verdict::DeadLetter(_)));
    }

    #[test]
    fn only_owed_targets_count() {
        let r = BTreeMap::from([(G, failed(5)), (S, delivered(5))]);
        assert_eq!(verdict(5, &[S], &r), Verdict::Delivered);
    }
}
