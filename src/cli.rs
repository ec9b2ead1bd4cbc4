//! The command-line surface (clap), a module of the binary: the subcommand list, and the
//! arguments of the tools that live in the binary (`sim`, `demo`, `bench`, `chaos`). The
//! library's tools keep their arguments with them (`publish`, `tenants::command`, `doctor`,
//! `dlq::args`). Parsing only: `main.rs` dispatches. It names nothing of the binary (only the
//! library), so `tests/integration/docs_snippets` compiles it to parse the documented commands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use scriptsync::dlq::args::DlqArgs;
use scriptsync::doctor::DoctorArgs;
use scriptsync::publish::PublishArgs;
use scriptsync::tenants::command::TenantsArgs;

/// Keeps contact-centre compliance scripts in sync across Genesys Cloud and ServiceNow.
#[derive(Debug, Parser)]
#[command(name = "scriptsync", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the worker: consume script changes and push them to the targets.
    Run {
        /// The TOML configuration file.
        #[arg(long, short, env = "SCRIPTSYNC_CONFIG")]
        config: PathBuf,
    },
    /// Validate a configuration file and print the effective config (secrets redacted).
    CheckConfig {
        #[arg(long, short, env = "SCRIPTSYNC_CONFIG")]
        config: PathBuf,
    },
    /// Serve the Genesys Cloud + ServiceNow simulator on loopback.
    Sim(SimArgs),
    /// Run the whole pipeline against the local RabbitMQ and the built-in simulator.
    Demo(DemoArgs),
    /// Validate script changes (JSON Lines or JSON, from a file or stdin) and publish them
    /// with confirms; `--dry-run` validates only.
    Publish(PublishArgs),
    /// Show the tenants a configuration and its tenants directory give, with the files that
    /// cannot be used (`tenants --config FILE list|check [--json]`); connects to nothing.
    Tenants(TenantsArgs),
    /// Check each tenant's credentials, roles, data table, staging table and hosts, and the
    /// broker, against the live services; exit 0 (passed), 1 (a check failed), 2 (usage).
    Doctor(DoctorArgs),
    /// Inspect, replay or purge dead letters (`dlq --config FILE stats|list|replay|purge`).
    Dlq(DlqArgs),
    /// Measure throughput, quota use, latency and memory against the local RabbitMQ and the
    /// built-in simulator (scenarios A–J); prints a table, `--json FILE` writes it.
    #[command(after_long_help = BOUND_FORMULA)]
    Bench(BenchArgs),
    /// Check a chaos run's history for the guarantees (nothing lost, never older over newer,
    /// no request into a pause, no cross-tenant credential, duplicates bounded, latency,
    /// memory); exit 1 if one fails, printing the events that show it.
    Chaos(ChaosArgs),
}

/// `scriptsync chaos`: a run (the default), or `check FILE`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ChaosArgs {
    #[command(subcommand)]
    pub command: Option<ChaosCommand>,
    #[command(flatten)]
    pub run: ChaosRunArgs,
}

#[derive(Debug, Subcommand)]
pub enum ChaosCommand {
    /// Judge every guarantee over a history (JSON Lines, one event a line).
    Check {
        /// The history file.
        history: PathBuf,
    },
}

/// A chaos run: workers, publisher and nemesis for a while, then the checker.
#[derive(Debug, Args)]
pub struct ChaosRunArgs {
    /// How long faults are injected (the drain and the check come after).
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// 90 seconds (for CI), with shorter faults.
    #[arg(long)]
    pub quick: bool,
    /// The seed the fault schedule and the load are drawn from (default: a random one,
    /// printed); the same seed repeats the same schedule.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker processes (2 or 3).
    #[arg(long, default_value_t = 3)]
    pub workers: usize,
    /// Tenants (the last one is offered several times its quota).
    #[arg(long, default_value_t = 8)]
    pub tenants: usize,
    /// Run on a local 3-node RabbitMQ cluster started for the run (needs root and the
    /// rabbitmq-server package), and stop and start its nodes too.
    #[arg(long)]
    pub cluster: bool,
    /// The machine's RabbitMQ (without --cluster).
    #[arg(long, default_value = "amqp://127.0.0.1:5672/%2f")]
    pub broker_url: String,
    /// The worker binary (default: this executable); use the release build for a long run.
    #[arg(long, value_name = "PATH")]
    pub worker_bin: Option<PathBuf>,
    /// Where to write the history (default: a file in the temporary directory, printed).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
}

