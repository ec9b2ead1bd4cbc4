//! The heartbeats on the wire: a [`Beat`] published to the replicas' fanout exchange every
//! interval (with a message TTL) and on leaving, and everyone's beats read from an exclusive
//! queue of this replica's own ([`listen`]); what they say goes to the membership view.

use std::sync::Arc;

use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, ExchangeKind};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{MISSED_BEATS, Membership, PauseNote};

/// One heartbeat as published (JSON).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Beat {
    pub replica: String,
    /// The sender stops on purpose: it drops out at once.
    pub leaving: bool,
    /// The pauses of the gates the sender holds (absent from older builds).
    #[serde(default)]
    pub pauses: Vec<PauseNote>,
    /// The digest of the tenant ids the sender knows (absent from older builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenants: Option<u64>,
}

impl Membership {
    /// Beats and listens on `channel` until `stop`; says `leaving` when `leaving` is
    /// cancelled first (a shutdown). Errors end it; the caller's connection handling takes
    /// over.
    pub async fn run(
        self: &Arc<Self>,
        channel: Channel,
        exchange: &str,
        stop: CancellationToken,
        leaving: CancellationToken,
    ) -> lapin::Result<()> {
        let mut beats = listen(&channel, exchange).await?;
        let end = self
            .beat_and_listen(&channel, &mut beats, exchange, stop, leaving)
            .await;
        // The channel closes before the consumer is dropped (see `broker::close_channel`).
        crate::broker::close_channel(&channel, "heartbeats stopped").await;
        drop(beats);
        end
    }

    async fn beat_and_listen(
        self: &Arc<Self>,
        channel: &Channel,
        beats: &mut lapin::Consumer,
        exchange: &str,
        stop: CancellationToken,
        leaving: CancellationToken,
    ) -> lapin::Result<()> {
        let expiration = (self.interval * MISSED_BEATS).as_millis().to_string();
        let beat = |leaving: bool| {
            let body = serde_json::to_vec(&Beat {
                replica: self.me.clone(),
                leaving,
                pauses: self.own_pauses(),
                tenants: *self.own_digest.lock(),
            })
            .unwrap_or_default();
            let props = BasicProperties::default()
                .with_content_type("application/json".into())
                .with_expiration(expiration.as_str().into());
            (body, props)
        };
        let mut tick = tokio::time::interval(self.interval);
        loop {
            // Beats already received are read before the tick's refresh: a replica that was
            // starved of CPU must not drop a peer (and take its tenants without the pause
            // that peer's last beat reported) while that beat waits in the consumer.
            tokio::select! {
                biased;
                _ = leaving.cancelled() => {
                    let (body, props) = beat(true);
                    let _ = channel
                        .basic_publish(exchange.into(), "".into(), BasicPublishOptions::default(), &body, props)
                        .await;
                    return Ok(());
                }
                _ = stop.cancelled() => return Ok(()),
                next = beats.next() => match next {
                    Some(Ok(delivery)) => {
                        if let Ok(beat) = serde_json::from_slice::<Beat>(&delivery.data) {
                            self.heard(beat, Instant::now());
                        }
                    }
                    Some(Err(e)) => return Err(e),
                    None => return Err(lapin::Error::from(lapin::ErrorKind::InvalidChannelState(
                        lapin::ChannelState::Closed,
                        "the heartbeat consumer ended",
                    ))),
                },
                _ = tick.tick() => {
                    let (body, props) = beat(false);
                    channel
                        .basic_publish(exchange.into(), "".into(), BasicPublishOptions::default(), &body, props)
                        .await?;
                    self.refresh(Instant::now());
                }
            }
        }
    }
}

/// Declares the heartbeat exchange and a queue of this listener's own (exclusive, deleted
/// with its channel) bound to it, and consumes it without acks: every beat of every replica.
pub async fn listen(channel: &Channel, exchange: &str) -> lapin::Result<lapin::Consumer> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
    let own = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    let queue = channel
        .queue_declare("".into(), own, FieldTable::default())
        .await?;
    let queue = queue.name().as_str().to_owned();
    channel
        .queue_bind(
            queue.as_str().into(),
            exchange.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..BasicConsumeOptions::default()
    };
    channel
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            no_ack,
            FieldTable::default(),
        )
        .await
}
