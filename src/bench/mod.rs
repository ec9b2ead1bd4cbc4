//! `scriptsync bench`: the instrument behind the performance figures (`docs/performance.md`):
//! each speed or memory target is a row here, measured, never asserted in a test.
//!
//! Every scenario runs against the local RabbitMQ and the built-in simulator (in this
//! process, port 0), with the worker under test as a child process (`--worker-bin`, default
//! this executable), each under its own random queue prefix, deleted at the end even when
//! the scenario fails. Figures are ratios taken in the same run where a ceiling exists. A
//! module of the binary, not of the worker's library: it only drives the worker.
//!
//! Layout: [`ceilings`] (A), [`throughput`] (B, C), [`quota`] (D), [`storm`] (E), [`naive`]
//! (F, the hand-written baseline beside D, E and H), [`backlog`] (G), [`pressure`] (H) with
//! [`bound`] (its quota-optimal lower bound), [`hour_rule`] (I), [`tenant_scale`] (J);
//! [`rows`] turns results into table rows; [`context`], [`rig`], [`worker`], [`scrape`],
//! [`direct`], [`paced`] (one paced run of D, E, H, I or J) are the shared machinery; [`report`], [`machine`], [`progress`] the output. The
//! arguments (`BenchArgs`, the scenario letters, `BOUND_FORMULA`) are in the binary's `cli`.

pub mod backlog;
pub mod bound;
pub mod ceilings;
pub mod context;
pub mod direct;
pub mod hour_rule;
pub mod machine;
pub mod naive;
pub mod paced;
pub mod pressure;
pub mod progress;
pub mod quota;
pub mod report;
pub mod rig;
pub mod rows;
pub mod scrape;
pub mod storm;
pub mod tenant_scale;
pub mod throughput;
pub mod worker;
mod worker_config;

use std::process::ExitCode;

use anyhow::Context as _;
use tokio::time::Instant;

use context::Ctx;
use machine::Machine;
use report::Report;
use scriptsync::config::LogFormat;
use worker::WorkerSettings;

use crate::cli::BenchArgs;

/// Runs the selected scenarios and prints the table; exit 1 if the broker is unreachable
/// or a scenario failed to complete (a missed target is a figure, not a failure).
pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    scriptsync::telemetry::init_logs_with_level(
        &Default::default(),
        LogFormat::Pretty,
        "error,lapin=off",
    );
    if let Err(e) = rig::connect(&args.broker_url, "scriptsync bench probe").await {
        eprintln!(
            "scriptsync bench needs RabbitMQ at {}: {e:#}. Start one with `rabbitmq-server -detached` (or `docker run -d -p 5672:5672 rabbitmq:3`) and run the bench again.",
            scriptsync::broker::redacted_url(&args.broker_url)
        );
        return Ok(ExitCode::FAILURE);
    }
    let worker_bin = match args.worker_bin {
        Some(path) => path,
        None => std::env::current_exe().context("bench: cannot find this executable")?,
    };
    let selected = |c: char| args.only.is_empty() || args.only.contains(&c);
    let ctx = Ctx {
        broker_url: args.broker_url.clone(),
        worker_bin,
        settings: WorkerSettings::default(),
        plain: args.plain,
        quick: args.quick,
    };
    let machine = Machine::describe(&args.broker_url, &ctx.worker_bin.display().to_string()).await;
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut ceilings = rows::Ceilings::default();
    if selected('A') || selected('B') || selected('C') {
        rows.extend(rows::ceilings(&ctx, &mut ceilings, selected('A')).await);
    }
    if selected('B') {
        rows.push(rows::throughput_b(&ctx, &ceilings).await);
    }
    if selected('C') {
        rows.push(rows::throughput_c(&ctx, &ceilings).await);
    }
    let naive = selected('F');
    if selected('D') || naive {
        rows.extend(quota::rows(&ctx, selected('D'), selected('D') || naive).await);
    }
    if selected('E') || naive {
        rows.extend(storm::rows(&ctx, selected('E'), selected('E') || naive).await);
    }
    if selected('G') {
        rows.extend(backlog::rows(&ctx).await);
    }
    if selected('H') || naive {
        rows.extend(pressure::rows(&ctx, selected('H'), selected('H') || naive).await);
    }
    if selected('I') {
        rows.extend(hour_rule::rows(&ctx).await);
    }
    if selected('J') {
        rows.extend(tenant_scale::rows(&ctx).await);
    }
    let report = Report {
        machine,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        quick: args.quick,
        settings: ctx.settings,
        overrides: std::env::vars()
            .filter(|(k, _)| k.starts_with("SCRIPTSYNC__"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        elapsed_secs: started.elapsed().as_secs_f64(),
        rows,
    };
    println!("{}", report.render());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text).with_context(|| format!("bench: writing {}", path.display()))?;
    }
    let failed = report
        .rows
        .iter()
        .any(|r| r.verdict == report::RowVerdict::Failed);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
