//! `scriptsync dlq list`: one line per matching dead letter (id, tenant, script, version,
//! op (`upsert` or `retire`), reason, status, attempts, age, short error), or one JSON object
//! per line with `--json` (`op` among its fields).
//! Read-only: every message stays in the DLQ (see [`super::scan`]).

use std::collections::HashMap;
use std::time::Duration;

use lapin::Connection;
use time::OffsetDateTime;

use super::filter::Filter;
use super::record::DeadLetterRecord;
use super::scan::Scan;
use crate::broker::{Names, Publisher};

/// Width of the error column in the text listing; `--json` carries the whole text.
const SHORT_ERROR_CHARS: usize = 60;

/// What a read-only pass found.
#[derive(Debug, Default)]
pub struct Inspection {
    /// Messages in the DLQ when the pass started.
    pub total: u32,
    /// Messages looked at (normally `total`).
    pub scanned: u32,
    /// The matching ones, in queue order (at most `limit`).
    pub matched: Vec<DeadLetterRecord>,
}

/// Reads the DLQ once and returns the records matching `filter` (the first `limit`, if
/// given), leaving every message in place. Each record's `copies` counts the letters read
/// that carry its change id.
pub async fn inspect(
    conn: &Connection,
    names: &Names,
    publisher: &Publisher,
    filter: &Filter,
    limit: Option<usize>,
) -> anyhow::Result<Inspection> {
    let mut scan = Scan::open(conn, names, publisher.clone()).await?;
    let mut matched = Vec::new();
    let mut copies: HashMap<String, u32> = HashMap::new();
    while let Some(msg) = scan.next().await? {
        if let Some(id) = &msg.record.change_id {
            *copies.entry(id.clone()).or_default() += 1;
        }
        let hit = filter.matches(&msg.record, OffsetDateTime::now_utc());
        if hit {
            matched.push(msg.record.clone());
        }
        scan.keep(msg).await?;
        if hit && limit.is_some_and(|l| matched.len() >= l) {
            break;
        }
    }
    for r in &mut matched {
        if let Some(n) = r.change_id.as_ref().and_then(|id| copies.get(id)) {
            r.copies = *n;
        }
    }
    let report = Inspection {
        total: scan.total(),
        scanned: scan.seen(),
        matched,
    };
    scan.finish().await?;
    Ok(report)
}

/// The column titles of [`line`].
pub fn header() -> String {
    format!(
        "{:<44} {:<16} {:<20} {:>7} {:<6} {:<14} {:>6} {:>8} {:>9}  {}",
        "ID", "TENANT", "SCRIPT", "VERSION", "OP", "REASON", "STATUS", "ATTEMPTS", "AGE", "ERROR"
    )
}

/// One text line for `record`.
pub fn line(r: &DeadLetterRecord) -> String {
    let dash = || "-".to_string();
    format!(
        "{:<44} {:<16} {:<20} {:>7} {:<6} {:<14} {:>6} {:>8} {:>9}  {}",
        r.id_column(),
        r.tenant.clone().unwrap_or_else(dash),
        r.script_id.clone().unwrap_or_else(dash),
        r.version.map(|v| v.to_string()).unwrap_or_else(dash),
        r.op.map_or("-", |op| op.as_str()),
        r.reason.clone().unwrap_or_else(dash),
        r.status.map(|s| s.to_string()).unwrap_or_else(dash),
        r.attempts,
        age(r.age_seconds),
        short(r.error.as_deref().unwrap_or("")),
    )
}

/// One JSON object (one line) for `record`.
pub fn json_line(r: &DeadLetterRecord) -> String {
    serde_json::to_string(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// An age in seconds as `1h 2m 3s`, or `-` when unknown.
pub fn age(seconds: Option<u64>) -> String {
    seconds
        .map(|s| humantime::format_duration(Duration::from_secs(s)).to_string())
        .unwrap_or_else(|| "-".into())
}

fn short(text: &str) -> String {
    if text.chars().count() <= SHORT_ERROR_CHARS {
        return text.to_owned();
    }
    let cut: String = text.chars().take(SHORT_ERROR_CHARS - 3).collect();
    format!("{cut}...")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Operation;

    #[test]
    fn copies_are_marked_in_the_id_column() {
        let mut r = DeadLetterRecord {
            change_id: Some("c-1".into()),
            copies: 1,
            ..DeadLetterRecord::default()
        };
        assert_eq!(r.id_column(), "c-1");
        r.copies = 2;
        assert_eq!(r.id_column(), "c-1 ×2");
        assert!(line(&r).starts_with("c-1 ×2 "));
    }

    #[test]
    fn the_op_column_says_upsert_or_retire_and_json_carries_it() {
        let record = |op| DeadLetterRecord {
            change_id: Some("c-1".into()),
            version: Some(7),
            op,
            reason: Some("permanent".into()),
            ..DeadLetterRecord::default()
        };
        let at = header().find("OP ").unwrap();
        assert_eq!(&header()[at - 8..at], "VERSION ");
        for (op, shown) in [
            (Some(Operation::Upsert), "upsert"),
            (Some(Operation::Retire), "retire"),
            (None, "-"),
        ] {
            let text = line(&record(op));
            assert_eq!(text[at..].split(' ').next(), Some(shown), "{text}");
            assert!(text[at..].contains(" permanent "), "{text}");
            let json: serde_json::Value = serde_json::from_str(&json_line(&record(op))).unwrap();
            assert_eq!(json["op"], serde_json::to_value(op).unwrap());
        }
        assert_eq!(
            line(&record(None)).find("permanent"),
            header().find("REASON")
        );
    }

    #[test]
    fn ages_and_errors_are_short() {
        assert_eq!(age(Some(3723)), "1h 2m 3s");
        assert_eq!(age(None), "-");
        assert_eq!(short("abc"), "abc");
        assert_eq!(short(&"x".repeat(100)).chars().count(), SHORT_ERROR_CHARS);
    }
}
