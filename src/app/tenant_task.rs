//! One tenant's consumer on this connection: its queue consumed (single active consumer: it
//! starts receiving once no other replica's consumer is active) with its share of the
//! in-flight budget as prefetch, its consumer loop run as a task of the connection, and its
//! channel closed when the loop ends, which returns what it still held to the queue. A tenant
//! that arrives from another replica starts with a conservative gate and the pause its old
//! owner reported; a process that starts alone starts its gates normally.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::Application;
use super::connected::Connected;
use crate::broker::{self, QueueConsumer};
use crate::pipeline::{LoopSettings, run_tenant};
use crate::tenants::TenantParts;

/// A tenant this replica is consuming.
pub(super) struct Running {
    pub stop: CancellationToken,
    /// The parts it runs on (a changed tenant gets new ones).
    pub parts: Arc<TenantParts>,
    /// The prefetch its consumer started with (its share of `broker.max_inflight`).
    pub prefetch: u16,
    /// Stopping on purpose: another replica owns it now, it was removed, it changed, or its
    /// share of the in-flight budget did (not a loss).
    pub releasing: bool,
    /// Start it again once drained, if this replica still owns it (a new share).
    pub restart: bool,
}

impl Application {
    /// Consumes `t`'s queue on `c` with `prefetch`; when `taking_over`, with a conservative
    /// gate.
    pub(super) async fn start_tenant(
        &self,
        c: &mut Connected,
        t: &Arc<TenantParts>,
        prefetch: u16,
        taking_over: bool,
    ) -> anyhow::Result<()> {
        let queue = self.names.tenant_queue(&t.id);
        let (consumer, mut stream) = QueueConsumer::start(&c.conn, &queue, prefetch, "").await?;
        tracing::debug!(tenant = %t.id, prefetch, "consuming");
        self.metrics.consumer_prefetch(&t.id, Some(prefetch));
        self.metrics.consuming(&t.id, true);
        for target in &t.targets {
            let gate = target.gate();
            if taking_over {
                gate.start_conservatively();
            }
            // A pause the previous owner reported (a 429's wait) still holds here.
            if let Some(left) = self.membership.heard_pause(&t.id, target.kind()) {
                tracing::info!(tenant = %t.id, target = %target.kind(), wait = ?left, "taking over a paused gate");
                gate.pause_until(tokio::time::Instant::now() + left);
            }
        }
        let ctx = Arc::new(self.loop_context(Some(t), &c.publisher));
        let parts = t.clone();
        let settings = LoopSettings {
            max_changes: self.settings.batch.max_changes,
            linger: self.settings.batch.linger,
            drain_timeout: self.settings.shutdown.drain_timeout,
            hold_limit: self.settings.broker.hold_limit(),
        };
        let tenant_stop = c.stop.child_token();
        let (task_stop, lost) = (tenant_stop.clone(), c.lost.clone());
        let (metrics, tenant) = (self.metrics.clone(), t.id.clone());
        let set = self.tenants.clone();
        let id = c
            .tasks
            .set
            .spawn(async move {
                let end = run_tenant(ctx, &mut stream, settings, task_stop, lost).await;
                // Whatever the channel still holds goes back to the queue, and the next
                // consumer (another replica, after a handover) becomes the active one. The
                // consumer is dropped after its channel is closed (see `close_channel`).
                broker::close_channel(&consumer.channel, "tenant stopped").await;
                drop(stream);
                metrics.consumer_prefetch(&tenant, None);
                // A tenant removed from the set has no series left to say so.
                if set.get(&tenant).is_some() {
                    metrics.consuming(&tenant, false);
                } else {
                    metrics.consuming_forgotten(&tenant);
                }
                end
            })
            .id();
        c.tasks.tenant_of.insert(id, t.id.clone());
        c.tasks.running.insert(
            t.id.clone(),
            Running {
                stop: tenant_stop,
                parts,
                prefetch,
                releasing: false,
                restart: false,
            },
        );
        Ok(())
    }
}
