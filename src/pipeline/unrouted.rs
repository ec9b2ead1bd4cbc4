//! The unrouted queue's consumer: messages whose routing key matches no configured tenant
//! are dead-lettered as `unknown_tenant`, body unchanged.

use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::broker::Delivery;
use crate::dlq::{DeadLetter, Reason};

use super::context::TenantContext;
use super::settle::dead_letter_and_ack;

/// Runs until shutdown or the stream ends. `ctx.tenant` is only a label here.
pub async fn run_unrouted<S>(
    ctx: &TenantContext,
    mut deliveries: S,
    shutdown: CancellationToken,
) -> Option<String>
where
    S: Stream<Item = Delivery> + Unpin,
{
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            next = deliveries.next() => match next {
                Some(Ok(inbound)) => {
                    let key = inbound.routing_key.clone();
                    tracing::warn!(routing_key = %key, "message for an unconfigured tenant dead-lettered");
                    let error = format!("no tenant {key:?} is configured");
                    let dl = DeadLetter::intake(Reason::UnknownTenant, error, Some(key));
                    dead_letter_and_ack(ctx, inbound, dl).await;
                }
                Some(Err(e)) => return Some(e.to_string()),
                None => return Some("unrouted consumer stream ended".into()),
            }
        }
    }
}
