//! Reading and writing the broker's queues from a test: the DLQ's messages (taken, or peeked
//! without removing them), depths, consumers, extra bindings and parking queues.

use lapin::BasicProperties;
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};

use super::{TestApp, eventually};

/// A message read from the DLQ.
pub struct DeadLetterCopy {
    pub body: Vec<u8>,
    pub headers: FieldTable,
}

impl DeadLetterCopy {
    pub fn header(&self, name: &str) -> Option<String> {
        match self.headers.inner().get(name)? {
            AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
            AMQPValue::LongLongInt(i) => Some(i.to_string()),
            other => Some(format!("{other:?}")),
        }
    }
}

/// One DLQ message as seen by [`TestApp::peek_dlq`]: body and headers, broker-added
/// `x-delivery-count` left out so two peeks compare equal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PeekedLetter {
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl TestApp {
    /// Every message now in `queue`, read without removing any: taken unacked with
    /// `basic.get`, then returned by closing the channel. Sorted, for comparisons.
    pub async fn peek_queue(&self, queue: &str) -> Vec<PeekedLetter> {
        let n = self.depth(queue).await;
        let ch = self.conn.create_channel().await.unwrap();
        let mut out = Vec::new();
        for _ in 0..n {
            let Some(msg) = ch
                .basic_get(queue.into(), BasicGetOptions::default())
                .await
                .unwrap()
            else {
                break;
            };
            let headers = msg
                .delivery
                .properties
                .headers()
                .clone()
                .unwrap_or_default();
            let headers = headers
                .inner()
                .iter()
                .filter(|(k, _)| k.as_str() != "x-delivery-count")
                .map(|(k, v)| (k.to_string(), format!("{v:?}")))
                .collect();
            out.push(PeekedLetter {
                body: msg.delivery.data.clone(),
                headers,
            });
        }
        let _ = ch.close(200, "peek done".into()).await;
        // The broker returns them a moment after the close.
        eventually(
            &format!("{queue} holds its {n} peeked messages again"),
            || async { self.depth(queue).await >= n },
        )
        .await;
        out.sort();
        out
    }

    pub async fn peek_dlq(&self) -> Vec<PeekedLetter> {
        self.peek_queue(&self.names.dlq()).await
    }

    /// Publishes `body` straight into the DLQ with `headers` (string values) and a message id.
    pub async fn put_dead_letter(&self, body: &[u8], headers: &[(&str, String)], message_id: &str) {
        let mut table = FieldTable::default();
        for (k, v) in headers {
            table.insert((*k).into(), AMQPValue::LongString(v.as_str().into()));
        }
        let props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_message_id(message_id.into())
            .with_headers(table);
        self.publisher
            .publish(&self.names.dlx(), "dlq", body, props, true)
            .await
            .expect("dead letter confirmed");
    }

    /// Declares a classic queue bound to the main exchange with `key` and no consumer, so
    /// replayed messages for `key` stay countable. Deleted by [`TestApp::delete_queue`].
    pub async fn bind_parking_queue(&self, key: &str) -> String {
        let name = format!("{}.park.{key}", self.names.exchange());
        self.bind_queue(&name, key).await;
        name
    }

    /// Declares the classic queue `name` bound to the main exchange with `key`.
    pub async fn bind_queue(&self, name: &str, key: &str) {
        let ch = self.publisher.channel();
        ch.queue_declare(
            name.into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        ch.queue_bind(
            name.into(),
            self.names.exchange().into(),
            key.into(),
            Default::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    }

    pub async fn delete_queue(&self, name: &str) {
        let _ = self
            .publisher
            .channel()
            .queue_delete(name.into(), Default::default())
            .await;
    }

    /// Takes (and acks) every message of `queue`; returns their bodies.
    pub async fn drain_queue(&self, queue: &str) -> Vec<Vec<u8>> {
        let ch = self.conn.create_channel().await.unwrap();
        let mut out = Vec::new();
        while let Some(msg) = ch
            .basic_get(queue.into(), BasicGetOptions::default())
            .await
            .unwrap()
        {
            out.push(msg.delivery.data.clone());
            msg.delivery.ack(BasicAckOptions::default()).await.unwrap();
        }
        let _ = ch.close(200, "ok".into()).await;
        out
    }
}
