//! Publishing with publisher confirms: a publish counts only once the broker has confirmed
//! it (and, with `mandatory`, routed it). Every wait is bounded by `broker.confirm_timeout`.

use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation, Connection, PublisherConfirm};
use tokio::time::Instant;

/// Why a publish did not become durable.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("broker error: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker nacked the message")]
    Nacked,
    #[error("the message could not be routed to any queue")]
    Unroutable,
    #[error("no publisher confirm within {0:?}")]
    Timeout(Duration),
}

/// A channel in confirm mode; cheap to clone, safe to share between tasks.
#[derive(Clone)]
pub struct Publisher {
    channel: Channel,
    confirm_timeout: Duration,
}

impl Publisher {
    pub async fn open(conn: &Connection, confirm_timeout: Duration) -> lapin::Result<Self> {
        let channel = conn.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Self {
            channel,
            confirm_timeout,
        })
    }

    /// Publishes persistently and waits for the confirm. With `mandatory`, an unroutable
    /// message is an error (the alternate exchange normally catches those first).
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
        mandatory: bool,
    ) -> Result<(), PublishError> {
        self.send(exchange, routing_key, body, properties, mandatory)
            .await?
            .confirmed()
            .await
    }

    /// Like [`Publisher::publish`], but returns once the message is written to the
    /// connection: await [`InFlight::confirmed`] later, so many publishes can wait for their
    /// confirms at once (the broker confirms in batches). Sending in order keeps the order.
    /// Both waits together are bounded by `confirm_timeout`.
    pub async fn send(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
        mandatory: bool,
    ) -> Result<InFlight, PublishError> {
        let deadline = Instant::now() + self.confirm_timeout;
        let properties = properties.with_delivery_mode(2);
        let options = BasicPublishOptions {
            mandatory,
            ..BasicPublishOptions::default()
        };
        let sent = self.channel.basic_publish(
            exchange.into(),
            routing_key.into(),
            options,
            body,
            properties,
        );
        match tokio::time::timeout_at(deadline, sent).await {
            Err(_) => Err(PublishError::Timeout(self.confirm_timeout)),
            Ok(Err(e)) => Err(PublishError::Broker(e)),
            Ok(Ok(confirm)) => Ok(InFlight {
                confirm,
                deadline,
                timeout: self.confirm_timeout,
            }),
        }
    }

    /// The underlying channel (for declarations done by the same owner).
    pub fn channel(&self) -> &Channel {
        &self.channel
    }
}

/// A message written to the broker whose confirm is still to come.
#[must_use = "a publish counts only once confirmed"]
pub struct InFlight {
    confirm: PublisherConfirm,
    deadline: Instant,
    timeout: Duration,
}

impl InFlight {
    /// Waits for the broker's verdict: routed and durable, nacked, returned as unroutable
    /// (with `mandatory`), or no answer by the deadline.
    pub async fn confirmed(self) -> Result<(), PublishError> {
        match tokio::time::timeout_at(self.deadline, self.confirm).await {
            Err(_) => Err(PublishError::Timeout(self.timeout)),
            Ok(Err(e)) => Err(PublishError::Broker(e)),
            Ok(Ok(Confirmation::Nack(_))) => Err(PublishError::Nacked),
            Ok(Ok(Confirmation::Ack(Some(_)))) => Err(PublishError::Unroutable),
            Ok(Ok(_)) => Ok(()),
        }
    }
}
