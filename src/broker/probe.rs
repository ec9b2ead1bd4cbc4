//! The write probe: whether the broker can still make a message durable in a queue of this
//! prefix's type. A connection to a node can stay up while the cluster behind it has lost its
//! majority: then every quorum queue is unavailable (no leader), consumers receive nothing and
//! publishes are never confirmed, yet nothing on the connection fails. The probe publishes a
//! tiny message to `<prefix>.probe` (a queue of `broker.queue_type` that keeps only the last
//! message) every [`PROBE_INTERVAL`] and waits for its confirm within
//! `broker.confirm_timeout`; while none comes, the worker reports not ready (`/readyz` 503),
//! and it is ready again as soon as one does (the majority is back).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lapin::BasicProperties;
use tokio_util::sync::CancellationToken;

use super::{PublishError, Publisher};

/// How often the probe writes.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// Probes `queue` through `publisher` until `stop`; sets `writable` after each answer.
/// Returns an error only when the channel itself is lost (the connection's end).
pub async fn run(
    publisher: Publisher,
    queue: String,
    writable: Arc<AtomicBool>,
    stop: CancellationToken,
) -> Result<(), PublishError> {
    let end = probe_until_stopped(&publisher, &queue, &writable, &stop).await;
    super::close_channel(publisher.channel(), "probe stopped").await;
    end
}

async fn probe_until_stopped(
    publisher: &Publisher,
    queue: &str,
    writable: &AtomicBool,
    stop: &CancellationToken,
) -> Result<(), PublishError> {
    loop {
        let probe = publisher.publish("", queue, b"probe", BasicProperties::default(), true);
        let outcome = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            outcome = probe => outcome,
        };
        match outcome {
            Ok(()) => {
                if !writable.swap(true, Ordering::SeqCst) {
                    tracing::info!(%queue, "the broker confirms durable writes again: ready");
                }
            }
            Err(PublishError::Broker(e)) => return Err(PublishError::Broker(e)),
            Err(e) => {
                if writable.swap(false, Ordering::SeqCst) {
                    tracing::warn!(%queue, error = %e, "the broker does not confirm a durable write (a RabbitMQ cluster without its majority?): not ready until it does");
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(PROBE_INTERVAL) => {}
        }
    }
}
