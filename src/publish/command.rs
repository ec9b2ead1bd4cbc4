//! `scriptsync publish` as a command: its arguments (clap), the broker settings (the worker's
//! config file, `--broker` / `--prefix` on top), the input read on a blocking thread, the run,
//! each problem on stderr as it is known, the summary on stdout. Exit code 0 only if every
//! entry was published (or, with `--dry-run`, valid).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use tokio::sync::mpsc;

use super::driver::{Options, publish_entries};
use super::input::{Entries, Entry};
use super::publisher::ChangePublisher;
use super::summary::{Progress, Summary};
use crate::config::{BrokerSettings, Settings};

/// Entries read ahead of the publisher (the reader thread waits beyond that).
const READ_AHEAD: usize = 1024;

#[derive(Debug, Args)]
#[command(after_long_help = INPUT_HELP)]
pub struct PublishArgs {
    /// The worker's TOML configuration; only its [broker] section is used (url or urls,
    /// prefix, password, TLS, confirm_timeout, max_message_bytes). Without it: the defaults
    /// (amqp://127.0.0.1:5672, prefix "scriptsync").
    #[arg(long, short, env = "SCRIPTSYNC_CONFIG")]
    pub config: Option<PathBuf>,
    /// The changes: a file, or `-` / nothing for stdin.
    #[arg(value_name = "INPUT")]
    pub input: Option<PathBuf>,
    /// Validate only: connect to nothing, publish nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Publish at most R changes per second.
    #[arg(long, value_name = "R")]
    pub rate: Option<NonZeroU32>,
    /// The broker to use instead of the config's (amqp://user@host:port/vhost; the nodes of
    /// a cluster comma-separated; the password still comes from the config's password_env /
    /// password_file).
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// The exchange and queue name prefix instead of the config's broker.prefix.
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
}

/// The input formats, shown by `publish --help`.
pub const INPUT_HELP: &str = "\
INPUT is JSON Lines (one change per line; blank lines skipped) or JSON: one change or an \
array of changes, pretty-printed or not. A change is a script-change/v1 message (the script's \
new content) or a script-retire/v1 message (the script retired), told apart by its `schema`. \
Each is checked against its schema, schemas/script-change.v1.json or \
schemas/script-retire.v1.json (the worker's own decoder); a problem is printed on stderr \
with its line (and, in an array, its item number) and the field at fault. A change is \
published to the exchange <prefix> with routing key = tenant, persistent, content_type \
application/json, message_id = id, timestamp and a traceparent header, and counts once the \
broker confirms it. A tenant without a queue (<prefix>.t.<tenant>: not a tenant of the \
worker) is reported as unroutable and nothing of it is sent. The summary (read, invalid, \
published, unroutable, failed) goes to stdout; the exit code is 1 if any change failed.";

/// Runs `scriptsync publish`; see the module docs.
pub async fn run(args: PublishArgs) -> anyhow::Result<ExitCode> {
    let broker = broker_settings(&args)?;
    let source = open_input(args.input.as_ref())?;
    let mut publisher = match args.dry_run {
        true => None,
        false => Some(ChangePublisher::connect(&broker).await?),
    };
    let mut entries = read_in_background(source, broker.max_message_bytes);
    let stream = futures::stream::poll_fn(|cx| entries.poll_recv(cx));
    let options = Options {
        rate: args.rate,
        ..Options::default()
    };
    let mut summary = Summary::default();
    let mut progress = Progress::default();
    let run = publish_entries(publisher.as_mut(), stream, &options, |at, outcome| {
        if let Some(problem) = outcome.problem() {
            eprintln!("{at}: {problem}");
        }
        summary.record(&outcome);
        progress.tick(&summary);
    })
    .await;
    if let Some(publisher) = publisher {
        publisher.close().await;
    }
    let dry = if args.dry_run { "dry run: " } else { "" };
    println!("{dry}{summary}");
    run?;
    Ok(match summary.all_ok() {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}

/// The config's `[broker]` (or the defaults), with `--broker` and `--prefix` applied.
fn broker_settings(args: &PublishArgs) -> anyhow::Result<BrokerSettings> {
    let mut broker = match &args.config {
        Some(path) => Settings::load_broker(path)
            .with_context(|| format!("cannot use config {}", path.display()))?,
        None => BrokerSettings::default(),
    };
    if let Some(urls) = &args.broker {
        let given = BrokerSettings::with_addresses(urls);
        (broker.url, broker.other_urls) = (given.url, given.other_urls);
    }
    if let Some(prefix) = &args.prefix {
        broker.prefix = prefix.clone();
    }
    broker.validate().context("invalid broker settings")?;
    Ok(broker)
}

/// The input file, or stdin for `-` or no path.
fn open_input(path: Option<&PathBuf>) -> anyhow::Result<Box<dyn Read + Send>> {
    match path {
        Some(path) if path.as_os_str() != "-" => {
            let file = File::open(path)
                .with_context(|| format!("cannot read input {}", path.display()))?;
            if file.metadata().is_ok_and(|m| m.is_dir()) {
                anyhow::bail!("cannot read input {}: it is a directory", path.display());
            }
            Ok(Box::new(file))
        }
        _ => Ok(Box::new(io::stdin())),
    }
}

/// Reads and validates entries on a blocking thread, a bounded distance ahead.
fn read_in_background(
    source: Box<dyn Read + Send>,
    max_bytes: usize,
) -> mpsc::Receiver<io::Result<Entry>> {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        for entry in Entries::new(BufReader::new(source), max_bytes) {
            let stop = entry.is_err();
            if tx.blocking_send(entry).is_err() || stop {
                break;
            }
        }
    });
    rx
}
