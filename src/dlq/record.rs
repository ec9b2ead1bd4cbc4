//! One dead letter as the replay tool sees it: the `x-scriptsync-*` headers of DESIGN §7 and
//! the few body fields worth showing (change id, script, version, and whether it is a change
//! or a retire), read leniently because an `invalid` dead letter may not be JSON at all.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::headers as h;
use crate::broker::Inbound;
use crate::change::Operation;

/// The broker's redelivery counter on quorum queues (not ours; see [`super::scan`]).
pub const DELIVERY_COUNT: &str = "x-delivery-count";

/// What `list` prints and `--json` emits for one DLQ message.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DeadLetterRecord {
    /// `id` of the change in the body (absent when the body is not a change).
    pub change_id: Option<String>,
    /// The AMQP `message-id` property, if the publisher set one.
    pub message_id: Option<String>,
    pub tenant: Option<String>,
    pub script_id: Option<String>,
    pub version: Option<u64>,
    /// `upsert` or `retire`, from the body's `schema` (absent when it names neither).
    pub op: Option<Operation>,
    pub reason: Option<String>,
    pub status: Option<u16>,
    pub attempts: u32,
    /// Targets still owed (empty for `invalid` / `unknown_tenant`: all the change wants).
    pub targets: Vec<String>,
    pub error: Option<String>,
    pub replays: u32,
    pub routing_key: Option<String>,
    pub correlation_id: Option<String>,
    /// Genesys `ININ-Correlation-Id` of the last failed request, if Genesys failed.
    pub genesys_correlation_id: Option<String>,
    /// ServiceNow `X-Transaction-ID` of the last failed request, if ServiceNow failed.
    pub servicenow_transaction_id: Option<String>,
    pub first_failed_at: Option<String>,
    pub dead_lettered_at: Option<String>,
    /// Seconds since `dead_lettered_at` when the record was read.
    pub age_seconds: Option<u64>,
    pub body_bytes: usize,
    /// Letters in the DLQ carrying this change id, this one included (among those read):
    /// more than 1 when the same change was dead-lettered twice, e.g. a dead letter
    /// published again because its confirm was lost with a broker node.
    pub copies: u32,
    /// The envelope says the change was redelivered before this copy was written (an
    /// earlier copy of it may exist).
    pub redelivered: bool,
    #[serde(skip)]
    pub dead_lettered: Option<OffsetDateTime>,
}

impl DeadLetterRecord {
    /// Reads the headers and body of `msg`; `now` gives the age.
    pub fn read(msg: &Inbound, now: OffsetDateTime) -> Self {
        let body: Option<serde_json::Value> = serde_json::from_slice(&msg.body).ok();
        let field = |k: &str| {
            body.as_ref()
                .and_then(|b| b.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let dead_lettered_at = msg.header(h::DEAD_LETTERED_AT);
        let dead_lettered = dead_lettered_at
            .as_deref()
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
        let age_seconds = dead_lettered.map(|t| (now - t).whole_seconds().max(0) as u64);
        let targets = msg
            .header(h::TARGETS)
            .map(|t| {
                t.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Self {
            change_id: field("id"),
            message_id: msg
                .properties
                .message_id()
                .as_ref()
                .map(|m| m.as_str().to_owned()),
            tenant: msg.header(h::TENANT).or_else(|| field("tenant")),
            script_id: field("script_id"),
            version: body
                .as_ref()
                .and_then(|b| b.get("version"))
                .and_then(|v| v.as_u64()),
            op: field("schema").and_then(|s| Operation::for_schema(&s)),
            reason: msg.header(h::REASON),
            status: msg.header(h::STATUS).and_then(|s| s.parse().ok()),
            attempts: msg
                .header(h::ATTEMPTS)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            targets,
            error: msg.header(h::ERROR),
            replays: msg.replays(),
            routing_key: msg.header(h::ROUTING_KEY),
            correlation_id: msg.header(h::CORRELATION_ID),
            genesys_correlation_id: msg.header(h::GENESYS_CORRELATION_ID),
            servicenow_transaction_id: msg.header(h::SERVICENOW_TRANSACTION_ID),
            first_failed_at: msg.header(h::FIRST_FAILED_AT),
            dead_lettered_at,
            age_seconds,
            body_bytes: msg.body.len(),
            copies: 1,
            redelivered: msg.header(h::REDELIVERED).as_deref() == Some("true"),
            dead_lettered,
        }
    }

    /// The id shown first: the change id, else the message id, else `-`.
    /// See [`Self::id_column`] for the listing, which also marks copies.
    pub fn display_id(&self) -> &str {
        self.change_id
            .as_deref()
            .or(self.message_id.as_deref())
            .unwrap_or("-")
    }

    /// The ID column of `dlq list`: [`Self::display_id`], with ` ×N` when the DLQ holds
    /// N letters of this change.
    pub fn id_column(&self) -> String {
        match self.copies {
            0 | 1 => self.display_id().to_owned(),
            n => format!("{} ×{n}", self.display_id()),
        }
    }

    /// Where a replay goes: the original routing key, else the tenant.
    pub fn replay_routing_key(&self) -> Option<&str> {
        self.routing_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .or(self.tenant.as_deref())
    }
}
