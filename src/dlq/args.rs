//! The arguments of `scriptsync dlq` (clap), kept with the tool they drive; the binary's `cli`
//! names them in its command list.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct DlqArgs {
    /// The TOML configuration file (gives the broker URL and prefix).
    #[arg(long, short, env = "SCRIPTSYNC_CONFIG")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: DlqCommand,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Counts by tenant × reason × owed targets, with oldest/newest age.
    Stats {
        #[command(flatten)]
        filter: DlqFilterArgs,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One line per dead letter; nothing is moved.
    List {
        #[command(flatten)]
        filter: DlqFilterArgs,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Show at most N.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Send matches back through the worker (only the owed targets).
    Replay {
        #[command(flatten)]
        filter: DlqFilterArgs,
        /// Count and list the matches; move nothing.
        #[arg(long)]
        dry_run: bool,
        /// Move at most N.
        #[arg(long)]
        limit: Option<u64>,
        /// Move at most R messages per second.
        #[arg(long)]
        rate: Option<std::num::NonZeroU32>,
        /// No progress bar, even on a terminal.
        #[arg(long)]
        no_progress: bool,
    },
    /// Delete matches for good (refuses without --yes).
    Purge {
        #[command(flatten)]
        filter: DlqFilterArgs,
        /// Really delete.
        #[arg(long)]
        yes: bool,
        /// Delete at most N.
        #[arg(long)]
        limit: Option<u64>,
    },
}

/// Filters shared by every `dlq` command; a message must pass all that are given.
#[derive(Debug, Clone, Args)]
pub struct DlqFilterArgs {
    #[arg(long)]
    pub tenant: Option<String>,
    /// invalid | unknown_tenant | permanent | exhausted
    #[arg(long, value_parser = super::filter::parse_reason)]
    pub reason: Option<super::Reason>,
    /// Still owes this target: genesys | servicenow
    #[arg(long, value_parser = super::filter::parse_target)]
    pub target: Option<crate::change::TargetKind>,
    /// The change id in the body, or the AMQP message id.
    #[arg(long)]
    pub id: Option<String>,
    /// Dead-lettered at least this long ago (e.g. 10m, 2h).
    #[arg(long)]
    pub older_than: Option<humantime::Duration>,
    /// Dead-lettered at most this long ago.
    #[arg(long)]
    pub newer_than: Option<humantime::Duration>,
}
