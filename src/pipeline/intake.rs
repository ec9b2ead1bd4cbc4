//! Intake: turns a delivery into a pending change, or dead-letters it at once.
//!
//! Invalid bodies (DESIGN §3) go to the DLQ as `invalid` with the body unchanged; a change
//! naming a target this tenant has not configured goes as `permanent`. Replayed messages and
//! copies back from a wait queue carry `x-scriptsync-targets`, which narrows the owed targets
//! to those still owed.

use std::sync::Arc;

use tracing::Instrument;

use crate::broker::Inbound;
use crate::change::{self, TargetKind};
use crate::dlq::{DeadLetter, Reason, headers};
use crate::telemetry;

use super::context::TenantContext;
use super::settle::dead_letter_and_ack;

/// A decoded delivery, ready for the ack tracker and the lanes.
pub struct Admitted {
    pub change: Arc<change::ScriptChange>,
    /// The targets this delivery owes (configured, asked for, and still owed on a replay).
    pub owed: Vec<TargetKind>,
    /// The message came from a DLQ replay or is a redelivery: check what the target holds
    /// before writing.
    pub check_first: bool,
    /// The message is a copy back from a wait queue.
    pub returning: bool,
    pub token: Inbound,
}

/// Decodes `inbound`; returns the admitted change, or `None` when it was dead-lettered.
/// Opens the delivery's span (a child of the publisher's trace when the message carries a
/// W3C `traceparent`); it lives with the delivery until it is settled.
pub async fn intake(ctx: &TenantContext, mut inbound: Inbound) -> Option<Admitted> {
    let queue = ctx.names.tenant_queue(&ctx.tenant);
    let span = tracing::info_span!(
        "delivery",
        otel.name = format!("process {queue}"),
        otel.kind = "consumer",
        messaging.system = "rabbitmq",
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = %queue,
        messaging.rabbitmq.destination.routing_key = %inbound.routing_key,
        messaging.message.body.size = inbound.body.len(),
        messaging.message.id = inbound.properties.message_id().as_ref().map(|m| m.as_str()),
        messaging.message.conversation_id = inbound.correlation_id(),
        tenant = %ctx.tenant,
        script_id = tracing::field::Empty,
        version = tracing::field::Empty,
        change_id = tracing::field::Empty,
    );
    telemetry::continue_trace(&span, |k| inbound.header(k));
    inbound.span = span.clone();
    decode(ctx, inbound).instrument(span).await
}

async fn decode(ctx: &TenantContext, inbound: Inbound) -> Option<Admitted> {
    ctx.metrics.consumed(&ctx.tenant);
    let change = match change::decode(&inbound.body, &inbound.routing_key, ctx.max_message_bytes) {
        Ok(change) => change,
        Err(e) => {
            tracing::warn!(tenant = %ctx.tenant, reason = %e, "invalid message dead-lettered");
            let dl = DeadLetter::intake(Reason::Invalid, e.to_string(), Some(ctx.tenant.clone()));
            dead_letter_and_ack(ctx, inbound, dl).await;
            return None;
        }
    };
    inbound
        .span
        .record("script_id", change.script_id())
        .record("version", change.version())
        .record("change_id", change.id());
    let configured = ctx.configured();
    if let Some(missing) = change
        .targets()
        .into_iter()
        .flatten()
        .find(|t| !configured.contains(t))
    {
        let error = format!(
            "target {missing} is not configured for tenant {}",
            ctx.tenant
        );
        tracing::warn!(tenant = %ctx.tenant, script_id = %change.script_id(), %error, "change dead-lettered");
        let mut dl = DeadLetter::intake(Reason::Permanent, error, Some(ctx.tenant.clone()));
        dl.targets = vec![*missing];
        dead_letter_and_ack(ctx, inbound, dl).await;
        return None;
    }
    let still_owed: Option<Vec<TargetKind>> = inbound
        .header(headers::TARGETS)
        .filter(|_| inbound.replays() > 0 || inbound.parked() > 0)
        .map(|v| {
            v.split(',')
                .filter_map(|t| TargetKind::parse(t.trim()))
                .collect()
        });
    let owed: Vec<TargetKind> = configured
        .into_iter()
        .filter(|t| change.wants(*t))
        .filter(|t| still_owed.as_ref().is_none_or(|s| s.contains(t)))
        .collect();
    ctx.metrics.inflight_add(&ctx.tenant, 1);
    Some(Admitted {
        change: Arc::new(change),
        owed,
        // A replayed or redelivered message may be older than what the target already holds
        // (this process's ordering state does not survive a crash): read before writing.
        check_first: inbound.replays() > 0 || inbound.redelivered,
        returning: inbound.parked() > 0,
        token: inbound,
    })
}
