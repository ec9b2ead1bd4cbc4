//! The command-line surface (clap). Parsing only: `main.rs` dispatches.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// RabbitMQ to use (guest/guest unless the URL says otherwise).
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
    /// Give up waiting for the burst to settle after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
    /// Plain progress lines even on a terminal.
    #[arg(long)]
    pub plain: bool,
}
