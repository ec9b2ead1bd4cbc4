//! One request of a lane. [`dispatch`] turns what the gate just admitted into jobs (the newest
//! waiting version of each chosen script) and sends them in a task of their own, under a
//! `push` span that continues the first delivery's trace and links the others. [`complete`]
//! takes what came back: records and reports what the target now holds, schedules a retry
//! through the pending set (the retry passes the gate again), or gives up and reports the
//! failure for the ack tracker to dead-letter.

use std::sync::Arc;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use crate::change::{Operation, Priority, TargetKind};
use crate::metrics::PushOutcomeLabel;
use crate::push::{AttemptError, Class, GatePermit, Retries, retries};
use crate::targets::{Attempted, FailureReason, Job};
use crate::telemetry;

use super::parking::Parking;
use super::pending::{PendingSet, Taken};
use super::{LaneContext, Report, Reporter, Waiting};

/// What a request task hands back: its jobs, as sent, and one answer per job.
pub(crate) struct Completion {
    jobs: Vec<Job>,
    sent: Vec<Sent>,
    results: Vec<Attempted>,
}

/// What a job needs to return to the pending set for a retry.
struct Sent {
    since: Instant,
    priority: Priority,
    span: tracing::Span,
}

/// Sends the best ready scripts (up to the target's capacity) under `permit`.
pub(crate) fn dispatch(
    lane: &Arc<LaneContext>,
    pending: &mut PendingSet<Waiting>,
    permit: GatePermit,
    inflight: &mut JoinSet<Completion>,
) {
    let mut jobs = Vec::new();
    let mut sent = Vec::new();
    for taken in pending.take(lane.target.capacity()) {
        let Waiting {
            change,
            replay,
            span,
            job,
            ..
        } = taken.item;
        let job = job.unwrap_or_else(|| Job::new(change, replay, Retries::start(&lane.schedule)));
        sent.push(Sent {
            since: taken.since,
            priority: taken.priority,
            span,
        });
        jobs.push(job);
    }
    if jobs.is_empty() {
        return;
    }
    let parents: Vec<tracing::Span> = sent.iter().map(|s| s.span.clone()).collect();
    let span = push_span(&lane.tenant, lane.target.kind(), &parents);
    let target = lane.target.clone();
    inflight.spawn(
        async move {
            let mut jobs = jobs;
            let results = target.attempt(permit, &mut jobs).await;
            Completion {
                jobs,
                sent,
                results,
            }
        }
        .instrument(span),
    );
}

/// Takes the answers of one request.
pub(crate) fn complete(
    lane: &LaneContext,
    (pending, parking): (&mut PendingSet<Waiting>, &mut Parking),
    done: Completion,
    report: &Reporter,
) {
    let kind = lane.target.kind();
    // One draw per request: the items of one failed call come back together.
    let jitter = rand::random::<f64>();
    let mut results = done.results.into_iter();
    for (mut job, sent) in done.jobs.into_iter().zip(done.sent) {
        let script = job.change.script_id().to_owned();
        let version = job.change.version();
        let result = results
            .next()
            .unwrap_or_else(|| Attempted::Failed(no_answer()));
        match result {
            Attempted::Delivered => {
                parking.reached(&script, version);
                reached(lane, pending, &job, version, true, report);
            }
            Attempted::AlreadyHeld(held) => {
                parking.reached(&script, held.max(version));
                reached(lane, pending, &job, held.max(version), false, report);
            }
            Attempted::Failed(_) if parking.covers(&script, version) => {
                // A newer (or the same) version went to the wait queue meanwhile: it carries
                // this one; no retry.
                pending.finish(&script, None);
                report(Report::Covered { script, version });
            }
            Attempted::Failed(e) => {
                match retries::decide(&mut job.retries, &e, lane.target.gate(), jitter) {
                    Some(wait) => {
                        lane.metrics.retried(&lane.tenant, kind);
                        tracing::debug!(
                            tenant = %lane.tenant, target = %kind, script_id = %script, version,
                            attempt = job.retries.attempts(), error = %e.message, ?wait, "retrying"
                        );
                        let (change, replay) = (job.change.clone(), job.replay);
                        let waiting = Waiting::new(lane, change, replay, sent.span, Some(job));
                        let taken = Taken {
                            script: script.clone(),
                            item: waiting,
                            since: sent.since,
                            priority: sent.priority,
                        };
                        // A newer version waiting replaces this one: its retries end here.
                        let _superseded =
                            pending.finish(&script, Some((taken, Instant::now() + wait)));
                    }
                    None => give_up(lane, pending, job, e, report),
                }
            }
        }
    }
}

