//! What every connection runs besides the tenants: the replicas' heartbeats (membership),
//! the write probe (is the cluster still taking durable writes?), the dead-letter queue's
//! depth for `/metrics`, and the consumer of the unrouted queue (messages for tenants that
//! have no queue). Each is a task of the connection: one that ends by a loss ends the
//! connection's life.

use tokio_util::sync::CancellationToken;

use super::Application;
use super::connected::Connected;
use crate::broker::{self, Publisher, QueueConsumer};
use crate::pipeline::{LoopEnd, run_unrouted};

/// Unacked deliveries the unrouted queue's consumer holds (it dead-letters each as
/// `unknown_tenant`).
const UNROUTED_PREFETCH: u16 = 50;

impl Application {
    /// Starts the connection's own tasks on `c`; `shutdown` (not `c.stop`) makes the heartbeats
    /// say `leaving`. Returns the unrouted queue's consumer, to cancel when the life ends.
    pub(super) async fn start_own_tasks(
        &self,
        c: &mut Connected,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<QueueConsumer> {
        let membership = self.membership.clone();
        let (beat_channel, exchange) = (c.conn.create_channel().await?, self.names.replicas());
        let (beat_stop, leaving) = (c.stop.clone(), shutdown.clone());
        c.tasks.set.spawn(async move {
            match membership
                .run(beat_channel, &exchange, beat_stop, leaving)
                .await
            {
                Ok(()) => LoopEnd::Shutdown,
                Err(e) => LoopEnd::StreamLost(format!("replica heartbeats: {e}")),
            }
        });
        let confirm_timeout = self.settings.broker.confirm_timeout;
        let probe_publisher = Publisher::open(&c.conn, confirm_timeout).await?;
        let (probe_queue, writable) = (self.names.probe(), self.writable.clone());
        let probe_stop = c.stop.clone();
        c.tasks.set.spawn(async move {
            match broker::probe::run(probe_publisher, probe_queue, writable, probe_stop).await {
                Ok(()) => LoopEnd::Shutdown,
                Err(e) => LoopEnd::StreamLost(format!("write probe: {e}")),
            }
        });
        let (depth_channel, dlq) = (c.conn.create_channel().await?, self.names.dlq());
        let (metrics, depth_stop) = (self.metrics.clone(), c.stop.clone());
        c.tasks.set.spawn(async move {
            let report = |messages| metrics.dlq_messages(messages);
            broker::depth::watch(depth_channel, dlq, report, depth_stop).await;
            LoopEnd::Shutdown
        });
        let queue = self.names.unrouted();
        let (unrouted, stream) =
            QueueConsumer::start(&c.conn, &queue, UNROUTED_PREFETCH, "").await?;
        let unrouted_ctx = self.loop_context(None, &c.publisher);
        let unrouted_stop = c.stop.clone();
        c.tasks.set.spawn(async move {
            match run_unrouted(&unrouted_ctx, stream, unrouted_stop).await {
                None => LoopEnd::Shutdown,
                Some(e) => LoopEnd::StreamLost(e),
            }
        });
        Ok(unrouted)
    }
}
