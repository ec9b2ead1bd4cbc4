//! One flush of a tenant's batch: pick the version to push per (script, target), skip what
//! the ordering rule already covers, push to every target at once, then settle every
//! delivery of the batch by the ack tracker's verdict.

use std::collections::BTreeMap;

use futures::future::join_all;

use crate::broker::Inbound;
use crate::change::TargetKind;
use crate::metrics::PushOutcomeLabel;
use crate::targets::{FailureReason, PushItem, PushOutcome};

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
                }
            }
            plans.push((target.clone(), items, owners));
        }
    }

    let pushes = plans.iter().map(|(target, items, _)| async move {
        if items.is_empty() {
            Vec::new()
        } else {
            target.push(items).await
        }
    });
    let outcomes = join_all(pushes).await;

    {
        let mut high_water = ctx.high_water.lock().expect("high-water lock");
        for ((target, items, owners), outcomes) in plans.iter().zip(outcomes) {
            let kind = target.kind();
            for ((item, &gi), outcome) in items.iter().zip(owners).zip(outcomes) {
                let version = item.change.version;
                if matches!(outcome, PushOutcome::Delivered { .. }) {
                    high_water.record(kind, &item.change.script_id, version);
                }
                ctx.metrics
                    .push_outcome(&ctx.tenant, kind, outcome_label(&outcome));
                results[gi].insert(kind, TargetResult::Pushed { version, outcome });
            }
        }
    }

    for (group, results) in groups.into_iter().zip(results) {
        for member in group.members {
            let v = verdict(member.change.version, &member.owed, &results);
            settle(ctx, member, v).await;
        }
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
