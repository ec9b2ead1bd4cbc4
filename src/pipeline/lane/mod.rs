//! A lane: one per (tenant, target), independent of every other (DESIGN §2). It keeps, per
//! script, only the newest version still owed to its target ([`pending`]) and chooses what to
//! send at the moment its gate admits a request (late binding): a version that arrived while
//! an older one waited is sent instead of it, compliance changes first, then oldest first.
//! What each request achieved goes to the tenant's ack tracker through a [`Report`].
//!
//! Retries go back into the pending set with a not-before time and pass the gate again; a
//! newer version that arrives meanwhile replaces the failed one and its retries. A change that
//! would wait for a closed gate past the hold limit is handed to a wait queue ([`parking`]).
//! The lane ends when its offers are closed and nothing is pending or on its way (a drain), or
//! at once when `abort` is cancelled (requests on their way are dropped; the broker
//! redelivers).

mod parking;
pub mod pending;
mod request;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::change::{Priority, ScriptChange};
use crate::metrics::Metrics;
use crate::push::Schedule;
use crate::targets::{Job, PushFailure, Target};

use super::order::HighWater;
use parking::Parking;
use pending::{Offered, Pendable, PendingSet};
use request::Completion;

/// How long a lane waits at most for its gate in one go; it waits again after.
const GATE_WAIT_SLICE: Duration = Duration::from_secs(86_400);

/// One change offered to a lane by the tenant's intake.
#[derive(Debug)]
pub struct Offer {
    pub change: Arc<ScriptChange>,
    /// A DLQ replay or a redelivery: check the target before writing.
    pub replay: bool,
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

/// A pending change as the lane keeps it: fresh, or a job that failed and will be retried.
pub(crate) struct Waiting {
    change: Arc<ScriptChange>,
    replay: bool,
    span: tracing::Span,
    job: Option<Job>,
    /// Open while the change waits in the lane for its gate ("gate wait", a child of the
    /// delivery's span); closed when it is sent or replaced by a newer version.
    _gate_wait: tracing::Span,
}

impl Waiting {
    pub(crate) fn new(
        lane: &LaneContext,
        change: Arc<ScriptChange>,
        replay: bool,
        span: tracing::Span,
        job: Option<Job>,
    ) -> Self {
        let gate_wait = tracing::info_span!(
            parent: &span, "gate wait",
            tenant = %lane.tenant, target = %lane.target.kind(),
        );
        Self {
            change,
            replay,
            span,
            job,
            _gate_wait: gate_wait,
        }
    }
}

impl Pendable for Waiting {
    fn version(&self) -> u64 {
        self.change.version()
    }
    fn priority(&self) -> Priority {
        self.change.priority()
    }
}

/// Runs the lane until its offers are closed and it is idle, or until `abort`.
pub async fn run_lane(
    lane: Arc<LaneContext>,
    mut offers: UnboundedReceiver<Offer>,
    report: Reporter,
    abort: CancellationToken,
) {
    let target = lane.target.clone();
    let fill = if target.capacity() > 1 {
        target.capacity()
    } else {
        usize::MAX
    };
    let mut pending: PendingSet<Waiting> = PendingSet::new(lane.linger, fill);
    let mut parking = Parking::new(lane.hold_limit);
    let mut inflight: JoinSet<Completion> = JoinSet::new();
    // The target prepares (Genesys lists its rows) when the first change arrives, so a
    // lane without traffic costs no request.
    let mut prepare = None;
    let (mut prepared, mut open) = (false, true);
    let mut admission = None;
    loop {
        let now = Instant::now();
        pending.promote(now);
        if !open && pending.is_empty() && inflight.is_empty() {
            break;
        }
        if !prepared && prepare.is_none() && !pending.is_empty() {
            prepare = Some(target.prepare());
        }
        if prepared && admission.is_none() && pending.has_ready() {
            let gate = target.gate().clone();
            admission = Some(Box::pin(async move {
                gate.acquire(now + GATE_WAIT_SLICE).await
            }));
        }
        let wakeup = pending.next_wakeup();
        let paused_for = target.gate().paused_for().unwrap_or_default();
        let park_at = parking.due_at(&pending, paused_for);
        tokio::select! {
            biased;
            _ = abort.cancelled() => break,
            _ = async { prepare.as_mut().expect("guarded").await }, if !prepared && prepare.is_some() => {
                prepared = true;
            }
            Some(done) = inflight.join_next(), if !inflight.is_empty() => {
                if let Ok(done) = done {
                    request::complete(&lane, (&mut pending, &mut parking), done, &report);
                }
            }
            offer = offers.recv(), if open => match offer {
                Some(offer) => accept(&lane, (&mut pending, &mut parking), offer, &report),
                None => open = false,
            },
            admitted = async { admission.as_mut().expect("guarded").await }, if admission.is_some() => {
                admission = None;
                if let Ok(permit) = admitted {
                    super::panics::fault::lane_request(&lane.tenant);
                    request::dispatch(&lane, &mut pending, permit, &mut inflight);
                }
            }
            _ = sleep_until(park_at.unwrap_or(now)), if park_at.is_some() => {
                parking.park_due(&lane, &mut pending, &report);
            }
            _ = sleep_until(wakeup.unwrap_or(now)), if wakeup.is_some() => {}
        }
    }
}

/// Takes an offer: already held at the target (by this worker's record) → reached at once;
/// covered by a parked copy → covered; else it joins the pending set, where it may replace an
/// older waiting version.
fn accept(
    lane: &LaneContext,
    (pending, parking): (&mut PendingSet<Waiting>, &mut Parking),
    offer: Offer,
    report: &Reporter,
) {
    let kind = lane.target.kind();
    let script = offer.change.script_id();
    if offer.returning {
        parking.returned(script, offer.change.version());
    }
    if parking.covers(script, offer.change.version()) {
        report(Report::Covered {
            script: script.to_owned(),
            version: offer.change.version(),
        });
        return;
    }
    let held = lane
        .high_water
        .lock()
        .get(kind, script)
        .filter(|held| *held >= offer.change.version());
    if let Some(held) = held {
        report(Report::Reached {
            script: script.to_owned(),
            version: held,
            pushed: false,
        });
        return;
    }
    let waiting = Waiting::new(lane, offer.change.clone(), offer.replay, offer.span, None);
    if pending.offer(script, waiting, Instant::now()) == Offered::Covered {
        tracing::trace!(tenant = %lane.tenant, target = %kind, script, "covered by a waiting version");
    }
}
