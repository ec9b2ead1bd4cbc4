//! A queue's depth read at intervals: a passive declare answers with the queue's message
//! count. The worker reads its dead-letter queue's this way for `scriptsync_dlq_messages`
//! (every replica reads the same queue; the alerts take the max).

use std::time::Duration;

use lapin::Channel;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use tokio_util::sync::CancellationToken;

/// How often the depth is read.
pub const DEPTH_INTERVAL: Duration = Duration::from_secs(30);

/// Reads `queue`'s depth on `channel` every [`DEPTH_INTERVAL`] and hands it to `report`,
/// until `stop`. A failed read (the queue deleted by hand closes the channel) is logged
/// once and the watch stops: the depth is an observation, never a reason to reconnect.
pub async fn watch(channel: Channel, queue: String, report: impl Fn(u32), stop: CancellationToken) {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    loop {
        let read = channel.queue_declare(queue.as_str().into(), passive, FieldTable::default());
        let answer = tokio::select! {
            _ = stop.cancelled() => break,
            answer = read => answer,
        };
        match answer {
            Ok(q) => report(q.message_count()),
            Err(e) => {
                tracing::warn!(%queue, error = %e, "cannot read the queue's depth; no longer watching it");
                stop.cancelled().await;
                break;
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(DEPTH_INTERVAL) => {}
        }
    }
    super::close_channel(&channel, "depth watch stopped").await;
}
