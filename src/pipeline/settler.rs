//! A tenant's settler: its ack tracker, and the settling of what the tracker releases. Each
//! lane's [`Report`] goes into the tracker; what it settles is acked (one task for a batch of
//! acks) or dead-lettered (a task each, awaiting the DLQ confirm); a parked change is copied
//! to its wait queue first and settled once the broker confirmed the copy.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::context::TenantContext;
use super::lane::Report;
use super::settle::settle;
use super::tracker::{AckTracker, Settled, Settlement};
use crate::broker::Inbound;
use crate::broker::park::{ParkedCopy, WaitQueues, park};
use crate::change::TargetKind;

/// The ack tracker of one tenant and the settling of what it releases.
pub(super) struct Settler {
    pub ctx: Arc<TenantContext>,
    pub tracker: Mutex<AckTracker<Inbound>>,
    pub tasks: TaskTracker,
}

impl Settler {
    pub fn tracker(&self) -> parking_lot::MutexGuard<'_, AckTracker<Inbound>> {
        self.tracker.lock()
    }

    /// Dead letters each in a task of their own (a DLQ publish awaits its confirm); plain
    /// acks one after another in one task per report: a burst of thousands of settled
    /// deliveries must not become thousands of tasks each holding its ack in flight.
    pub fn settle_all(&self, settled: Vec<Settled<Inbound>>) {
        let (letters, acks): (Vec<_>, Vec<_>) = settled
            .into_iter()
            .partition(|s| matches!(s.settlement, Settlement::DeadLetter(_)));
        for s in letters {
            let ctx = self.ctx.clone();
            let span = s.token.span.clone();
            self.tasks
                .spawn(async move { settle(&ctx, s).await }.instrument(span));
        }
        if !acks.is_empty() {
            let ctx = self.ctx.clone();
            self.tasks.spawn(async move {
                for s in acks {
                    let span = s.token.span.clone();
                    settle(&ctx, s).instrument(span).await;
                }
            });
        }
    }

    /// What a lane of target `kind` reports.
    pub fn report(self: &Arc<Self>, kind: TargetKind, report: Report) {
        let settled = {
            let mut tracker = self.tracker();
            match report {
                Report::Parked {
                    script,
                    version,
                    wait,
                } => {
                    // The delivery of that version (still owing `kind`) is what gets copied.
                    let copy = tracker
                        .owing(kind, &script, version)
                        .map(|inbound| ParkedCopy::of(inbound, kind));
                    drop(tracker);
                    if let Some(copy) = copy {
                        self.park(kind, script, version, copy, wait);
                    }
                    return;
                }
                Report::Covered { script, version } => {
                    tracker.handed_off(kind, &script, version, false)
                }
                Report::Reached {
                    script,
                    version,
                    pushed,
                } => tracker.reached(kind, &script, version, pushed),
                Report::Failed {
                    script,
                    version,
                    failure,
                } => tracker.failed(kind, &script, version, &failure),
            }
        };
        self.settle_all(settled);
    }

    /// Puts `copy` in `kind`'s wait queue; once confirmed, what it covers is settled. If the
    /// broker refuses, the deliveries stay held (owing `kind`) and go back to the queue when
    /// the channel closes: nothing is lost.
    fn park(
        self: &Arc<Self>,
        kind: TargetKind,
        script: String,
        version: u64,
        copy: ParkedCopy,
        wait: Duration,
    ) {
        let settler = self.clone();
        self.tasks.spawn(async move {
            let ctx = &settler.ctx;
            let queues = WaitQueues {
                publisher: &ctx.publisher,
                names: &ctx.names,
                tenant: &ctx.tenant,
                queue_type: ctx.wait_queue_type,
            };
            match park(queues, kind, copy, wait).await {
                Ok(()) => {
                    ctx.metrics.parked(&ctx.tenant, kind, 1);
                    let settled = settler.tracker().handed_off(kind, &script, version, true);
                    settler.settle_all(settled);
                }
                Err(e) => tracing::error!(
                    tenant = %ctx.tenant, target = %kind, script_id = %script, version,
                    error = %e,
                    "cannot put the change in its wait queue; it stays held and returns to the \
                     queue when the channel closes"
                ),
            }
        });
    }
}
