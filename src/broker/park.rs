//! Parking a change in a wait queue (DESIGN §6, long pauses): a copy of its delivery, body
//! byte-for-byte and properties kept, owing only the target whose gate stays closed
//! (`x-scriptsync-targets`), counted in `x-scriptsync-parked`, and expiring when that gate
//! reopens. The wait queue dead-letters the expired copy back through the main exchange to
//! the tenant queue (`broker::topology::declare_wait_queue`). The caller acks what the copy
//! covers only once the broker confirmed it: a message may exist twice, never zero times.

use std::time::Duration;

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

use super::inbound::{PARKED, TARGETS};
use super::topology::declare_wait_queue;
use super::{Inbound, Names, PublishError, Publisher};
use crate::change::TargetKind;
use crate::config::QueueType;

/// Where a tenant's wait queues are: its publisher (whose channel declares them), the
/// topology's names, the tenant, and the queues' type.
pub struct WaitQueues<'a> {
    pub publisher: &'a Publisher,
    pub names: &'a Names,
    pub tenant: &'a str,
    pub queue_type: QueueType,
}

/// What goes to the wait queue for one delivery.
#[derive(Debug, Clone)]
pub struct ParkedCopy {
    pub body: Vec<u8>,
    pub properties: BasicProperties,
}

impl ParkedCopy {
    /// The copy of `original` that owes only `target`.
    pub fn of(original: &Inbound, target: TargetKind) -> Self {
        let mut headers = original
            .properties
            .headers()
            .as_ref()
            .map(|t| t.inner().clone())
            .unwrap_or_default();
        // The broker's own record of the last expiry describes an earlier trip.
        headers.remove("x-death");
        let mut table = FieldTable::from(headers);
        table.insert(
            TARGETS.into(),
            AMQPValue::LongString(LongString::from(target.as_str())),
        );
        table.insert(
            PARKED.into(),
            AMQPValue::LongLongInt(i64::from(original.parked()) + 1),
        );
        Self {
            body: original.body.clone(),
            properties: original.properties.clone().with_headers(table),
        }
    }
}

/// The copy's time in the wait queue: `wait` plus 0–10 % jitter (so parked changes do not all
/// come back at the same instant), in whole milliseconds, as AMQP's `expiration` wants it.
pub fn expiration(wait: Duration, jitter: f64) -> String {
    let ms = wait.as_secs_f64() * 1000.0 * (1.0 + jitter.clamp(0.0, 1.0) * 0.1);
    format!("{}", ms.ceil().max(1.0) as u64)
}

/// Declares the (tenant, `target`) wait queue and puts `copy` there, expiring after `wait`
/// (+ jitter); returns once the broker confirmed it.
pub async fn park(
    queues: WaitQueues<'_>,
    target: TargetKind,
    copy: ParkedCopy,
    wait: Duration,
) -> Result<(), PublishError> {
    let ch = queues.publisher.channel();
    let (names, tenant, kind) = (queues.names, queues.tenant, queues.queue_type);
    let queue = declare_wait_queue(ch, names, tenant, target, kind).await?;
    let expiration = ShortString::from(expiration(wait, rand::random::<f64>()));
    let properties = copy.properties.with_expiration(expiration);
    queues
        .publisher
        .publish("", &queue, &copy.body, properties, true)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(props: &BasicProperties, name: &str) -> Option<AMQPValue> {
        props.headers().as_ref()?.inner().get(name).cloned()
    }

    #[test]
    fn the_copy_owes_one_target_and_counts_its_trips() {
        let mut headers = FieldTable::default();
        headers.insert(
            "traceparent".into(),
            AMQPValue::LongString("00-a-b-01".into()),
        );
        headers.insert(
            TARGETS.into(),
            AMQPValue::LongString("genesys,servicenow".into()),
        );
        headers.insert("x-death".into(), AMQPValue::LongString("earlier".into()));
        let props = BasicProperties::default()
            .with_message_id("m-1".into())
            .with_headers(headers);
        let original = Inbound::detached(b"{\"x\":1}", props, false);
        let copy = ParkedCopy::of(&original, TargetKind::Servicenow);
        assert_eq!(copy.body, b"{\"x\":1}");
        assert_eq!(
            copy.properties.message_id().as_ref().map(|m| m.as_str()),
            Some("m-1")
        );
        let p = &copy.properties;
        assert_eq!(
            header(p, TARGETS),
            Some(AMQPValue::LongString("servicenow".into()))
        );
        assert_eq!(header(p, PARKED), Some(AMQPValue::LongLongInt(1)));
        assert!(header(p, "traceparent").is_some());
        assert_eq!(header(p, "x-death"), None);
        let again = Inbound::detached(&copy.body, copy.properties.clone(), false);
        assert_eq!(again.parked(), 1);
        let twice = ParkedCopy::of(&again, TargetKind::Servicenow);
        assert_eq!(
            header(&twice.properties, PARKED),
            Some(AMQPValue::LongLongInt(2))
        );
    }

    #[test]
    fn the_expiration_is_the_wait_plus_at_most_ten_percent() {
        assert_eq!(expiration(Duration::from_secs(600), 0.0), "600000");
        assert_eq!(expiration(Duration::from_secs(600), 1.0), "660000");
        assert_eq!(expiration(Duration::ZERO, 0.5), "1");
    }
}
