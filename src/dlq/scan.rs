//! Reading the DLQ without losing anything: one pass over the messages it held at the start.
//!
//! A [`Scan`] counts the ready messages (passive `queue.declare`), consumes with manual acks
//! and hands out at most that many. The caller settles each one: a message it moved or
//! deleted is acked by the caller; a message it keeps goes back to [`Scan::keep`], which
//! leaves it unacked until [`Scan::finish`] closes the channel and the broker returns every
//! kept message to the DLQ in its original place. Holding kept messages (instead of
//! requeueing each at once) means no message is seen twice, so the pass always ends; the
//! count taken at the start bounds it even while the worker keeps dead-lettering.
//!
//! RabbitMQ 4.x quorum queues count returns in `x-delivery-count` and (4.0–4.2, default
//! `delivery-limit` 20) drop a message returned too often. So a kept message whose count has
//! reached [`REFRESH_AT_DELIVERY_COUNT`] is refreshed: a copy is published to the DLX
//! (confirm awaited) and only then is the old one acked. Killing the tool at any moment loses
//! nothing: the broker returns unacked messages when the connection drops.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Connection, Consumer};
use time::OffsetDateTime;

use super::record::{DELIVERY_COUNT, DeadLetterRecord};
use crate::broker::topology::DLQ_ROUTING_KEY;
use crate::broker::{Inbound, Names, Publisher};

/// A kept message returned this many times is republished fresh so that a broker delivery
/// limit (RabbitMQ 4.0–4.2 quorum default: 20) can never drop it. Half the default limit.
pub const REFRESH_AT_DELIVERY_COUNT: i64 = 10;

/// How long to wait for the next message before deciding that another client took the rest.
pub const IDLE: Duration = Duration::from_secs(3);

/// How long [`Scan::finish`] waits for the broker to show the kept messages as ready again.
pub const RETURN_WAIT: Duration = Duration::from_secs(5);

/// One message handed out by the scan, with its decoded headers.
pub struct Scanned {
    pub inbound: Inbound,
    pub record: DeadLetterRecord,
}

/// One bounded pass over the DLQ (see the module docs).
pub struct Scan {
    channel: Channel,
    /// A second channel for passive declares (counts) after `channel` is closed.
    probe: Channel,
    consumer: Consumer,
    publisher: Publisher,
    names: Names,
    total: u32,
    seen: u32,
    kept: u32,
    /// Kept messages still unacked on `channel` (kept minus refreshed).
    held: u32,
}

impl Scan {
    /// Counts the DLQ and starts consuming it. `publisher` must be in confirm mode.
    pub async fn open(
        conn: &Connection,
        names: &Names,
        publisher: Publisher,
    ) -> anyhow::Result<Self> {
        let channel = conn.create_channel().await?;
        let queue = names.dlq();
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let declared = channel
            .queue_declare(queue.as_str().into(), passive, FieldTable::default())
            .await
            .map_err(|e| {
                anyhow::anyhow!("the DLQ {queue} cannot be read (is the prefix right?): {e}")
            })?;
        let total = declared.message_count();
        // Unlimited prefetch: kept messages stay unacked until the end, so any finite window
        // would stall once it filled with kept messages.
        channel.basic_qos(0, BasicQosOptions::default()).await?;
        let tag = format!("scriptsync-dlq-{}", uuid::Uuid::new_v4().simple());
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let probe = conn.create_channel().await?;
        Ok(Self {
            channel,
            probe,
            consumer,
            publisher,
            names: names.clone(),
            total,
            seen: 0,
            kept: 0,
            held: 0,
        })
    }

    /// Messages in the DLQ when the scan started: the most it will hand out.
    pub fn total(&self) -> u32 {
        self.total
    }

    /// Messages handed out so far.
    pub fn seen(&self) -> u32 {
        self.seen
    }

    /// The next message, or `None` once `total` were handed out (or none came for [`IDLE`]).
    pub async fn next(&mut self) -> anyhow::Result<Option<Scanned>> {
        if self.seen >= self.total {
            return Ok(None);
        }
        let delivery = match tokio::time::timeout(IDLE, self.consumer.next()).await {
            Err(_) | Ok(None) => return Ok(None),
            Ok(Some(d)) => d?,
        };
        self.seen += 1;
        let inbound = Inbound::from_delivery(delivery);
        let record = DeadLetterRecord::read(&inbound, OffsetDateTime::now_utc());
        Ok(Some(Scanned { inbound, record }))
    }

    /// Leaves `msg` in the DLQ (see the module docs for the refresh of often-returned ones).
    pub async fn keep(&mut self, msg: Scanned) -> anyhow::Result<()> {
        self.kept += 1;
        let returned = msg
            .inbound
            .header(DELIVERY_COUNT)
            .and_then(|c| c.parse::<i64>().ok());
        if returned.is_some_and(|c| c >= REFRESH_AT_DELIVERY_COUNT) {
            let headers = header_map(&msg.inbound, &[DELIVERY_COUNT]);
            let props = msg.inbound.properties.clone().with_headers(headers.into());
            self.publisher
                .publish(
                    &self.names.dlx(),
                    DLQ_ROUTING_KEY,
                    &msg.inbound.body,
                    props,
                    true,
                )
                .await?;
            msg.inbound.ack.ack().await?;
        } else {
            self.held += 1;
        }
        // Otherwise dropping the handle leaves the delivery unacked until `finish`.
        Ok(())
    }

    /// Messages kept so far.
    pub fn kept(&self) -> u32 {
        self.kept
    }

    /// Ends the pass: closing the channel returns every kept (unacked) message to the DLQ.
    /// The broker does that a moment after the close; waiting (up to [`RETURN_WAIT`]) until
    /// the DLQ counts them again means the next command sees them.
    pub async fn finish(self) -> anyhow::Result<()> {
        self.channel.close(200, "dlq scan done".into()).await?;
        let queue = self.names.dlq();
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let deadline = tokio::time::Instant::now() + RETURN_WAIT;
        while tokio::time::Instant::now() < deadline {
            let q = self
                .probe
                .queue_declare(queue.as_str().into(), passive, FieldTable::default())
                .await?;
            if q.message_count() >= self.held {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = self.probe.close(200, "dlq scan done".into()).await;
        Ok(())
    }
}

/// The headers of `msg` without the keys in `drop` (e.g. the broker's `x-delivery-count`).
pub fn header_map(msg: &Inbound, drop: &[&str]) -> BTreeMap<ShortString, AMQPValue> {
    msg.properties
        .headers()
        .as_ref()
        .map(|t| {
            t.inner()
                .iter()
                .filter(|(k, _)| !drop.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}
