//! `scriptsync dlq replay`: sends matching dead letters back through the worker.
//!
//! Each match is republished to the main exchange (routing key = the original one, else the
//! tenant) with the original body byte-for-byte, the original properties and headers, plus
//! `x-scriptsync-replays + 1`; `x-scriptsync-targets` stays the owed targets, so the worker
//! pushes only there (an empty list is dropped: the change then goes to every target it
//! wants). The publisher confirm is awaited, *then* the DLQ copy is acked: killing the tool at
//! any moment may leave a message twice, never zero times. Replays pass the same rate gates
//! as everything else because they go through the worker. `--rate` paces the moves,
//! `--limit` stops after N, `--dry-run` lists what would move and moves nothing.

use std::num::NonZeroU32;

use governor::{Quota, RateLimiter};
use indicatif::{ProgressBar, ProgressStyle};
use lapin::Connection;
use lapin::types::AMQPValue;
use time::OffsetDateTime;

use super::filter::Filter;
use super::headers as h;
use super::list::inspect;
use super::record::{DELIVERY_COUNT, DeadLetterRecord};
use super::scan::{Scan, Scanned, header_map};
use crate::broker::{Names, Publisher};

/// Below this many messages in the DLQ no progress bar is drawn (the run is short).
const PROGRESS_MIN: u32 = 200;

/// What to replay and how fast.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    pub filter: Filter,
    /// Count and list the matches; move nothing.
    pub dry_run: bool,
    /// Move at most this many.
    pub limit: Option<u64>,
    /// Move at most this many per second (no burst).
    pub rate: Option<NonZeroU32>,
    /// Draw a progress bar on stderr when it is a terminal.
    pub progress: bool,
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct ReplayReport {
    /// Messages in the DLQ when the run started.
    pub depth: u32,
    /// Messages moved to the main exchange (0 for a dry run).
    pub moved: u64,
    /// Messages looked at and left in the DLQ (non-matching, over the limit, or no route).
    pub kept: u64,
    /// Dry run: the matches that would move.
    pub would_move: Vec<DeadLetterRecord>,
}

/// Replays the matches of `opts.filter`; see the module docs.
pub async fn replay(
    conn: &Connection,
    names: &Names,
    publisher: &Publisher,
    opts: &ReplayOptions,
) -> anyhow::Result<ReplayReport> {
    if opts.dry_run {
        let limit = opts.limit.map(|l| l as usize);
        let found = inspect(conn, names, publisher, &opts.filter, limit).await?;
        return Ok(ReplayReport {
            depth: found.total,
            moved: 0,
            kept: u64::from(found.scanned),
            would_move: found.matched,
        });
    }
    let limiter = opts
        .rate
        .map(|r| RateLimiter::direct(Quota::per_second(r).allow_burst(NonZeroU32::MIN)));
    let mut scan = Scan::open(conn, names, publisher.clone()).await?;
    let bar = progress_bar(opts.progress, scan.total());
    let mut report = ReplayReport {
        depth: scan.total(),
        ..ReplayReport::default()
    };
    while let Some(msg) = scan.next().await? {
        let wanted = opts.filter.matches(&msg.record, OffsetDateTime::now_utc());
        let routable = msg.record.replay_routing_key().is_some();
        if !wanted || !routable {
            if wanted {
                tracing::warn!(
                    id = msg.record.display_id(),
                    "no tenant or routing key; kept"
                );
            }
            report.kept += 1;
            scan.keep(msg).await?;
        } else {
            if let Some(l) = &limiter {
                l.until_ready().await;
            }
            move_one(names, publisher, msg).await?;
            report.moved += 1;
        }
        bar.set_position(u64::from(scan.seen()));
        bar.set_message(format!("moved {} kept {}", report.moved, report.kept));
        if opts.limit.is_some_and(|l| report.moved >= l) {
            break;
        }
    }
    bar.finish_and_clear();
    scan.finish().await?;
    Ok(report)
}

/// Publishes the replay copy of `msg`, waits for the confirm, then acks the DLQ copy.
async fn move_one(names: &Names, publisher: &Publisher, msg: Scanned) -> anyhow::Result<()> {
    let Scanned { inbound, record } = msg;
    let mut drop = vec![DELIVERY_COUNT];
    if record.targets.is_empty() {
        drop.push(h::TARGETS);
    }
    let mut headers = header_map(&inbound, &drop);
    headers.insert(
        h::REPLAYS.into(),
        AMQPValue::LongLongInt(i64::from(record.replays) + 1),
    );
    let props = inbound.properties.clone().with_headers(headers.into());
    let key = record.replay_routing_key().unwrap_or_default();
    publisher
        .publish(&names.exchange(), key, &inbound.body, props, true)
        .await?;
    inbound.ack.ack().await?;
    Ok(())
}

fn progress_bar(wanted: bool, total: u32) -> ProgressBar {
    if !wanted || total < PROGRESS_MIN {
        return ProgressBar::hidden();
    }
    // Drawn on stderr, and hidden by indicatif when stderr is not a terminal.
    let bar = ProgressBar::new(u64::from(total));
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({per_sec}, eta {eta})")
    {
        bar.set_style(style);
    }
    bar
}
