//! Long waits handed back to the broker (DESIGN §6, "long pauses"). RabbitMQ closes a channel
//! that holds a delivery unacked longer than its `consumer_timeout`; a lane whose gate stays
//! closed (an hour-long ServiceNow window, a Genesys daily limit) must not hold its changes
//! that long. A waiting change whose hold would pass the hold limit (half the broker's
//! `consumer_timeout`) before the gate reopens is taken out of the pending set and reported
//! [`Report::Parked`]: the tenant puts a copy of it in the (tenant, target) wait queue, owing
//! only this target, to come back when the gate reopens, and acks what it covers.
//!
//! Newest-wins holds: the parked version covers every older one of its script (an older offer
//! or retry that shows up meanwhile is [`Report::Covered`], never sent), and when the copy
//! comes back it is offered like any change (an older copy after a newer delivery is
//! superseded by the lane's ordering state).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::lifecycle::Owed;
use super::pending::{Pendable, PendingSet};
use super::{LaneContext, Report, Reporter};

/// Shortest time a parked change stays in the wait queue: a gate that is open but slow (its
/// rate) gets its changes back at the tail of the tenant queue after this.
pub const MIN_PARK: Duration = Duration::from_secs(1);

/// What a lane has parked, and when it parks.
pub(crate) struct Parking {
    hold_limit: Duration,
    /// Script → the newest version handed to the wait queue and not reached since.
    parked: HashMap<String, u64>,
}

impl Parking {
    pub(crate) fn new(hold_limit: Duration) -> Self {
        Self {
            hold_limit,
            parked: HashMap::new(),
        }
    }

    /// When the longest-waiting change must be parked, with the gate closed for `paused_for`
    /// more: when its hold plus the rest of the pause would reach the hold limit.
    pub(crate) fn due_at(
        &self,
        pending: &PendingSet<Owed>,
        paused_for: Duration,
    ) -> Option<Instant> {
        let oldest = pending.oldest_held_since()?;
        let limit = oldest + self.hold_limit;
        Some(limit.checked_sub(paused_for).unwrap_or(oldest).min(limit))
    }

    /// Parks every waiting change whose hold would pass the limit before the gate reopens.
    pub(crate) fn park_due(
        &mut self,
        lane: &LaneContext,
        pending: &mut PendingSet<Owed>,
        report: &Reporter,
    ) {
        let paused_for = lane.target.gate().paused_for().unwrap_or_default();
        let Some(cutoff) = (Instant::now() + paused_for).checked_sub(self.hold_limit) else {
            return;
        };
        let taken = pending.take_held_since(cutoff);
        if taken.is_empty() {
            return;
        }
        let wait = paused_for.max(MIN_PARK);
        tracing::info!(
            tenant = %lane.tenant, target = %lane.target.kind(), changes = taken.len(),
            reopens_in = ?paused_for, hold_limit = ?self.hold_limit,
            "the gate stays closed past the hold limit: handing changes to the wait queue"
        );
        for t in taken {
            let version = t.item.version();
            let newest = self.parked.entry(t.script.clone()).or_insert(version);
            *newest = (*newest).max(version);
            report(Report::Parked {
                script: t.script,
                version,
                wait,
            });
        }
    }

    /// True when a parked copy carries `version` of `script` or a newer one.
    pub(crate) fn covers(&self, script: &str, version: u64) -> bool {
        self.parked.get(script).is_some_and(|p| *p >= version)
    }

    /// A copy came back from the wait queue at `version`: unless a newer copy is still out
    /// there, nothing of the script is parked any more, and this copy is to be sent.
    pub(crate) fn returned(&mut self, script: &str, version: u64) {
        if self.parked.get(script).is_some_and(|p| *p <= version) {
            self.parked.remove(script);
        }
    }

    /// The target holds `version` of `script` now: a parked copy at or below it is history.
    pub(crate) fn reached(&mut self, script: &str, version: u64) {
        if self.parked.get(script).is_some_and(|p| *p <= version) {
            self.parked.remove(script);
        }
    }
}