/// The target holds `version` of the job's script now.
fn reached(
    lane: &LaneContext,
    pending: &mut PendingSet<Waiting>,
    job: &Job,
    version: u64,
    pushed: bool,
    report: &Reporter,
) {
    let kind = lane.target.kind();
    let script = job.change.script_id();
    lane.high_water.lock().record(kind, script, version);
    pending.finish(script, None);
    let label = if pushed {
        PushOutcomeLabel::Delivered
    } else {
        PushOutcomeLabel::Superseded
    };
    lane.metrics.push_outcome(&lane.tenant, kind, label);
    if let Some(published) = job.change.published_at_time().filter(|_| pushed) {
        let age = time::OffsetDateTime::now_utc() - published;
        lane.metrics
            .end_to_end(&lane.tenant, kind, age.as_seconds_f64().max(0.0));
    }
    if pushed && job.change.operation() == Operation::Retire {
        lane.metrics.retired(&lane.tenant, kind);
    }
    tracing::info!(
        tenant = %lane.tenant, script_id = script, version = job.change.version(),
        target = kind.as_str(), attempt = job.retries.attempts(), outcome = label.as_str(),
        correlation_id = job.correlation_id.as_deref(),
        "{}", if pushed { "change pushed" } else { "target already holds this version or a newer one" }
    );
    report(Report::Reached {
        script: script.to_owned(),
        version,
        pushed,
    });
}

/// No more tries for the job: report the failure (permanent or exhausted).
fn give_up(
    lane: &LaneContext,
    pending: &mut PendingSet<Waiting>,
    mut job: Job,
    e: AttemptError,
    report: &Reporter,
) {
    let kind = lane.target.kind();
    // The id of the last failed response (a transport failure has none).
    let failure = job.retries.give_up(e);
    let script = job.change.script_id().to_owned();
    pending.finish(&script, None);
    let label = match failure.reason {
        FailureReason::Permanent | FailureReason::InvalidKey | FailureReason::DatatableFull => {
            PushOutcomeLabel::Permanent
        }
        FailureReason::Exhausted => PushOutcomeLabel::Exhausted,
    };
    lane.metrics.push_outcome(&lane.tenant, kind, label);
    tracing::warn!(
        tenant = %lane.tenant, script_id = %script, version = job.change.version(),
        target = kind.as_str(), attempt = failure.attempts, status = failure.status,
        outcome = failure.reason.as_str(), correlation_id = failure.correlation_id.as_deref(),
        error = %failure.error, "push failed"
    );
    report(Report::Failed {
        script,
        version: job.change.version(),
        failure,
    });
}

/// A target answered fewer results than jobs (a bug): the job is retried as transient.
fn no_answer() -> AttemptError {
    AttemptError::new(Class::Transient, "no answer for this change")
}

/// The span of one request: a child of the first delivery's span (and so of the publisher's
/// trace), linking the other deliveries it carries.
fn push_span(tenant: &str, target: TargetKind, parents: &[tracing::Span]) -> tracing::Span {
    let span = tracing::info_span!(
        parent: parents.first().and_then(|p| p.id()),
        "push",
        otel.name = format!("push {target}"),
        tenant,
        target = target.as_str(),
        changes = parents.len(),
    );
    for other in parents.iter().skip(1) {
        telemetry::link_to(&span, other);
    }
    span
}
