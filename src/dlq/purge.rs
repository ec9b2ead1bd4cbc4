//! `scriptsync dlq purge`: deletes matching dead letters, for good.
//!
//! Without `--yes` nothing is deleted: the tool counts what would go (read-only) and
//! refuses. With `--yes` each match is acked (that is the deletion) and everything else
//! stays in the DLQ (see [`super::scan`]).

use lapin::Connection;
use time::OffsetDateTime;

use super::filter::Filter;
use super::list::inspect;
use super::scan::Scan;
use crate::broker::{Names, Publisher};

/// The outcome of a purge.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// `--yes` was missing: nothing was deleted; `matched` says what would have been.
    pub refused: bool,
    pub matched: u64,
    pub deleted: u64,
    pub kept: u64,
}

/// Deletes the matches of `filter` (at most `limit`) when `yes`; otherwise only counts them.
pub async fn purge(
    conn: &Connection,
    names: &Names,
    publisher: &Publisher,
    filter: &Filter,
    limit: Option<u64>,
    yes: bool,
) -> anyhow::Result<PurgeReport> {
    if !yes {
        let found = inspect(conn, names, publisher, filter, limit.map(|l| l as usize)).await?;
        return Ok(PurgeReport {
            refused: true,
            matched: found.matched.len() as u64,
            deleted: 0,
            kept: u64::from(found.scanned),
        });
    }
    let mut scan = Scan::open(conn, names, publisher.clone()).await?;
    let mut report = PurgeReport::default();
    while let Some(msg) = scan.next().await? {
        if filter.matches(&msg.record, OffsetDateTime::now_utc()) {
            report.matched += 1;
            msg.inbound.ack.ack().await?;
            report.deleted += 1;
            if limit.is_some_and(|l| report.deleted >= l) {
                break;
            }
        } else {
            report.kept += 1;
            scan.keep(msg).await?;
        }
    }
    scan.finish().await?;
    Ok(report)
}
