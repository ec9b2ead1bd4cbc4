//! Settling deliveries: the one terminal action each is owed. Ack; or publish to the DLQ,
//! wait for the confirm, then ack. If the DLQ publish fails the delivery is requeued, never
//! acked, so nothing is lost.
//!
//! A delivery counts as settled (on the status board) only here, once its terminal action
//! completed: acked, or dead-lettered and acked. A failed ack or a requeue leaves it to be
//! delivered again, and counted then.

use time::OffsetDateTime;

use crate::broker::Inbound;
use crate::dlq::{DeadLetter, Reason};
use crate::targets::FailureReason;

use super::context::TenantContext;
use super::tracker::{Settled, Settlement};

/// Publishes `dl` for `inbound` (confirm awaited) and then acks it.
pub async fn dead_letter_and_ack(ctx: &TenantContext, inbound: Inbound, dl: DeadLetter) {
    match dl.publish(&ctx.publisher, &ctx.names, &inbound).await {
        Ok(()) => {
            let tenant = dl.tenant.as_deref().unwrap_or(&ctx.tenant);
            ctx.metrics.dead_lettered(tenant, dl.reason.as_str());
            match inbound.ack.ack().await {
                Ok(()) => ctx.metrics.settled(tenant),
                Err(e) => {
                    tracing::warn!(tenant = %ctx.tenant, error = %e, "ack after dead-lettering failed; the broker will redeliver")
                }
            }
        }
        Err(e) => {
            tracing::error!(tenant = %ctx.tenant, error = %e, "cannot dead-letter; requeueing the message");
            let _ = inbound.ack.requeue().await;
        }
    }
}

/// Carries out the settlement for one settled delivery and records its metrics.
pub async fn settle(ctx: &TenantContext, settled: Settled<Inbound>) {
    ctx.metrics.inflight_add(&ctx.tenant, -1);
    let Settled {
        token,
        change,
        settlement,
    } = settled;
    match settlement {
        Settlement::Delivered | Settlement::Superseded | Settlement::Parked => {
            if settlement == Settlement::Superseded {
                ctx.metrics.superseded(&ctx.tenant);
            }
            // Only the ack handle waits for the ack: the body, properties and span of a
            // settled delivery go now (thousands of acks can be queued after a burst).
            let ack = {
                let inbound = token;
                inbound.ack
            };
            match ack.ack().await {
                Ok(()) => ctx.metrics.settled(&ctx.tenant),
                Err(e) => {
                    tracing::warn!(tenant = %ctx.tenant, script_id = %change.script_id(), error = %e, "ack failed; the broker will redeliver")
                }
            }
        }
        Settlement::DeadLetter(failures) => {
            let (first_target, first) = &failures[0];
            // One reason per letter: the one that most needs a person (a key to fix, a table
            // to make room in), then a refusal, then a spent budget.
            let has = |r: FailureReason| failures.iter().any(|(_, f)| f.reason == r);
            let reason = if has(FailureReason::InvalidKey) {
                Reason::InvalidKey
            } else if has(FailureReason::DatatableFull) {
                Reason::DatatableFull
            } else if has(FailureReason::Permanent) {
                Reason::Permanent
            } else {
                Reason::Exhausted
            };
            let error = failures
                .iter()
                .map(|(t, f)| format!("{t}: {}", f.error))
                .collect::<Vec<_>>()
                .join("; ");
            tracing::warn!(
                tenant = %ctx.tenant, script_id = %change.script_id(), version = change.version(),
                target = %first_target, status = ?first.status, attempts = first.attempts,
                correlation_id = ?first.correlation_id, reason = reason.as_str(), %error,
                "change dead-lettered"
            );
            let dl = DeadLetter {
                reason,
                error,
                status: first.status,
                targets: failures.iter().map(|(t, _)| *t).collect(),
                attempts: failures.iter().map(|(_, f)| f.attempts).max().unwrap_or(0),
                tenant: Some(ctx.tenant.clone()),
                first_failed_at: failures
                    .iter()
                    .filter_map(|(_, f)| f.first_failed_at)
                    .min()
                    .map(OffsetDateTime::from),
                request_ids: failures
                    .iter()
                    .filter_map(|(t, f)| Some((*t, f.correlation_id.clone()?)))
                    .collect(),
            };
            // Boxed: the dead-letter path's future is large, and every settle task of the
            // common ack path would otherwise be as big.
            Box::pin(dead_letter_and_ack(ctx, token, dl)).await;
        }
    }
}
