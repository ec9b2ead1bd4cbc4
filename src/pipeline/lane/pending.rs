//! A lane's pending set: per script, the newest version still owed to the lane's target and
//! not yet on its way, and the order in which the lane sends them when its gate admits a
//! request (DESIGN §2): compliance priority first, then the oldest pending change first.
//!
//! Each script is in one `ScriptState`: a version **waits** (lingering, ready or backing
//! off: its `Place`), or a request for one is **on its way**, perhaps with a newer version
//! waiting behind it (two requests for one script could land out of order). A new script
//! lingers `linger` so that a burst of versions costs one request, unless a full request's
//! worth is gathered ([`Batching`]). A failed change returns with a not-before time; a newer
//! version replaces it, and its retries with it. The longest waiting can be taken out for a
//! wait queue. Pure data on tokio's clock.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::change::Priority;

use super::pending_order::{OrderKey, Orders, Place};

/// What the set needs to know about a pending item.
pub trait Pendable {
    fn version(&self) -> u64;
    fn priority(&self) -> Priority;
}
/// When lingering scripts may go before their linger is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batching {
    /// Each waits out its linger (a target that sends one script per request).
    EachLingers,
    /// As soon as this many are lingering or ready: a full request's worth.
    FillsAt(usize),
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

/// One waiting version.
struct Next<J> {
    item: J,
    key: OrderKey,
}

/// Where one script stands in the lane.
enum ScriptState<J> {
    /// A version waits to be sent. Boxed: a lane's map keeps its capacity for the most
    /// scripts it ever waited on, so its entries stay small.
    Waiting { next: Box<Next<J>>, place: Place },
    /// A request carrying `version` is on its way; `behind` is a newer version waiting for it
    /// to be over.
    Sending {
        version: u64,
        behind: Option<Box<Next<J>>>,
    },
}

/// The pending scripts of one lane.
pub struct PendingSet<J> {
    scripts: HashMap<String, ScriptState<J>>,
    orders: Orders,
    linger: Duration,
    batching: Batching,
    seq: u64,
}

impl<J: Pendable> PendingSet<J> {
    pub fn new(linger: Duration, batching: Batching) -> Self {
        Self {
            scripts: HashMap::new(),
            orders: Orders::default(),
            linger,
            batching,
            seq: 0,
        }
    }

    /// Scripts with something waiting or on its way.
    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// Adds `item` for `script` unless an equal or newer version is waiting or on its way.
    /// A newer version replaces the waiting one (keeping its place in the order, dropping its
    /// retries); a compliance offer raises the waiting one's priority.
    pub fn offer(&mut self, script: &str, item: J, now: Instant) -> Offered {
        let Some((script, state)) = self.scripts.remove_entry(script) else {
            let next = self.next(item, now);
            let place = Place::Lingering(now + self.linger);
            self.orders.insert(script, next.key, place);
            let waiting = ScriptState::Waiting { next, place };
            self.scripts.insert(script.to_owned(), waiting);
            return Offered::Queued;
        };
        let (state, offered) = match state {
            ScriptState::Sending { version, behind } => match behind {
                None if version >= item.version() => {
                    (ScriptState::Sending { version, behind }, Offered::Covered)
                }
                None => {
                    let next = self.next(item, now);
                    self.orders.hold(&script, next.key);
                    let behind = Some(next);
                    (ScriptState::Sending { version, behind }, Offered::Queued)
                }
                Some(next) => {
                    let (next, offered) = merge(next, item);
                    let behind = Some(next);
                    (ScriptState::Sending { version, behind }, offered)
                }
            },
            ScriptState::Waiting { next, place } => {
                self.orders.remove(next.key, place);
                let (next, offered) = merge(next, item);
                let place = match place {
                    // A fresh version lingers from when the script first waited.
                    Place::Lingering(_) | Place::BackingOff(_) if offered == Offered::Queued => {
                        Place::Lingering(next.key.since + self.linger)
                    }
                    unchanged => unchanged,
                };
                self.orders.insert(&script, next.key, place);
                (ScriptState::Waiting { next, place }, offered)
            }
        };
        self.scripts.insert(script, state);
        offered
    }

    /// Moves what is due by `now` to the ready order; all lingering scripts when they fill a
    /// request.
    pub fn promote(&mut self, now: Instant) {
        let fills = match self.batching {
            Batching::EachLingers => false,
            Batching::FillsAt(n) => self.orders.gathered() >= n.max(1),
        };
        for script in self.orders.take_due(now, fills) {
            if let Some(ScriptState::Waiting { next, place }) = self.scripts.get_mut(&script) {
                *place = Place::Ready;
                self.orders.set_ready(script, next.key);
            }
        }
    }

