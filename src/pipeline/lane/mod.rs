//! A lane: one per (tenant, target), independent of every other (DESIGN §2). It keeps, per
//! script, only the newest version still owed to its target ([`pending`]) and chooses what to
//! send at the moment its gate admits a request (late binding): a version that arrived while
//! an older one waited is sent instead of it, compliance changes first, then oldest first.
//! What each request achieved goes to the tenant's ack tracker through a [`Report`].
//!
//! A change's life in the lane, step by step, is `lifecycle`: offered → chosen when the
//! gate admits a request → sent → settled (reached, retried, given up). Retries go back into
//! the pending set with a not-before time and pass the gate again; a newer version that
//! arrives meanwhile replaces the failed one and its retries. A change that would wait for a
//! closed gate past the hold limit is handed to a wait queue (`parking`). [`run_lane`] is
//! the event loop around those steps: it ends when its offers are closed and nothing is
//! pending or on its way (a drain), or at once when `abort` is cancelled (requests on their
//! way are dropped; the broker redelivers).

mod lifecycle;
mod parking;
pub mod pending;
mod pending_order;

use std::future::pending as forever;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::change::ScriptChange;
use crate::metrics::Metrics;
use crate::push::{GatePermit, Schedule};
use crate::targets::{PushFailure, Target};

use super::high_water::HighWater;
use lifecycle::LaneState;

/// One change offered to a lane by the tenant's intake.
#[derive(Debug)]
pub struct Offer {
    pub change: Arc<ScriptChange>,
    /// A DLQ replay or a redelivery: check the target before writing.
    pub check_first: bool,
    /// A copy back from this lane's wait queue (not covered by its own parking).
    pub returning: bool,
    /// The delivery's span, parent of the push.
    pub span: tracing::Span,
}

/// What a lane tells the ack tracker about one script.
#[derive(Debug, Clone)]
pub enum Report {
    /// The target holds `version` now; `pushed` when this very version was just written.
    Reached {
        script: String,
        version: u64,
        pushed: bool,
    },
    /// The target gave up on `version` (and so on every older one waiting for it).
    Failed {
        script: String,
        version: u64,
        failure: PushFailure,
    },
    /// `version` waited too long for the closed gate: put a copy of its delivery in the wait
    /// queue, owing this target, to come back in `wait` (when the gate reopens).
    Parked {
        script: String,
        version: u64,
        wait: Duration,
    },
    /// `version` is covered by a newer (or the same) version already parked: nothing to send.
    Covered { script: String, version: u64 },
}

/// Where a lane sends its reports.
pub type Reporter = Arc<dyn Fn(Report) + Send + Sync>;

/// What one lane is made of.
pub struct LaneContext {
    pub tenant: String,
    pub target: Arc<dyn Target>,
    /// The tenant's ordering state (shared by its lanes, keyed by target).
    pub high_water: Arc<Mutex<HighWater>>,
    pub schedule: Schedule,
    pub metrics: Arc<Metrics>,
    /// How long a new script waits for newer versions (and a ServiceNow call for company).
    pub linger: Duration,
    /// Longest a change may wait for a closed gate before it goes to the wait queue.
    pub hold_limit: Duration,
}

/// How far the target's preparation (Genesys lists its rows) has come: it starts when the
/// first change arrives, so a lane without traffic costs no request.
enum Preparation<'a> {
    NotStarted,
    Running(BoxFuture<'a, ()>),
    Done,
}

/// Runs the lane until its offers are closed and it is idle, or until `abort`.
pub async fn run_lane(
    lane: Arc<LaneContext>,
    offers: UnboundedReceiver<Offer>,
    report: Reporter,
    abort: CancellationToken,
) {
    let target = lane.target.clone();
    let mut state = LaneState::new(&lane);
    let mut preparation = Preparation::NotStarted;
    // Some while the gate is asked for a request; None while nothing is ready to go.
    let mut admission: Option<BoxFuture<'static, GatePermit>> = None;
    // None once the intake closed them (a drain).
    let mut offers = Some(offers);
    loop {
        let now = Instant::now();
        state.pending.promote(now);
        if offers.is_none() && state.is_idle() {
            break;
        }
        match preparation {
            Preparation::NotStarted if !state.pending.is_empty() => {
                preparation = Preparation::Running(target.prepare());
            }
            Preparation::Done if admission.is_none() && state.pending.has_ready() => {
                let gate = target.gate().clone();
                admission = Some(Box::pin(async move { gate.admit().await }));
            }
            _ => {}
        }
        let wakeup = state.pending.next_wakeup();
        let paused_for = target.gate().paused_for().unwrap_or_default();
        let park_at = state.parking.due_at(&state.pending, paused_for);
        tokio::select! {
            biased;
            _ = abort.cancelled() => break,
            () = prepared(&mut preparation) => preparation = Preparation::Done,
            Some(done) = state.inflight.join_next(), if !state.inflight.is_empty() => match done {
                Ok(answers) => lifecycle::settled(&lane, &mut state, answers, &report),
                // A request task panicked: the lane goes down with it (the tenant's loop is
                // restarted and the broker redelivers), never living on with its scripts
                // stuck "on their way".
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_cancelled) => {}
            },
            offer = next_offer(&mut offers) => match offer {
                Some(offer) => lifecycle::offered(&lane, &mut state, offer, &report),
                None => offers = None,
            },
            permit = admitted(&mut admission) => {
                admission = None;
                lifecycle::chosen(&lane, &mut state, permit);
            }
            _ = sleep_until(park_at.unwrap_or(now)), if park_at.is_some() => {
                state.parking.park_due(&lane, &mut state.pending, &report);
            }
            _ = sleep_until(wakeup.unwrap_or(now)), if wakeup.is_some() => {}
        }
    }
}

/// Ends when a running preparation does; never otherwise.
async fn prepared(preparation: &mut Preparation<'_>) {
    match preparation {
        Preparation::Running(running) => running.await,
        _ => forever().await,
    }
}

/// The next offer, `None` when the intake closed the offers; never once they are closed.
async fn next_offer(offers: &mut Option<UnboundedReceiver<Offer>>) -> Option<Offer> {
    match offers {
        Some(offers) => offers.recv().await,
        None => forever().await,
    }
}

/// The permit the gate grants the pending admission; never without one.
async fn admitted(admission: &mut Option<BoxFuture<'static, GatePermit>>) -> GatePermit {
    match admission {
        Some(admission) => admission.await,
        None => forever().await,
    }
}

#[cfg(test)]
mod tests;
