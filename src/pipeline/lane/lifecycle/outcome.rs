//! How a change's life in a lane ends, told to the world: the metrics, the log line and the
//! [`Report`] for the ack tracker when the target holds it ([`reached`]) or gave up on it
//! ([`gave_up`]); and the `push` span of a request ([`push_span`]).

use crate::change::{Operation, TargetKind};
use crate::metrics::PushOutcomeLabel;
use crate::push::AttemptError;
use crate::targets::{FailureReason, Job};
use crate::telemetry;

use super::super::{LaneContext, Report, Reporter};

/// The target holds `version` of the job's script now; `pushed` when this request wrote it.
pub(super) fn reached(
    lane: &LaneContext,
    job: &Job,
    version: u64,
    pushed: bool,
    report: &Reporter,
) {
    let kind = lane.target.kind();
    let script = job.change.script_id();
    lane.high_water.lock().record(kind, script, version);
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

/// No more tries for the job after `e`: report the failure (permanent or exhausted).
pub(super) fn gave_up(lane: &LaneContext, mut job: Job, e: AttemptError, report: &Reporter) {
    let kind = lane.target.kind();
    let failure = job.retries.give_up(e);
    let label = match failure.reason {
        FailureReason::Permanent | FailureReason::InvalidKey | FailureReason::DatatableFull => {
            PushOutcomeLabel::Permanent
        }
        FailureReason::Exhausted => PushOutcomeLabel::Exhausted,
    };
    lane.metrics.push_outcome(&lane.tenant, kind, label);
    tracing::warn!(
        tenant = %lane.tenant, script_id = %job.change.script_id(), version = job.change.version(),
        target = kind.as_str(), attempt = failure.attempts, status = failure.status,
        outcome = failure.reason.as_str(), correlation_id = failure.correlation_id.as_deref(),
        error = %failure.error, "push failed"
    );
    report(Report::Failed {
        script: job.change.script_id().to_owned(),
        version: job.change.version(),
        failure,
    });
}

/// The span of one request: a child of the first delivery's span (and so of the publisher's
/// trace), linking the other deliveries it carries.
pub(super) fn push_span(
    tenant: &str,
    target: TargetKind,
    parents: &[&tracing::Span],
) -> tracing::Span {
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
