//! A lane's pending set: per script, the newest version still owed to the lane's target and
//! not yet on its way, and the order in which the lane sends them when its gate admits a
//! request (DESIGN §2): compliance priority first, then the oldest pending change first.
//!
//! A script has at most one request on its way at a time (two could land out of order); a
//! version that arrives meanwhile waits, parked, until that request is over. A new script
//! lingers `linger` before it may go, so that a burst of versions costs one request; with
//! `fill` lingering scripts or more (a full request's worth) they may go at once. A failed
//! change returns with a not-before time; a newer version replaces it, and its retries with it.
//! What has waited longest (by when the oldest change it carries arrived) can be taken out
//! altogether ([`PendingSet::take_held_since`]): a lane hands it to a wait queue when its gate
//! stays closed. Pure data on tokio's clock: unit-tested with paused time.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

use crate::change::Priority;

/// What the set needs to know about a pending item.
pub trait Pendable {
    fn version(&self) -> u64;
    fn priority(&self) -> Priority;
}

/// An item taken to be sent, with what it needs to come back for a retry.
#[derive(Debug)]
pub struct Taken<J> {
    pub script: String,
    pub item: J,
    /// When the oldest change it carries arrived.
    pub since: Instant,
    pub priority: Priority,
}

/// What an offer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    /// It is the script's next version to send.
    Queued,
    /// An equal or newer version is waiting or on its way: nothing to add.
    Covered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Lingering(Instant),
    Ready,
    Backoff(Instant),
    /// Waits for the script's request on its way.
    Parked,
}

struct Next<J> {
    item: J,
    since: Instant,
    priority: Priority,
    seq: u64,
    place: Place,
}

struct Slot<J> {
    /// Boxed: a lane's map keeps its capacity for the most scripts it ever waited on, so its
    /// entries stay small (the item itself lives only while it waits).
    next: Option<Box<Next<J>>>,
    /// The version on its way, if a request for the script is.
    sending: Option<u64>,
}

/// Ready order: compliance first, then oldest, then arrival.
type Rank = (u8, Instant, u64);

fn rank(priority: Priority, since: Instant, seq: u64) -> Rank {
    (u8::from(priority != Priority::Compliance), since, seq)
}

/// The pending scripts of one lane.
pub struct PendingSet<J> {
    slots: HashMap<String, Slot<J>>,
    ready: BTreeMap<Rank, String>,
    lingering: BTreeMap<(Instant, u64), String>,
    backoff: BTreeMap<(Instant, u64), String>,
    /// Every waiting item (whatever its place) by when the oldest change it carries arrived.
    held: BTreeMap<(Instant, u64), String>,
    linger: Duration,
    fill: usize,
    seq: u64,
}

impl<J: Pendable> PendingSet<J> {
    /// `fill`: how many lingering scripts make a request worth sending at once
    /// (`usize::MAX`: each waits out its linger).
    pub fn new(linger: Duration, fill: usize) -> Self {
        Self {
            slots: HashMap::new(),
            ready: BTreeMap::new(),
            lingering: BTreeMap::new(),
            backoff: BTreeMap::new(),
            held: BTreeMap::new(),
            linger,
            fill: fill.max(1),
            seq: 0,
        }
    }

    /// Scripts with something waiting or on its way.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds `item` for `script` unless an equal or newer version is waiting or on its way.
    /// A newer version replaces the waiting one (keeping its place in the order, dropping its
    /// retries); a compliance offer raises the waiting one's priority.
    pub fn offer(&mut self, script: &str, item: J, now: Instant) -> Offered {
        if !self.slots.contains_key(script) {
            self.slots.insert(
                script.to_owned(),
                Slot {
                    next: None,
                    sending: None,
                },
            );
        }
        let slot = self.slots.get_mut(script).expect("inserted");
        let Some(next) = slot.next.take().map(|next| *next) else {
            if slot.sending.is_some_and(|v| v >= item.version()) {
                return Offered::Covered;
            }
            let place = if slot.sending.is_some() {
                Place::Parked
            } else {
                Place::Lingering(now + self.linger)
            };
            self.seq += 1;
            let next = Next {
                priority: item.priority(),
                item,
                since: now,
                seq: self.seq,
                place,
            };
            self.place(script, next);
            return Offered::Queued;
        };
        self.unindex(script, &next);
        let priority = next.priority.max(item.priority());
        let (next, offered) = if item.version() > next.item.version() {
            let place = match next.place {
                Place::Parked => Place::Parked,
                Place::Ready => Place::Ready,
                // A fresh version lingers from when the script first waited.
                _ => Place::Lingering(next.since + self.linger),
            };
            let replaced = Next {
                item,
                priority,
                place,
                ..next
            };
            (replaced, Offered::Queued)
        } else {
            (Next { priority, ..next }, Offered::Covered)
        };
        self.place(script, next);
        offered
    }

