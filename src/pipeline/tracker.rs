//! The ack tracker (DESIGN §2): per tenant, which targets each delivery still owes, across
//! the tenant's lanes. Pure data, generic over the delivery's ack handle, so it is unit-tested
//! without a broker.
//!
//! A delivery is admitted with the targets it owes. Each lane reports what it achieved for a
//! script: it now holds version `v` there ([`AckTracker::reached`]; every delivery of that
//! script at `v` or below stops owing that target), or it gave up at `v`
//! ([`AckTracker::failed`]; those deliveries owe that target a dead letter). When a delivery
//! owes nothing more it is settled with a [`Verdict`]: delivered (its own version was pushed
//! somewhere), superseded (every target holds a newer or equal one already), or dead-lettered
//! owing exactly the targets that failed.

use std::collections::HashMap;
use std::sync::Arc;

use crate::change::{ScriptChange, TargetKind};
use crate::targets::PushFailure;

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

/// A delivery whose outcome is final: carry out `verdict` for `token`.
#[derive(Debug)]
pub struct Settled<T> {
    pub token: T,
    pub change: Arc<ScriptChange>,
    pub verdict: Verdict,
}

struct Waiting<T> {
    token: T,
    change: Arc<ScriptChange>,
    owed: Vec<TargetKind>,
    failures: Vec<(TargetKind, PushFailure)>,
    pushed_own: bool,
}

impl<T> Waiting<T> {
    fn settle(self) -> Settled<T> {
        let verdict = if !self.failures.is_empty() {
            Verdict::DeadLetter(self.failures)
        } else if self.pushed_own {
            Verdict::Delivered
        } else {
            Verdict::Superseded
        };
        Settled {
            token: self.token,
            change: self.change,
            verdict,
        }
    }
}

/// The deliveries of one tenant that still owe something, by script.
pub struct AckTracker<T> {
    by_script: HashMap<String, Vec<Waiting<T>>>,
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
        let waiting = Waiting {
            token,
            change,
            owed,
            failures: Vec::new(),
            pushed_own: false,
        };
        if waiting.owed.is_empty() {
            return Some(waiting.settle());
        }
        self.waiting += 1;
        self.by_script
            .entry(waiting.change.script_id().to_owned())
            .or_default()
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
        mut mark: impl FnMut(&mut Waiting<T>),
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
