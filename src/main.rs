//! The `scriptsync` binary: process lifecycle and subcommand dispatch, the clap surface
//! (`cli`), and the tools that only drive the worker or judge what it did (`demo`, `bench`,
//! `chaos`), kept out of the worker's library.

use std::process::ExitCode;

use clap::Parser;
use scriptsync::config::{LogFormat, Settings};
use scriptsync::{app::Application, shutdown, telemetry};
use scriptsync_sim::SimConfig;

use cli::{Cli, Command};

// The binary's own modules: the command line and the tools around the worker.
mod bench;
mod chaos;
mod cli;
mod demo;

/// jemalloc instead of glibc's malloc: `malloc`/`free` were ≈ 21 % of the worker's time in the
/// bench's profile; with jemalloc scenario B costs ≈ 30 % fewer CPU-seconds per change at the
/// same peak RSS (README, Performance).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { config } => {
            let settings = Settings::load(&config)?;
            let telemetry = telemetry::init(&settings.log, &settings.telemetry, LogFormat::Json)?;
            let mut app = Application::build(settings)?;
            let admin = app.bind_admin()?;
            tracing::info!(admin = %admin, "admin endpoints listening");
            app.run_until(shutdown::on_signal()).await?;
            tokio::task::spawn_blocking(move || telemetry.shutdown()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { config } => {
            let settings = Settings::load(&config)?;
            println!(
                "# {}: valid; {} tenant(s) in the file; secrets resolved and redacted",
                config.display(),
                settings.tenants.len()
            );
            if let Some(dir) = &settings.tenants_dir {
                println!(
                    "# tenants_dir {}: see `scriptsync tenants --config {} check`",
                    dir.display(),
                    config.display()
                );
            }
            print!("{}", settings.to_redacted_toml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Sim(args) => {
            telemetry::init_logs(&Default::default(), LogFormat::Pretty);
            let config = SimConfig {
                genesys_requests_per_minute: args.genesys_rpm,
                servicenow_requests_per_hour: args.servicenow_rph,
                servicenow_time_factor: args.time_factor,
                ..Default::default()
            };
            scriptsync_sim::serve(config, args.listen, shutdown::on_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => demo::run(args).await,
        Command::Publish(args) => scriptsync::publish::command::run(args).await,
        Command::Tenants(args) => scriptsync::tenants::command::run(args),
        Command::Doctor(args) => scriptsync::doctor::run(args).await,
        Command::Dlq(args) => scriptsync::dlq::run::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Chaos(args) => chaos::run(args).await,
    }
}
