//! The DLQ header names of DESIGN §7, spelled once.

use crate::change::TargetKind;
use crate::text::prefix_within;

pub const REASON: &str = "x-scriptsync-reason";
pub const ERROR: &str = "x-scriptsync-error";
pub const STATUS: &str = "x-scriptsync-status";
pub use crate::broker::inbound::TARGETS;
pub const ATTEMPTS: &str = "x-scriptsync-attempts";
pub const FIRST_FAILED_AT: &str = "x-scriptsync-first-failed-at";
pub const DEAD_LETTERED_AT: &str = "x-scriptsync-dead-lettered-at";
pub use crate::broker::inbound::REPLAYS;
pub const TENANT: &str = "x-scriptsync-tenant";
pub const CORRELATION_ID: &str = "x-scriptsync-correlation-id";
pub const ROUTING_KEY: &str = "x-scriptsync-routing-key";
/// `true` when the change was redelivered by the broker before this copy was written (a
/// connection or node was lost while it was in flight): an earlier copy may be in the DLQ.
pub const REDELIVERED: &str = "x-scriptsync-redelivered";
/// Genesys `ININ-Correlation-Id` of the last failed request.
pub const GENESYS_CORRELATION_ID: &str = "x-scriptsync-genesys-correlation-id";
/// ServiceNow `X-Transaction-ID` of the last failed request.
pub const SERVICENOW_TRANSACTION_ID: &str = "x-scriptsync-servicenow-transaction-id";

/// The header carrying `target`'s id of the last failed request.
pub fn target_request_id(target: TargetKind) -> &'static str {
    match target {
        TargetKind::Genesys => GENESYS_CORRELATION_ID,
        TargetKind::Servicenow => SERVICENOW_TRANSACTION_ID,
    }
}

/// Longest `x-scriptsync-error` text (bytes), cut at a character boundary.
pub const MAX_ERROR_BYTES: usize = 1024;

/// Why a message is in the DLQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Invalid,
    UnknownTenant,
    Permanent,
    Exhausted,
    /// The script id cannot be a Genesys data-table key.
    InvalidKey,
    /// The Genesys data table is at its row limit.
    DatatableFull,
}

impl Reason {
    pub const ALL: [Reason; 6] = [
        Reason::Invalid,
        Reason::UnknownTenant,
        Reason::Permanent,
        Reason::Exhausted,
        Reason::InvalidKey,
        Reason::DatatableFull,
    ];

    /// The reasons a known tenant's messages can have (`unknown_tenant` cannot): their
    /// series start at zero for every tenant.
    pub const TENANT_REASONS: [Reason; 5] = [
        Reason::Invalid,
        Reason::Permanent,
        Reason::Exhausted,
        Reason::InvalidKey,
        Reason::DatatableFull,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Invalid => "invalid",
            Reason::UnknownTenant => "unknown_tenant",
            Reason::Permanent => "permanent",
            Reason::Exhausted => "exhausted",
            Reason::InvalidKey => "invalid_key",
            Reason::DatatableFull => "datatable_full",
        }
    }
}

/// `text` cut to at most [`MAX_ERROR_BYTES`] bytes on a character boundary, one line.
pub fn short_error(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.len() <= MAX_ERROR_BYTES {
        return one_line;
    }
    format!("{}...", prefix_within(&one_line, MAX_ERROR_BYTES - 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_error_cuts_on_char_boundary() {
        let long = "é".repeat(2000);
        let cut = short_error(&long);
        assert!(cut.len() <= MAX_ERROR_BYTES);
        assert!(cut.ends_with("..."));
        assert_eq!(short_error("a\nb"), "a b");
    }
}
