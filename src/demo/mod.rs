//! `scriptsync demo`: the local RabbitMQ + the built-in simulator + the real worker, fed a
//! generated burst, with a live view and a summary. Exit 0 only if the simulator ends up
//! holding exactly the newest version of every script (and no pause was violated). A module
//! of the binary, not of the worker's library: it only drives the worker.

pub mod burst;
pub mod summary;
pub mod view;

use std::process::ExitCode;
use std::time::Duration;

use scriptsync_sim::{Arrivals, SimConfig, fixtures};
use tokio_util::sync::CancellationToken;

use scriptsync::app::Application;
use scriptsync::broker::{self, Publisher};
use scriptsync::config::{LogFormat, simulator};

use crate::cli::DemoArgs;

/// Runs the demo; the exit code says whether the final check passed.
pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    scriptsync::telemetry::init_logs_with_level(&Default::default(), LogFormat::Pretty, "warn");
    let prefix = simulator::random_prefix("demo");
    let tenants: Vec<String> = (1..=args.tenants).map(|i| format!("demo-{i}")).collect();

    let sim = fixtures::start(SimConfig::default()).await?;
    let settings = simulator::sim_settings(&args.broker_url, &prefix, &sim.base_url(), &tenants);
    let conn = match broker::connect(&settings.broker, "scriptsync demo").await {
        Ok(conn) => conn,
        Err(e) => {
            eprintln!(
                "scriptsync demo needs RabbitMQ on {}: {e}. Start one with `rabbitmq-server -detached` (or `docker run -d -p 5672:5672 rabbitmq:3`) and run the demo again.",
                broker::redacted_url(&args.broker_url)
            );
            sim.shutdown();
            return Ok(ExitCode::FAILURE);
        }
    };
    settings.validate()?;
    let app = Application::build(settings.clone())?;
    let board = app.board();
    let publisher = Publisher::open(&conn, settings.broker.confirm_timeout).await?;
    app.topology().declare(publisher.channel()).await?;

    println!(
        "scriptsync demo: {} tenants × {} changes over {} scripts; simulator at {}; queues {prefix}.*",
        args.tenants,
        args.changes,
        args.scripts,
        sim.base_url()
    );
    let stop = CancellationToken::new();
    let started = tokio::time::Instant::now();
    let topology_names = scriptsync::broker::Names::new(&prefix);
    let worker = tokio::spawn(app.run_until(stop.clone()));

    let changes = burst::generate(&tenants, args.changes, (args.scripts, args.retires))?;
    let per_tenant = (changes.len() / tenants.len().max(1)) as u64;
    let expected = burst::expected(&changes);
    let published = changes.len() as u64;
    let mut applied = sim.watch_applied();
    let mut arrivals = Arrivals::new();
    burst::publish(&publisher, &topology_names, changes, &mut arrivals).await?;

    let deadline = started + Duration::from_secs(args.timeout_secs);
    let settled = view::watch(board.clone(), &tenants, per_tenant, deadline, args.plain).await;
    let elapsed = started.elapsed().as_secs_f64();

    stop.cancel();
    let _ = worker.await;
    arrivals.drain(&mut applied);
    let run = summary::Run {
        sim: &sim.state(),
        expected: &expected,
        arrivals: &arrivals,
        published,
        elapsed_secs: elapsed,
    };
    let summary = summary::Summary::collect(&board.snapshot(), &run);
    print!("{}", summary.render());
    if !settled {
        println!("  not every change settled within {} s", args.timeout_secs);
    }

    let cleanup =
        scriptsync::broker::Topology::new(&topology_names, &settings.broker, tenants.clone());
    if let Err(e) = cleanup.delete(publisher.channel()).await {
        eprintln!("warning: could not delete the demo queues {prefix}.*: {e}");
    }
    let _ = conn.close(200, "demo done".into()).await;
    sim.shutdown();
    Ok(if settled && summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
