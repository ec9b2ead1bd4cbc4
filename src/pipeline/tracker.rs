//! The ack tracker (DESIGN §2): per tenant, which targets each delivery still owes, across
//! the tenant's lanes. Pure data, generic over the delivery's ack handle, so it is unit-tested
//! without a broker.
//!
//! A delivery is admitted with the targets it owes. Each lane reports what it achieved for a
//! script: it now holds version `v` there ([`AckTracker::reached`]; every delivery of that
//! script at `v` or below stops owing that target), or it gave up at `v`
//! ([`AckTracker::failed`]; those deliveries owe that target a dead letter), or it handed `v`
//! to a wait queue while the target's gate stays closed ([`AckTracker::handed_off`]; the copy
//! there now owes that target for them). When a delivery owes nothing more it is settled with
//! a [`Settlement`]: delivered (its own version was pushed somewhere), parked (its own version
//! waits in a wait queue), superseded (a newer or equal version holds or carries each target),
//! or dead-lettered owing exactly the targets that failed.

use std::collections::HashMap;
use std::sync::Arc;

use crate::change::{ScriptChange, TargetKind};
use crate::targets::PushFailure;

/// The terminal action owed to one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Its own version reached at least one target; every owed target is satisfied.
    Delivered,
    /// Every owed target holds (or a parked newer copy carries) a newer or the same version.
    Superseded,
    /// Its own version went to a wait queue for some target (the copy owes it there) and every
    /// other owed target is satisfied: ack, nothing lost.
    Parked,
    /// Some owed targets failed: dead-letter owing exactly those.
    DeadLetter(Vec<(TargetKind, PushFailure)>),
}

/// A delivery whose outcome is final: carry out `settlement` for `token`.
#[derive(Debug)]
pub struct Settled<T> {
    pub token: T,
    pub change: Arc<ScriptChange>,
    pub settlement: Settlement,
}

struct Owing<T> {
    token: T,
    change: Arc<ScriptChange>,
    owed: Vec<TargetKind>,
    failures: Vec<(TargetKind, PushFailure)>,
    pushed_own: bool,
    parked_own: bool,
}

impl<T> Owing<T> {
    fn settle(self) -> Settled<T> {
        let settlement = if !self.failures.is_empty() {
            Settlement::DeadLetter(self.failures)
        } else if self.pushed_own {
            Settlement::Delivered
        } else if self.parked_own {
            Settlement::Parked
        } else {
            Settlement::Superseded
        };
        Settled {
            token: self.token,
            change: self.change,
            settlement,
        }
    }
}

/// The deliveries of one tenant that still owe something, by script.
pub struct AckTracker<T> {
    by_script: HashMap<String, Vec<Owing<T>>>,
    waiting: usize,
}

impl<T> Default for AckTracker<T> {
    fn default() -> Self {
        Self {
            by_script: HashMap::new(),
            waiting: 0,
        }
    }
}

impl<T> AckTracker<T> {
    /// Tracks a delivery owing `owed`; settles it at once (superseded) if it owes nothing.
    pub fn admit(
        &mut self,
        token: T,
        change: Arc<ScriptChange>,
        owed: Vec<TargetKind>,
    ) -> Option<Settled<T>> {
        let waiting = Owing {
            token,
            change,
            owed,
            failures: Vec::new(),
            pushed_own: false,
            parked_own: false,
        };
        if waiting.owed.is_empty() {
            return Some(waiting.settle());
        }
        self.waiting += 1;
        // Most scripts have one or two deliveries held: a Vec's first growth (room for 4
        // deliveries of several hundred bytes each) per script was the largest part of the
        // heap under a backlog.
        self.by_script
            .entry(waiting.change.script_id().to_owned())
            .or_insert_with(|| Vec::with_capacity(1))
            .push(waiting);
        None
    }

    /// `target` holds `version` of `script` now; `pushed` when this very version was just
    /// written there (not merely found there).
    pub fn reached(
        &mut self,
        target: TargetKind,
        script: &str,
        version: u64,
        pushed: bool,
    ) -> Vec<Settled<T>> {
        self.resolve(target, script, version, |w| {
            w.pushed_own |= pushed && w.change.version() == version;
        })
    }

    /// `target` gave up on `script` at `version`: every delivery at or below it owes a dead
    /// letter for `target`.
    pub fn failed(
        &mut self,
        target: TargetKind,
        script: &str,
        version: u64,
        failure: &PushFailure,
    ) -> Vec<Settled<T>> {
        self.resolve(target, script, version, |w| {
            w.failures.push((target, failure.clone()));
        })
    }

    /// `version` of `script` now waits in `target`'s wait queue (its copy confirmed there):
    /// every delivery at or below it stops owing `target`. With `own_copy`, the deliveries of
    /// exactly that version are the parked one (else they are only covered by a newer copy).
    pub fn handed_off(
        &mut self,
        target: TargetKind,
        script: &str,
        version: u64,
        own_copy: bool,
    ) -> Vec<Settled<T>> {
        self.resolve(target, script, version, |w| {
            w.parked_own |= own_copy && w.change.version() == version;
        })
    }

    /// The delivery of `version` of `script` that still owes `target`, if one is held: the
    /// message a wait queue gets a copy of.
    pub fn owing(&self, target: TargetKind, script: &str, version: u64) -> Option<&T> {
        self.by_script
            .get(script)?
            .iter()
            .find(|w| w.change.version() == version && w.owed.contains(&target))
            .map(|w| &w.token)
    }

    /// Deliveries still owing something.
    pub fn len(&self) -> usize {
        self.waiting
    }

    pub fn is_empty(&self) -> bool {
        self.waiting == 0
    }

    /// Applies `mark` to every delivery of `script` at or below `version` that owes
    /// `target`, which then stops owing it; returns those that owe nothing more.
    fn resolve(
        &mut self,
        target: TargetKind,
        script: &str,
        version: u64,
        mut mark: impl FnMut(&mut Owing<T>),
    ) -> Vec<Settled<T>> {
        let Some(list) = self.by_script.get_mut(script) else {
            return Vec::new();
        };
        let mut settled = Vec::new();
        let mut i = 0;
        while i < list.len() {
            let w = &mut list[i];
            if w.change.version() <= version
                && let Some(pos) = w.owed.iter().position(|t| *t == target)
            {
                w.owed.swap_remove(pos);
                mark(w);
                if w.owed.is_empty() {
                    settled.push(list.swap_remove(i).settle());
                    continue;
                }
            }
            i += 1;
        }
        if list.is_empty() {
            self.by_script.remove(script);
        }
        self.waiting -= settled.len();
        settled
    }
}

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;
