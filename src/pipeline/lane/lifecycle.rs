//! A change's life in a lane, in the order it lives it:
//!
//! 1. [`offered`]: already held at the target (by this worker's record) → reached at once;
//!    covered by a parked copy → covered; else it joins the pending set, where it may replace
//!    an older waiting version.
//! 2. [`chosen`]: the gate admitted a request, and the newest waiting version of each of the
//!    best ready scripts (up to the target's capacity) goes in it.
//! 3. [`sent`]: the request task, under a `push` span that continues the first delivery's
//!    trace and links the others; one [`Answered`] per change comes back.
//! 4. [`settled`]: what the target now holds is recorded and reported; a failure is retried
//!    through the pending set (the retry passes the gate again), or given up and reported for
//!    the ack tracker to dead-letter.

use std::sync::Arc;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use crate::change::{Priority, ScriptChange};
use crate::push::{AttemptError, Class, GatePermit, Retries, retries};
use crate::targets::{Attempted, Job, Target};

use super::parking::Parking;
use super::pending::{Batching, Offered, Pendable, PendingSet, Taken};
use super::{LaneContext, Offer, Report, Reporter};

mod outcome;
use outcome::{gave_up, push_span, reached};

/// A lane's changes: waiting, parked, and on their way.
pub(super) struct LaneState {
    pub pending: PendingSet<Owed>,
    pub parking: Parking,
    pub inflight: JoinSet<Vec<Answered>>,
}

impl LaneState {
    pub fn new(lane: &LaneContext) -> Self {
        let batching = match lane.target.capacity() {
            1 => Batching::EachLingers,
            n => Batching::FillsAt(n),
        };
        Self {
            pending: PendingSet::new(lane.linger, batching),
            parking: Parking::new(lane.hold_limit),
            inflight: JoinSet::new(),
        }
    }

    /// Nothing waits and nothing is on its way.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.inflight.is_empty()
    }
}

/// A change the lane owes its target, as it waits: fresh, or a job that failed and will be
/// retried (with the requests and failures counted so far).
pub(super) struct Owed {
    work: Work,
    span: tracing::Span,
    /// Open while the change waits in the lane for its gate ("gate wait", a child of the
    /// delivery's span); closed when it is sent or replaced by a newer version.
    _gate_wait: tracing::Span,
}

enum Work {
    Fresh {
        change: Arc<ScriptChange>,
        check_first: bool,
    },
    Retry(Box<Job>),
}

impl Owed {
    fn new(lane: &LaneContext, work: Work, span: tracing::Span) -> Self {
        let gate_wait = tracing::info_span!(
            parent: &span, "gate wait",
            tenant = %lane.tenant, target = %lane.target.kind(),
        );
        Self {
            work,
            span,
            _gate_wait: gate_wait,
        }
    }

    fn change(&self) -> &ScriptChange {
        match &self.work {
            Work::Fresh { change, .. } => change,
            Work::Retry(job) => &job.change,
        }
    }
}

impl Pendable for Owed {
    fn version(&self) -> u64 {
        self.change().version()
    }
    fn priority(&self) -> Priority {
        self.change().priority()
    }
}

/// Step 1: an offer from the tenant's intake.
pub(super) fn offered(lane: &LaneContext, state: &mut LaneState, offer: Offer, report: &Reporter) {
    let kind = lane.target.kind();
    let (script, version) = (offer.change.script_id(), offer.change.version());
    if offer.returning {
        state.parking.returned(script, version);
    }
    if state.parking.covers(script, version) {
        let script = script.to_owned();
        report(Report::Covered { script, version });
        return;
    }
    let held = lane.high_water.lock().get(kind, script);
    if let Some(held) = held.filter(|held| *held >= version) {
        let (script, pushed) = (script.to_owned(), false);
        report(Report::Reached {
            script,
            version: held,
            pushed,
        });
        return;
    }
    let work = Work::Fresh {
        change: offer.change.clone(),
        check_first: offer.check_first,
    };
    let owed = Owed::new(lane, work, offer.span);
    if state.pending.offer(script, owed, Instant::now()) == Offered::Covered {
        tracing::trace!(tenant = %lane.tenant, target = %kind, script, "covered by a waiting version");
    }
}

