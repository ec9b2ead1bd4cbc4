//! Starting a consumer: its own channel, its own prefetch, a stream of [`Inbound`] messages.

use futures::{Stream, StreamExt};
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};

use super::inbound::Inbound;

/// Why a consumer's stream of deliveries broke (the channel or connection is gone).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ConsumeError(#[from] lapin::Error);

/// One item of a consumer's stream: a delivery, or why the stream broke.
pub type Delivery = Result<Inbound, ConsumeError>;

/// A running consumer; dropping the channel (or [`QueueConsumer::cancel`]) stops deliveries.
pub struct QueueConsumer {
    pub channel: Channel,
    pub tag: String,
    pub queue: String,
}

impl QueueConsumer {
    /// Opens a channel with `prefetch` and consumes `queue` with manual acks.
    pub async fn start(
        conn: &Connection,
        queue: &str,
        prefetch: u16,
        tag: &str,
    ) -> lapin::Result<(Self, impl Stream<Item = Delivery> + Send + Unpin + 'static)> {
        let channel = conn.create_channel().await?;
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                queue.into(),
                tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let stream = consumer.map(|r| r.map(Inbound::from_delivery).map_err(ConsumeError::from));
        Ok((
            Self {
                channel,
                tag: tag.to_owned(),
                queue: queue.to_owned(),
            },
            stream,
        ))
    }

    /// Stops new deliveries; unacked ones stay with us until settled or the channel closes.
    pub async fn cancel(&self) -> lapin::Result<()> {
        self.channel
            .basic_cancel(
                self.tag.as_str().into(),
                lapin::options::BasicCancelOptions::default(),
            )
            .await
    }
}
