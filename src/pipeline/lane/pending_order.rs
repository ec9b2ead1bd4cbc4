//! The orders a lane's waiting versions are kept in, so that each question the lane asks is a
//! look at the front of one map: which ready script goes next (compliance first, then oldest,
//! then arrival), when the next lingering or backing-off script becomes due, and which waiting
//! version has waited longest (for the wait queue). Keys only: the versions themselves live in
//! the pending set ([`super::pending`]).

use std::collections::BTreeMap;

use tokio::time::Instant;

use crate::change::Priority;

/// Where a waiting version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    /// A new script, gathering versions until then.
    Lingering(Instant),
    /// May go with the next request the gate admits.
    Ready,
    /// A failed request's retry, not before then.
    BackingOff(Instant),
}

/// What orders one waiting version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OrderKey {
    /// When the oldest change it carries arrived.
    pub since: Instant,
    pub priority: Priority,
    /// Arrival order, the last tie-break (and what makes keys unique).
    pub seq: u64,
}

impl OrderKey {
    /// Ready order: compliance first, then oldest, then arrival.
    fn rank(self) -> (u8, Instant, u64) {
        let normal = u8::from(self.priority != Priority::Compliance);
        (normal, self.since, self.seq)
    }

    fn held(self) -> (Instant, u64) {
        (self.since, self.seq)
    }
}

/// The orders, by script id.
#[derive(Default)]
pub(super) struct Orders {
    ready: BTreeMap<(u8, Instant, u64), String>,
    lingering: BTreeMap<(Instant, u64), String>,
    backing_off: BTreeMap<(Instant, u64), String>,
    /// Every waiting version (ahead of or behind a request) by when its oldest change arrived.
    held: BTreeMap<(Instant, u64), String>,
}

impl Orders {
    /// A version waits (behind a request on its way: no place yet).
    pub fn hold(&mut self, script: &str, key: OrderKey) {
        self.held.insert(key.held(), script.to_owned());
    }

    /// No longer waiting: taken to be sent.
    pub fn release(&mut self, key: OrderKey) {
        self.held.remove(&key.held());
    }

    /// A version waits at `place`.
    pub fn insert(&mut self, script: &str, key: OrderKey, place: Place) {
        self.hold(script, key);
        let script = script.to_owned();
        match place {
            Place::Lingering(at) => drop(self.lingering.insert((at, key.seq), script)),
            Place::BackingOff(at) => drop(self.backing_off.insert((at, key.seq), script)),
            Place::Ready => drop(self.ready.insert(key.rank(), script)),
        }
    }

    /// The version at `place` is out of every order.
    pub fn remove(&mut self, key: OrderKey, place: Place) {
        self.release(key);
        match place {
            Place::Lingering(at) => drop(self.lingering.remove(&(at, key.seq))),
            Place::BackingOff(at) => drop(self.backing_off.remove(&(at, key.seq))),
            Place::Ready => drop(self.ready.remove(&key.rank())),
        }
    }

    /// Takes the scripts due by `now` (all lingering ones when `all_lingering`) out of the
    /// lingering and backing-off orders; the caller makes them ready.
    pub fn take_due(&mut self, now: Instant, all_lingering: bool) -> Vec<String> {
        let lingering = if all_lingering {
            std::mem::take(&mut self.lingering).into_values().collect()
        } else {
            split_due(&mut self.lingering, now)
        };
        let mut due = lingering;
        due.extend(split_due(&mut self.backing_off, now));
        due
    }

    /// Scripts lingering or ready: how full the next request would be.
    pub fn gathered(&self) -> usize {
        self.lingering.len() + self.ready.len()
    }

    pub fn set_ready(&mut self, script: String, key: OrderKey) {
        self.ready.insert(key.rank(), script);
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The best ready script, out of the ready order.
    pub fn pop_ready(&mut self) -> Option<String> {
        self.ready.pop_first().map(|(_, script)| script)
    }

    /// When the next lingering or backing-off script becomes due.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let first = |m: &BTreeMap<(Instant, u64), String>| m.keys().next().map(|k| k.0);
        match (first(&self.lingering), first(&self.backing_off)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When the longest-waiting version's oldest change arrived.
    pub fn oldest_held_since(&self) -> Option<Instant> {
        self.held.keys().next().map(|k| k.0)
    }

    /// Takes the scripts of every waiting version that arrived at or before `cutoff` out of
    /// the held order, oldest first; the caller takes them out of their places.
    pub fn take_held_since(&mut self, cutoff: Instant) -> Vec<String> {
        split_due(&mut self.held, cutoff)
    }
}

/// Removes and returns the entries due by `now`, earliest first.
fn split_due(map: &mut BTreeMap<(Instant, u64), String>, now: Instant) -> Vec<String> {
    let later = map.split_off(&(now, u64::MAX));
    std::mem::replace(map, later).into_values().collect()
}
