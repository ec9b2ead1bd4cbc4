//! The filters every `scriptsync dlq` command takes: `--tenant`, `--reason`, `--target`,
//! `--id`, `--older-than`, `--newer-than`. A message matches when every given filter holds;
//! no filter matches everything.

use std::time::Duration;

use time::OffsetDateTime;

use super::record::DeadLetterRecord;
use crate::change::TargetKind;
use crate::dlq::Reason;

/// A conjunction of optional conditions on a [`DeadLetterRecord`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub tenant: Option<String>,
    pub reason: Option<Reason>,
    /// The message still owes this target.
    pub target: Option<TargetKind>,
    /// The change id in the body, or the AMQP message id.
    pub id: Option<String>,
    /// Dead-lettered at least this long ago.
    pub older_than: Option<Duration>,
    /// Dead-lettered at most this long ago.
    pub newer_than: Option<Duration>,
}

impl Filter {
    /// True when `record` passes every condition. A message without a readable
    /// `dead-lettered-at` fails both age filters (its age is unknown).
    pub fn matches(&self, record: &DeadLetterRecord, now: OffsetDateTime) -> bool {
        if let Some(t) = &self.tenant
            && record.tenant.as_deref() != Some(t.as_str())
        {
            return false;
        }
        if let Some(r) = self.reason
            && record.reason.as_deref() != Some(r.as_str())
        {
            return false;
        }
        if let Some(t) = self.target
            && !record.targets.iter().any(|x| x == t.as_str())
        {
            return false;
        }
        if let Some(id) = &self.id
            && record.change_id.as_deref() != Some(id.as_str())
            && record.message_id.as_deref() != Some(id.as_str())
        {
            return false;
        }
        let age = record.dead_lettered.map(|t| now - t);
        if let Some(min) = self.older_than
            && age.is_none_or(|a| a < min)
        {
            return false;
        }
        if let Some(max) = self.newer_than
            && age.is_none_or(|a| a > max)
        {
            return false;
        }
        true
    }
}

/// Parses a `--reason` value.
pub fn parse_reason(s: &str) -> Result<Reason, String> {
    Reason::ALL
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| {
            let all: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
            format!("{s:?} is not one of {}", all.join(", "))
        })
}

/// Parses a `--target` value.
pub fn parse_target(s: &str) -> Result<TargetKind, String> {
    TargetKind::parse(s).ok_or_else(|| format!("{s:?} is not one of genesys, servicenow"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(tenant: &str, reason: &str, targets: &[&str], age_s: i64) -> DeadLetterRecord {
        let now = OffsetDateTime::now_utc();
        DeadLetterRecord {
            change_id: Some("c-1".into()),
            message_id: Some("m-1".into()),
            tenant: Some(tenant.into()),
            script_id: None,
            version: None,
            op: None,
            reason: Some(reason.into()),
            status: None,
            attempts: 1,
            targets: targets.iter().map(|s| s.to_string()).collect(),
            error: None,
            replays: 0,
            routing_key: None,
            correlation_id: None,
            genesys_correlation_id: None,
            servicenow_transaction_id: None,
            first_failed_at: None,
            dead_lettered_at: None,
            age_seconds: None,
            body_bytes: 0,
            copies: 1,
            redelivered: false,
            dead_lettered: Some(now - time::Duration::seconds(age_s)),
        }
    }

    #[test]
    fn every_condition_must_hold() {
        let now = OffsetDateTime::now_utc();
        let r = record("acme", "permanent", &["servicenow"], 600);
        assert!(Filter::default().matches(&r, now));
        let f = |f: Filter| f.matches(&r, now);
        assert!(f(Filter {
            tenant: Some("acme".into()),
            ..Default::default()
        }));
        assert!(!f(Filter {
            tenant: Some("globex".into()),
            ..Default::default()
        }));
        assert!(f(Filter {
            reason: Some(Reason::Permanent),
            ..Default::default()
        }));
        assert!(!f(Filter {
            reason: Some(Reason::Invalid),
            ..Default::default()
        }));
        assert!(f(Filter {
            target: Some(TargetKind::Servicenow),
            ..Default::default()
        }));
        assert!(!f(Filter {
            target: Some(TargetKind::Genesys),
            ..Default::default()
        }));
        assert!(f(Filter {
            id: Some("c-1".into()),
            ..Default::default()
        }));
        assert!(f(Filter {
            id: Some("m-1".into()),
            ..Default::default()
        }));
        assert!(!f(Filter {
            id: Some("x".into()),
            ..Default::default()
        }));
        let min = |m: u64| Some(Duration::from_secs(m * 60));
        assert!(f(Filter {
            older_than: min(5),
            ..Default::default()
        }));
        assert!(!f(Filter {
            older_than: min(15),
            ..Default::default()
        }));
        assert!(f(Filter {
            newer_than: min(15),
            ..Default::default()
        }));
        assert!(!f(Filter {
            newer_than: min(5),
            ..Default::default()
        }));
    }

    #[test]
    fn reasons_and_targets_parse() {
        assert_eq!(parse_reason("unknown_tenant"), Ok(Reason::UnknownTenant));
        assert!(parse_reason("nope").is_err());
        assert_eq!(parse_target("genesys"), Ok(TargetKind::Genesys));
        assert!(parse_target("x").is_err());
    }
}