    /// True when something may be sent now (after [`promote`](Self::promote)).
    pub fn has_ready(&self) -> bool {
        self.orders.has_ready()
    }

    /// When the next lingering or backed-off script becomes due.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.orders.next_wakeup()
    }

    /// Takes up to `max` ready scripts, best first; each is then on its way.
    pub fn take(&mut self, max: usize) -> Vec<Taken<J>> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(script) = self.orders.pop_ready() else {
                break;
            };
            let Some((key, ScriptState::Waiting { next, .. })) = self.scripts.remove_entry(&script)
            else {
                unreachable!("a ready script waits");
            };
            self.orders.release(next.key);
            let version = next.item.version();
            let sending = ScriptState::Sending {
                version,
                behind: None,
            };
            self.scripts.insert(key, sending);
            out.push(taken(script, *next));
        }
        out
    }

    /// The request for `script` is over. With `retry`, the item comes back due at the given
    /// time, unless a newer version waits (then the item is handed back: it is superseded).
    pub fn finish(&mut self, script: &str, retry: Option<(Taken<J>, Instant)>) -> Option<J> {
        let superseded = |retry: Option<(Taken<J>, Instant)>| retry.map(|(t, _)| t.item);
        let Some((script, state)) = self.scripts.remove_entry(script) else {
            return superseded(retry);
        };
        let behind = match state {
            ScriptState::Sending { behind, .. } => behind,
            waiting @ ScriptState::Waiting { .. } => {
                // Nothing of the script was on its way: what waits stays as it is.
                self.scripts.insert(script, waiting);
                return superseded(retry);
            }
        };
        let (next, place, dropped) = match (behind, retry) {
            (Some(next), dropped) => {
                let place = Place::Lingering(next.key.since + self.linger);
                (next, place, superseded(dropped))
            }
            (None, Some((taken, at))) => {
                let mut next = self.next(taken.item, taken.since);
                next.key.priority = taken.priority;
                (next, Place::BackingOff(at), None)
            }
            (None, None) => return None,
        };
        self.orders.insert(&script, next.key, place);
        self.scripts
            .insert(script, ScriptState::Waiting { next, place });
        dropped
    }

    /// When the oldest waiting item's oldest change arrived (items on their way excluded).
    pub fn oldest_held_since(&self) -> Option<Instant> {
        self.orders.oldest_held_since()
    }

    /// Takes out every waiting item whose oldest change arrived at or before `cutoff`,
    /// oldest first; a script with a request on its way keeps its state for that request.
    pub fn take_held_since(&mut self, cutoff: Instant) -> Vec<Taken<J>> {
        let mut out = Vec::new();
        for script in self.orders.take_held_since(cutoff) {
            let Some((key, state)) = self.scripts.remove_entry(&script) else {
                continue;
            };
            let next = match state {
                ScriptState::Waiting { next, place } => {
                    self.orders.remove(next.key, place);
                    next
                }
                ScriptState::Sending { version, behind } => {
                    let sending = ScriptState::Sending {
                        version,
                        behind: None,
                    };
                    self.scripts.insert(key, sending);
                    let Some(next) = behind else {
                        continue;
                    };
                    next
                }
            };
            out.push(taken(script, *next));
        }
        out
    }

    fn next(&mut self, item: J, since: Instant) -> Box<Next<J>> {
        self.seq += 1;
        let key = OrderKey {
            since,
            priority: item.priority(),
            seq: self.seq,
        };
        Box::new(Next { item, key })
    }
}

/// `waiting` with `item` offered on top: the newer of the two versions, at the higher of
/// their priorities, keeping `waiting`'s place in the order.
fn merge<J: Pendable>(mut waiting: Box<Next<J>>, item: J) -> (Box<Next<J>>, Offered) {
    waiting.key.priority = waiting.key.priority.max(item.priority());
    if item.version() > waiting.item.version() {
        waiting.item = item;
        (waiting, Offered::Queued)
    } else {
        (waiting, Offered::Covered)
    }
}

fn taken<J>(script: String, next: Next<J>) -> Taken<J> {
    Taken {
        script,
        item: next.item,
        since: next.key.since,
        priority: next.key.priority,
    }
}

#[cfg(test)]
#[path = "pending_tests.rs"]
mod tests;