/// How scenario H's quota-optimal lower bound is computed (shown by `bench --help`).
pub const BOUND_FORMULA: &str = "\
Quota-optimal lower bound (scenario H): what no sender within the quota can beat, whatever \
it knows. A change whose version stays its script's newest can only be served by a write \
sent after its publication; every other change might have been served at once and counts 0. \
Per tenant, at most N = floor(requests × headroom) requests go in any window of length W \
(sliding, so the bound holds whatever the server's window alignment; H: 10 per 5 s, headroom \
0.9, N = 9), a write costing r requests (r = 1: a PUT for a known row, a POST for a new \
one). The newest changes, served in publication order each as early as that allows, give \
their bound latencies (H: 9 at once, 9 after 5 s, 2 after 10 s per tenant), computed from \
the run's actual publish times; the row reports measured Genesys p99 ÷ bound p99 \
(≥ 1; 1 is optimal).";

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Run only these scenarios: letters A–J, comma-separated (F, the naive baseline, runs
    /// beside D, E and H).
    #[arg(long, value_delimiter = ',', value_parser = parse_scenario)]
    pub only: Vec<char>,
    /// A smaller version of every scenario (the whole bench in under 2 minutes, release).
    #[arg(long)]
    pub quick: bool,
    /// Also write the table as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// RabbitMQ to use (guest/guest unless the URL says otherwise); the nodes of a cluster
    /// as a comma-separated list, tried in turn.
    #[arg(
        long,
        default_value = "amqp://127.0.0.1:5672/%2f",
        env = "SCRIPTSYNC_BENCH_BROKER"
    )]
    pub broker_url: String,
    /// Plain progress lines even on a terminal.
    #[arg(long)]
    pub plain: bool,
    /// The worker binary to time (default: this executable), e.g. an older build to compare
    /// before and after in one run.
    #[arg(long, value_name = "PATH")]
    pub worker_bin: Option<PathBuf>,
}

/// One scenario letter, A to J (case-insensitive).
pub fn parse_scenario(text: &str) -> Result<char, String> {
    let mut chars = text.trim().chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if ('A'..='J').contains(&c.to_ascii_uppercase()) => {
            Ok(c.to_ascii_uppercase())
        }
        _ => Err(format!("'{text}' is not a scenario letter A–J")),
    }
}

#[derive(Debug, Args)]
pub struct SimArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Genesys quota per client and minute.
    #[arg(long, default_value_t = 300)]
    pub genesys_rpm: u32,
    /// ServiceNow rate-limit rule (requests per hour); none by default.
    #[arg(long)]
    pub servicenow_rph: Option<u32>,
    /// Speeds up ServiceNow's hourly window: 60 makes an "hour" last one minute.
    #[arg(long, default_value_t = 1.0)]
    pub time_factor: f64,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// RabbitMQ to use (guest/guest unless the URL says otherwise); the nodes of a cluster
    /// as a comma-separated list, tried in turn.
    #[arg(
        long,
        default_value = "amqp://127.0.0.1:5672/%2f",
        env = "SCRIPTSYNC_DEMO_BROKER"
    )]
    pub broker_url: String,
    /// Number of tenants (Genesys orgs) in the burst.
    #[arg(long, default_value_t = 5)]
    pub tenants: usize,
    /// Changes per tenant.
    #[arg(long, default_value_t = 200)]
    pub changes: usize,
    /// Distinct scripts per tenant the changes are spread over.
    #[arg(long, default_value_t = 40)]
    pub scripts: usize,
    /// Scripts per tenant retired at the end of the burst (a `script-retire/v1` after their
    /// last change: the Genesys row is deleted, the ServiceNow record marked retired).
    #[arg(long, default_value_t = 5)]
    pub retires: usize,
    /// Give up waiting for the burst to settle after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
    /// Plain progress lines even on a terminal.
    #[arg(long)]
    pub plain: bool,
}
