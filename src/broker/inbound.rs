//! One message taken from a queue, with the single terminal action it is owed.
//!
//! [`AckHandle`] keeps lapin's `Acker` in an `Option` and `take()`s it, so a delivery can be
//! settled once only: acked, or requeued (when it cannot be dead-lettered). A handle dropped
//! unsettled leaves the message unacked; the broker redelivers it when the channel closes.

use lapin::Acker;
use lapin::BasicProperties;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::AMQPValue;

/// The header counting how many times `scriptsync dlq replay` sent a message back (DESIGN §7):
/// read here, on every delivery, and written by the DLQ tool.
pub const REPLAYS: &str = "x-scriptsync-replays";
/// The header naming the targets a message still owes (comma-separated): written on a dead
/// letter and on a wait-queue copy, read on every delivery (a message without it owes every
/// target it asks for).
pub const TARGETS: &str = "x-scriptsync-targets";
/// The header counting how many times the worker handed a change to a wait queue while a
/// target's gate stayed closed (DESIGN §6, long pauses); with it, `x-scriptsync-targets`
/// names the targets the change still owes.
pub const PARKED: &str = "x-scriptsync-parked";

/// A delivery as the pipeline sees it: bytes, routing key, properties and the ack handle.
pub struct Inbound {
    pub body: Vec<u8>,
    pub routing_key: String,
    pub properties: BasicProperties,
    pub redelivered: bool,
    pub ack: AckHandle,
    /// The delivery's trace span (set by the pipeline's intake; ends when this is dropped).
    pub span: tracing::Span,
}

impl Inbound {
    /// A message not taken from any queue (its ack handle does nothing): for unit tests.
    #[cfg(test)]
    pub(crate) fn detached(body: &[u8], properties: BasicProperties, redelivered: bool) -> Self {
        Self {
            body: body.to_vec(),
            routing_key: "acme".into(),
            properties,
            redelivered,
            ack: AckHandle { acker: None },
            span: tracing::Span::none(),
        }
    }

    pub fn from_delivery(d: Delivery) -> Self {
        Self {
            body: d.data,
            routing_key: d.routing_key.to_string(),
            properties: d.properties,
            redelivered: d.redelivered,
            ack: AckHandle {
                acker: Some(d.acker),
            },
            span: tracing::Span::none(),
        }
    }

    /// A string or integer header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        let headers = self.properties.headers().as_ref()?;
        match headers.inner().get(name)? {
            AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
            AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
            AMQPValue::LongLongInt(i) => Some(i.to_string()),
            AMQPValue::LongInt(i) => Some(i.to_string()),
            AMQPValue::LongUInt(i) => Some(i.to_string()),
            AMQPValue::ShortInt(i) => Some(i.to_string()),
            AMQPValue::ShortUInt(i) => Some(i.to_string()),
            _ => None,
        }
    }

    /// The upstream correlation id: the AMQP property, else an `x-correlation-id` header.
    pub fn correlation_id(&self) -> Option<String> {
        self.properties
            .correlation_id()
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .or_else(|| self.header("x-correlation-id"))
    }

    /// How many times `scriptsync dlq replay` has sent this message back.
    pub fn replays(&self) -> u32 {
        self.count_header(REPLAYS)
    }

    /// How many times the worker has parked this message in a wait queue.
    pub fn parked(&self) -> u32 {
        self.count_header(PARKED)
    }

    fn count_header(&self, name: &str) -> u32 {
        self.header(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }
}

/// Settles a delivery exactly once.
pub struct AckHandle {
    acker: Option<Acker>,
}

impl AckHandle {
    /// Acknowledges the delivery. Errors mean the channel is gone: the broker will redeliver.
    pub async fn ack(mut self) -> lapin::Result<()> {
        if let Some(acker) = self.acker.take() {
            acker.ack(BasicAckOptions::default()).await?;
        }
        Ok(())
    }

    /// Returns the delivery to its queue at once: used when it cannot be dead-lettered (the
    /// DLQ publish failed). Deliveries still held when a channel closes (shutdown, a
    /// restarted tenant) go back without this.
    pub async fn requeue(mut self) -> lapin::Result<()> {
        if let Some(acker) = self.acker.take() {
            acker
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await?;
        }
        Ok(())
    }
}
