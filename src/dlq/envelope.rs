//! The dead-letter envelope: the original body byte-for-byte, the original properties, and
//! the `x-scriptsync-*` headers saying why. Published to the DLX with a confirm awaited;
//! only then may the caller ack the original delivery.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::headers::{self as h, Reason};
use crate::broker::topology::DLQ_ROUTING_KEY;
use crate::broker::{Inbound, Names, PublishError, Publisher};
use crate::change::TargetKind;

/// Everything the DLQ headers say about one failure.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub reason: Reason,
    pub error: String,
    pub status: Option<u16>,
    /// Targets still owed (empty for `invalid` / `unknown_tenant`).
    pub targets: Vec<TargetKind>,
    pub attempts: u32,
    pub tenant: Option<String>,
    /// When the first attempt failed (an earlier dead-lettering's value wins on a replay).
    pub first_failed_at: Option<OffsetDateTime>,
    /// Each failed target's id of its last failed request (correlation / transaction id).
    pub request_ids: Vec<(TargetKind, String)>,
}

impl DeadLetter {
    /// A failure found at intake (nothing was attempted).
    pub fn intake(reason: Reason, error: impl Into<String>, tenant: Option<String>) -> Self {
        Self {
            reason,
            error: error.into(),
            status: None,
            targets: Vec::new(),
            attempts: 0,
            tenant,
            first_failed_at: None,
            request_ids: Vec::new(),
        }
    }

    /// The properties of the DLQ copy: the original ones plus our headers.
    pub fn properties(&self, original: &Inbound) -> BasicProperties {
        let now = OffsetDateTime::now_utc();
        // A replayed letter's request ids belong to its earlier failure: drop them.
        let mut inherited = original
            .properties
            .headers()
            .as_ref()
            .map(|t| t.inner().clone())
            .unwrap_or_default();
        for target in TargetKind::ALL {
            inherited.remove(h::target_request_id(target));
        }
        // A replayed letter's flag described its earlier life; only this delivery's counts.
        inherited.remove(h::REDELIVERED);
        let mut headers = FieldTable::from(inherited);
        let mut put = |k: &str, v: String| {
            headers.insert(k.into(), AMQPValue::LongString(LongString::from(v)));
        };
        put(h::REASON, self.reason.as_str().into());
        put(h::ERROR, h::short_error(&self.error));
        if let Some(status) = self.status {
            put(h::STATUS, status.to_string());
        }
        let targets: Vec<&str> = self.targets.iter().map(|t| t.as_str()).collect();
        put(h::TARGETS, targets.join(","));
        let first = original
            .header(h::FIRST_FAILED_AT)
            .or_else(|| self.first_failed_at.and_then(|t| t.format(&Rfc3339).ok()))
            .unwrap_or_else(|| now.format(&Rfc3339).unwrap_or_default());
        put(h::FIRST_FAILED_AT, first);
        put(
            h::DEAD_LETTERED_AT,
            now.format(&Rfc3339).unwrap_or_default(),
        );
        if let Some(tenant) = &self.tenant {
            put(h::TENANT, tenant.clone());
        }
        if let Some(cid) = original.correlation_id() {
            put(h::CORRELATION_ID, cid);
        }
        for (target, id) in &self.request_ids {
            put(h::target_request_id(*target), id.clone());
        }
        put(h::ROUTING_KEY, original.routing_key.clone());
        if original.redelivered {
            put(h::REDELIVERED, "true".into());
        }
        let mut table: FieldTable = headers;
        table.insert(
            h::ATTEMPTS.into(),
            AMQPValue::LongLongInt(i64::from(self.attempts)),
        );
        table.insert(
            h::REPLAYS.into(),
            AMQPValue::LongLongInt(i64::from(original.replays())),
        );
        original.properties.clone().with_headers(table)
    }

    /// Publishes the DLQ copy and waits for the confirm. The caller acks the original after.
    pub async fn publish(
        &self,
        publisher: &Publisher,
        names: &Names,
        original: &Inbound,
    ) -> Result<(), PublishError> {
        let props = self.properties(original);
        publisher
            .publish(&names.dlx(), DLQ_ROUTING_KEY, &original.body, props, true)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn says_redelivered(props: &BasicProperties) -> bool {
        let headers = props.headers().as_ref().map(|t| t.inner().clone());
        headers.and_then(|t| t.get(h::REDELIVERED).cloned())
            == Some(AMQPValue::LongString(LongString::from("true")))
    }

    #[test]
    fn a_copy_written_after_a_redelivery_says_so_and_a_replay_does_not_inherit_it() {
        let dl = DeadLetter::intake(Reason::Invalid, "bad", Some("acme".into()));
        let first = Inbound::detached(b"{}", BasicProperties::default(), false);
        assert!(!says_redelivered(&dl.properties(&first)));
        let again = Inbound::detached(b"{}", BasicProperties::default(), true);
        let letter = dl.properties(&again);
        assert!(says_redelivered(&letter));
        // The letter replayed and delivered afresh, then dead-lettered again.
        let replayed = Inbound::detached(b"{}", letter, false);
        assert!(!says_redelivered(&dl.properties(&replayed)));
    }
}
