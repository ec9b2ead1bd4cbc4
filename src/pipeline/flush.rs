//! One flush of a tenant's batch: pick the version to push per (script, target), skip what
//! the ordering rule already covers, push to every target at once, then settle every
//! delivery of the batch by the ack tracker's verdict.

use std::collections::BTreeMap;

use futures::future::join_all;

use crate::broker::Inbound;
use tracing::Instrument;

use crate::change::{ScriptChange, TargetKind};
use crate::metrics::PushOutcomeLabel;
use crate::targets::{FailureReason, PushItem, PushOutcome};
use crate::telemetry;

use super::batcher::Group;
use super::context::TenantContext;
use super::settle::settle;
use super::verdict::{TargetResult, verdict};

/// Pushes and settles one batch.
pub async fn flush(ctx: &TenantContext, groups: Vec<Group<Inbound>>) {
    let mut results: Vec<BTreeMap<TargetKind, TargetResult>> = vec![BTreeMap::new(); groups.len()];
    let mut plans = Vec::new();
    {
        let high_water = ctx.high_water.lock().expect("high-water lock");
        for target in &ctx.targets {
            let kind = target.kind();
            let mut items = Vec::new();
            let mut owners = Vec::new();
            let mut parents = Vec::new();
            for (gi, group) in groups.iter().enumerate() {
                let Some(newest) = group.newest_for(kind) else {
                    continue;
                };
                if high_water.covers(kind, &group.script_id, newest.change.version) {
                    results[gi].insert(kind, TargetResult::AlreadyHeld);
                } else {
                    items.push(PushItem {
                        change: newest.change.clone(),
                        replay: newest.replay,
                    });
                    owners.push(gi);
                    parents.push(newest.token.span.clone());
                }
            }
            let span = push_span(&ctx.tenant, kind, &parents);
            plans.push((target.clone(), items, owners, span));
        }
    }

    let pushes = plans.iter().map(|(target, items, _, span)| {
        async move {
            if items.is_empty() {
                Vec::new()
            } else {
                target.push(items).await
            }
        }
        .instrument(span.clone())
    });
    let outcomes = join_all(pushes).await;

    {
        let mut high_water = ctx.high_water.lock().expect("high-water lock");
        for ((target, items, owners, _), outcomes) in plans.iter().zip(outcomes) {
            let kind = target.kind();
            for ((item, &gi), outcome) in items.iter().zip(owners).zip(outcomes) {
                let version = item.change.version;
                if matches!(outcome, PushOutcome::Delivered { .. }) {
                    high_water.record(kind, &item.change.script_id, version);
                }
                ctx.metrics
                    .push_outcome(&ctx.tenant, kind, outcome_label(&outcome));
                log_outcome(&ctx.tenant, kind, &item.change, &outcome);
                results[gi].insert(kind, TargetResult::Pushed { version, outcome });
            }
        }
    }

    for (group, results) in groups.into_iter().zip(results) {
        for member in group.members {
            let v = verdict(member.change.version, &member.owed, &results);
            let span = member.token.span.clone();
            settle(ctx, member, v).instrument(span).await;
        }
    }
}

/// The span of one target's share of a flush. A push that serves one delivery continues
/// that delivery's trace (and so the publisher's); in a batch it continues the first
/// delivery's trace and links the others.
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

/// The push log line of one change at one target.
fn log_outcome(tenant: &str, target: TargetKind, change: &ScriptChange, outcome: &PushOutcome) {
    let (script_id, version) = (change.script_id.as_str(), change.version);
    match outcome {
        PushOutcome::Delivered {
            attempts,
            correlation_id,
        } => tracing::info!(
            tenant,
            script_id,
            version,
            target = target.as_str(),
            attempt = attempts,
            outcome = "delivered",
            correlation_id = correlation_id.as_deref(),
            "change pushed"
        ),
        PushOutcome::Superseded => tracing::info!(
            tenant,
            script_id,
            version,
            target = target.as_str(),
            attempt = 0,
            outcome = "superseded",
            "target already holds this version or a newer one"
        ),
        PushOutcome::Failed(f) => tracing::warn!(
            tenant, script_id, version, target = target.as_str(), attempt = f.attempts,
            status = f.status, outcome = f.reason.as_str(),
            correlation_id = f.correlation_id.as_deref(), error = %f.error, "push failed"
        ),
    }
}

fn outcome_label(outcome: &PushOutcome) -> PushOutcomeLabel {
    match outcome {
        PushOutcome::Delivered { .. } => PushOutcomeLabel::Delivered,
        PushOutcome::Superseded => PushOutcomeLabel::Superseded,
        PushOutcome::Failed(f) if f.reason == FailureReason::Permanent => {
            PushOutcomeLabel::Permanent
        }
        PushOutcome::Failed(_) => PushOutcomeLabel::Exhausted,
    }
}
