//! One tenant's consumer loop: deliveries → intake → batcher → flush, with at most one flush
//! in flight. A batch is the `max_changes` oldest pending scripts. While a flush runs, new
//! deliveries keep coalescing into the pending scripts (the prefetch bounds how many are
//! held), so a backlog or a paused quota turns many versions into one push per script.
//!
//! On shutdown: stop taking deliveries, flush what is pending, let the flush finish within
//! `drain_timeout`; whatever is still unsettled is requeued when the channel closes.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::broker::Inbound;

use super::batcher::Batcher;
use super::context::TenantContext;
use super::flush::flush;
use super::intake::intake;

/// Batching parameters of the loop.
#[derive(Debug, Clone, Copy)]
pub struct LoopSettings {
    pub max_changes: usize,
    pub linger: Duration,
    pub drain_timeout: Duration,
}

/// How the loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum LoopEnd {
    /// Shutdown was requested and the drain finished (or timed out).
    Shutdown,
    /// The delivery stream failed or ended (connection or channel lost).
    StreamLost(String),
}

/// Runs until `shutdown` is cancelled or the stream ends.
pub async fn run_tenant<S>(
    ctx: Arc<TenantContext>,
    mut deliveries: S,
    settings: LoopSettings,
    shutdown: CancellationToken,
) -> LoopEnd
where
    S: Stream<Item = lapin::Result<Inbound>> + Unpin,
{
    let mut batcher: Batcher<Inbound> = Batcher::new(settings.max_changes, settings.linger);
    let mut inflight: Option<JoinHandle<()>> = None;
    let end = loop {
        if inflight.as_ref().is_some_and(|h| h.is_finished()) {
            inflight = None;
        }
        if inflight.is_none() && batcher.is_due(Instant::now()) {
            inflight = Some(spawn_flush(&ctx, &mut batcher));
        }
        let deadline = batcher.deadline();
        tokio::select! {
            _ = shutdown.cancelled() => break LoopEnd::Shutdown,
            // Keep reading while a flush is in flight, past max_changes: pending versions
            // coalesce instead of queueing up behind the quota. The prefetch bounds memory.
            next = deliveries.next(), if inflight.is_some() || !batcher.is_full() => match next {
                Some(Ok(inbound)) => {
                    if let Some(pending) = intake(&ctx, inbound).await {
                        batcher.add(pending);
                    }
                }
                Some(Err(e)) => break LoopEnd::StreamLost(e.to_string()),
                None => break LoopEnd::StreamLost("consumer stream ended".into()),
            },
            _ = async { inflight.as_mut().expect("guarded").await }, if inflight.is_some() => {
                inflight = None;
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() && inflight.is_none() => {}
        }
    };
    drain(&ctx, batcher, inflight, &end, settings.drain_timeout).await;
    end
}

fn spawn_flush(ctx: &Arc<TenantContext>, batcher: &mut Batcher<Inbound>) -> JoinHandle<()> {
    let groups = batcher.take_batch();
    let ctx = ctx.clone();
    tokio::spawn(async move { flush(&ctx, groups).await })
}

async fn drain(
    ctx: &Arc<TenantContext>,
    mut batcher: Batcher<Inbound>,
    inflight: Option<JoinHandle<()>>,
    end: &LoopEnd,
    timeout: Duration,
) {
    let ctx = ctx.clone();
    let abort = inflight.as_ref().map(|h| h.abort_handle());
    let work = async move {
        if let Some(handle) = inflight {
            let _ = handle.await;
        }
        while *end == LoopEnd::Shutdown && !batcher.is_empty() {
            flush(&ctx, batcher.take_batch()).await;
        }
    };
    if tokio::time::timeout(timeout, work).await.is_err() {
        tracing::warn!(
            ?timeout,
            "drain timed out; unsettled deliveries will be requeued"
        );
        if let Some(abort) = abort {
            abort.abort();
        }
    }
}
