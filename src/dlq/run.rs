//! `scriptsync dlq …` as a command: loads the config, connects, runs one of stats / list /
//! replay / purge and prints the result. Exit codes: 0 done, 2 `purge` refused (no `--yes`).

use std::io::IsTerminal;
use std::process::ExitCode;

use super::args::{DlqArgs, DlqCommand, DlqFilterArgs};
use super::filter::Filter;
use super::list::{header, inspect, json_line, line};
use super::purge::purge;
use super::replay::{ReplayOptions, replay};
use super::stats::Stats;
use crate::broker::{self, Names, Publisher};
use crate::config::Settings;

impl From<DlqFilterArgs> for Filter {
    fn from(a: DlqFilterArgs) -> Self {
        Self {
            tenant: a.tenant,
            reason: a.reason,
            target: a.target,
            id: a.id,
            older_than: a.older_than.map(Into::into),
            newer_than: a.newer_than.map(Into::into),
        }
    }
}

/// Runs the command and prints its result on stdout.
pub async fn run(args: DlqArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(&args.config)?;
    let names = Names::new(&settings.broker.prefix);
    let conn = broker::connect(&settings.broker, "scriptsync dlq").await?;
    let publisher = Publisher::open(&conn, settings.broker.confirm_timeout).await?;
    let code = match args.command {
        DlqCommand::Stats { filter, json } => {
            let found = inspect(&conn, &names, &publisher, &filter.into(), None).await?;
            let stats = Stats::from_inspection(&found);
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                print!("{}", stats.render());
            }
            ExitCode::SUCCESS
        }
        DlqCommand::List {
            filter,
            json,
            limit,
        } => {
            let found = inspect(&conn, &names, &publisher, &filter.into(), limit).await?;
            if json {
                found
                    .matched
                    .iter()
                    .for_each(|r| println!("{}", json_line(r)));
            } else {
                println!("{}", header());
                found.matched.iter().for_each(|r| println!("{}", line(r)));
                println!(
                    "{} matching of {} in the DLQ",
                    found.matched.len(),
                    found.total
                );
            }
            ExitCode::SUCCESS
        }
        DlqCommand::Replay {
            filter,
            dry_run,
            limit,
            rate,
            no_progress,
        } => {
            let opts = ReplayOptions {
                filter: filter.into(),
                dry_run,
                limit,
                rate,
                progress: !no_progress && std::io::stderr().is_terminal(),
            };
            let report = replay(&conn, &names, &publisher, &opts).await?;
            if dry_run {
                println!("{}", header());
                report
                    .would_move
                    .iter()
                    .for_each(|r| println!("{}", line(r)));
                println!(
                    "dry run: {} would be replayed; nothing moved ({} in the DLQ)",
                    report.would_move.len(),
                    report.depth
                );
            } else {
                println!(
                    "replayed {} moved, {} kept in the DLQ",
                    report.moved, report.kept
                );
            }
            ExitCode::SUCCESS
        }
        DlqCommand::Purge { filter, yes, limit } => {
            let report = purge(&conn, &names, &publisher, &filter.into(), limit, yes).await?;
            if report.refused {
                eprintln!(
                    "refusing to purge without --yes: {} message(s) match and would be deleted for good; nothing was deleted",
                    report.matched
                );
                ExitCode::from(2)
            } else {
                println!(
                    "purged {} deleted, {} kept in the DLQ",
                    report.deleted, report.kept
                );
                ExitCode::SUCCESS
            }
        }
    };
    let _ = conn.close(200, "dlq done".into()).await;
    Ok(code)
}