/// A change on its way, with what it needs to come back for a retry.
pub(super) struct Going {
    since: Instant,
    priority: Priority,
    span: tracing::Span,
}

/// What came back for one change of a request.
pub(super) struct Answered {
    job: Job,
    going: Going,
    result: Attempted,
}

/// Step 2: the gate admitted a request (`permit`): the best ready scripts go in it.
pub(super) fn chosen(lane: &LaneContext, state: &mut LaneState, permit: GatePermit) {
    let mut jobs = Vec::new();
    let mut going = Vec::new();
    for taken in state.pending.take(lane.target.capacity()) {
        let Owed { work, span, .. } = taken.item;
        jobs.push(match work {
            Work::Fresh {
                change,
                check_first,
            } => Job::new(change, check_first, Retries::start(&lane.schedule)),
            Work::Retry(job) => *job,
        });
        going.push(Going {
            since: taken.since,
            priority: taken.priority,
            span,
        });
    }
    if jobs.is_empty() {
        return;
    }
    let parents: Vec<&tracing::Span> = going.iter().map(|g| &g.span).collect();
    let span = push_span(&lane.tenant, lane.target.kind(), &parents);
    let target = lane.target.clone();
    state
        .inflight
        .spawn(sent(target, permit, jobs, going).instrument(span));
}

/// Step 3: one request for `jobs` under `permit`; an answer for each.
async fn sent(
    target: Arc<dyn Target>,
    permit: GatePermit,
    mut jobs: Vec<Job>,
    going: Vec<Going>,
) -> Vec<Answered> {
    let mut results = target.attempt(permit, &mut jobs).await.into_iter();
    jobs.into_iter()
        .zip(going)
        .map(|(job, going)| Answered {
            job,
            going,
            // A target answered fewer results than jobs (a bug): retried as transient.
            result: results.next().unwrap_or_else(|| {
                Attempted::Failed(AttemptError::new(
                    Class::Transient,
                    "no answer for this change",
                ))
            }),
        })
        .collect()
}

/// Step 4: the answers of one request.
pub(super) fn settled(
    lane: &LaneContext,
    state: &mut LaneState,
    answers: Vec<Answered>,
    report: &Reporter,
) {
    // One draw per request: the items of one failed call come back together.
    let jitter = rand::random::<f64>();
    for Answered {
        mut job,
        going,
        result,
    } in answers
    {
        let script = job.change.script_id().to_owned();
        let version = job.change.version();
        let e = match result {
            Attempted::Delivered => {
                state.parking.reached(&script, version);
                state.pending.finish(&script, None);
                reached(lane, &job, version, true, report);
                continue;
            }
            Attempted::AlreadyHeld(held) => {
                state.parking.reached(&script, held.max(version));
                state.pending.finish(&script, None);
                reached(lane, &job, held.max(version), false, report);
                continue;
            }
            Attempted::Failed(e) => e,
        };
        if state.parking.covers(&script, version) {
            // A newer (or the same) version went to the wait queue meanwhile: it carries
            // this one; no retry.
            state.pending.finish(&script, None);
            report(Report::Covered { script, version });
            continue;
        }
        let Some(wait) = retries::decide(&mut job.retries, &e, lane.target.gate(), jitter) else {
            state.pending.finish(&script, None);
            gave_up(lane, job, e, report);
            continue;
        };
        lane.metrics.retried(&lane.tenant, lane.target.kind());
        tracing::debug!(
            tenant = %lane.tenant, target = %lane.target.kind(), script_id = %script, version,
            attempt = job.retries.attempts(), error = %e.message, ?wait, "retrying"
        );
        let retry = Taken {
            script: script.clone(),
            item: Owed::new(lane, Work::Retry(Box::new(job)), going.span),
            since: going.since,
            priority: going.priority,
        };
        // A newer version waiting replaces this one: its retries end here.
        let _superseded = state
            .pending
            .finish(&script, Some((retry, Instant::now() + wait)));
    }
}