    /// Moves what is due by `now` to the ready order; all lingering scripts when they fill a
    /// request.
    pub fn promote(&mut self, now: Instant) {
        let fill = self.lingering.len() + self.ready.len() >= self.fill;
        let due_lingering: Vec<String> = if fill {
            std::mem::take(&mut self.lingering).into_values().collect()
        } else {
            split_due(&mut self.lingering, now)
        };
        let due_backoff = split_due(&mut self.backoff, now);
        for script in due_lingering.into_iter().chain(due_backoff) {
            if let Some(next) = self.slots.get_mut(&script).and_then(|s| s.next.as_mut()) {
                next.place = Place::Ready;
                self.ready
                    .insert(rank(next.priority, next.since, next.seq), script);
            }
        }
    }

    /// True when something may be sent now (after [`promote`](Self::promote)).
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// When the next lingering or backed-off script becomes due.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let first = |m: &BTreeMap<(Instant, u64), String>| m.keys().next().map(|k| k.0);
        match (first(&self.lingering), first(&self.backoff)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Takes up to `max` ready scripts, best first; each is then on its way.
    pub fn take(&mut self, max: usize) -> Vec<Taken<J>> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some((_, script)) = self.ready.pop_first() else {
                break;
            };
            let slot = self
                .slots
                .get_mut(&script)
                .expect("ready scripts have a slot");
            let next = slot.next.take().expect("ready scripts have a next");
            slot.sending = Some(next.item.version());
            self.held.remove(&(next.since, next.seq));
            out.push(Taken {
                script,
                item: next.item,
                since: next.since,
                priority: next.priority,
            });
        }
        out
    }

    /// The request for `script` is over. With `retry`, the item comes back due at the given
    /// time, unless a newer version waits (then the item is handed back: it is superseded).
    pub fn finish(&mut self, script: &str, retry: Option<(Taken<J>, Instant)>) -> Option<J> {
        let Some(slot) = self.slots.get_mut(script) else {
            return retry.map(|(t, _)| t.item);
        };
        slot.sending = None;
        match (slot.next.take(), retry) {
            (Some(parked), dropped) => {
                let place = Place::Lingering(parked.since + self.linger);
                self.place(script, Next { place, ..*parked });
                dropped.map(|(t, _)| t.item)
            }
            (None, Some((taken, at))) => {
                self.seq += 1;
                let next = Next {
                    item: taken.item,
                    since: taken.since,
                    priority: taken.priority,
                    seq: self.seq,
                    place: Place::Backoff(at),
                };
                self.place(script, next);
                None
            }
            (None, None) => {
                self.slots.remove(script);
                None
            }
        }
    }

    /// When the oldest waiting item's oldest change arrived (items on their way excluded).
    pub fn oldest_held_since(&self) -> Option<Instant> {
        self.held.keys().next().map(|k| k.0)
    }

    /// Takes out every waiting item whose oldest change arrived at or before `cutoff`,
    /// oldest first; a script with a request on its way keeps its slot for that request.
    pub fn take_held_since(&mut self, cutoff: Instant) -> Vec<Taken<J>> {
        let later = self.held.split_off(&(cutoff, u64::MAX));
        let due = std::mem::replace(&mut self.held, later);
        let mut out = Vec::new();
        for script in due.into_values() {
            let Some(slot) = self.slots.get_mut(&script) else {
                continue;
            };
            let Some(next) = slot.next.take() else {
                continue;
            };
            if slot.sending.is_none() {
                self.slots.remove(&script);
            }
            self.unindex(&script, &next);
            out.push(Taken {
                script,
                item: next.item,
                since: next.since,
                priority: next.priority,
            });
        }
        out
    }

    fn place(&mut self, script: &str, next: Next<J>) {
        let key = script.to_owned();
        self.held.insert((next.since, next.seq), key.clone());
        match next.place {
            Place::Lingering(at) => drop(self.lingering.insert((at, next.seq), key)),
            Place::Backoff(at) => drop(self.backoff.insert((at, next.seq), key)),
            Place::Ready => drop(
                self.ready
                    .insert(rank(next.priority, next.since, next.seq), key),
            ),
            Place::Parked => {}
        }
        if let Some(slot) = self.slots.get_mut(script) {
            slot.next = Some(Box::new(next));
        }
    }

    fn unindex(&mut self, _script: &str, next: &Next<J>) {
        self.held.remove(&(next.since, next.seq));
        match next.place {
            Place::Lingering(at) => drop(self.lingering.remove(&(at, next.seq))),
            Place::Backoff(at) => drop(self.backoff.remove(&(at, next.seq))),
            Place::Ready => drop(
                self.ready
                    .remove(&rank(next.priority, next.since, next.seq)),
            ),
            Place::Parked => {}
        }
    }
}

/// Removes and returns the entries due by `now`.
fn split_due(map: &mut BTreeMap<(Instant, u64), String>, now: Instant) -> Vec<String> {
    let later = map.split_off(&(now, u64::MAX));
    std::mem::replace(map, later).into_values().collect()
}

#[cfg(test)]
#[path = "pending_tests.rs"]
mod tests;
