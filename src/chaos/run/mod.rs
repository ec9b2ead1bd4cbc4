//! `scriptsync chaos`: a run of randomized, combined faults against the real worker, recorded
//! whole and checked. For `--duration` (30 min; `--quick`: 90 s) it runs the simulator, 2–3
//! worker processes on the local broker (or on a local 3-node cluster, `--cluster`), the
//! publisher ([`load`]) and the nemesis ([`nemesis`]) whose schedule the seed draws
//! ([`plan`]); the recorder ([`recorder`]) writes the history; at the end every fault is
//! lifted, the queues drain ([`ending`]), and the checker judges the history.

mod broker_ctl;
mod ending;
mod fault;
mod fleet;
mod load;
mod nemesis;
mod plan;
mod recorder;
mod summary;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use scriptsync::config::BrokerSettings;
use scriptsync_sim::fixtures;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::checker::{Limits, check};
use super::cluster::LocalCluster;
use super::history::Event;
use crate::bench::rig::Rig;
use crate::bench::worker::Quota;
use crate::cli::ChaosRunArgs;
use broker_ctl::BrokerCtl;
use fleet::{Fleet, FleetSpec};
use load::LoadShape;
use nemesis::Stage;
use plan::Shape;

/// The Genesys quota of every tenant: the real one.
const QUOTA: Quota = Quota {
    requests: 300,
    window: Duration::from_secs(60),
};
/// How long the queues may take to drain once the faults are lifted.
const DRAIN_WITHIN: Duration = Duration::from_secs(300);

/// Runs `scriptsync chaos [--duration D | --quick] [--seed N] …`.
pub async fn run(args: ChaosRunArgs) -> anyhow::Result<ExitCode> {
    let duration = if args.quick {
        Duration::from_secs(90)
    } else {
        args.duration
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    let bin = match args.worker_bin {
        Some(p) => p,
        None => std::env::current_exe().context("chaos: this executable's path")?,
    };
    let cluster = if args.cluster {
        let started = tokio::task::block_in_place(LocalCluster::start);
        Some(started.context("chaos --cluster: a local cluster cannot run here")?)
    } else {
        None
    };
    let tenants: Vec<String> = (1..=args.tenants.max(2))
        .map(|i| format!("chaos-{i:02}"))
        .collect();
    let noisy = tenants.last().cloned().unwrap_or_default();
    let single_url = args.broker_url.clone();
    let rig_url = match &cluster {
        Some(c) => c.urls().join(","),
        None => single_url.clone(),
    };
    let rig = Rig::open(&rig_url, "chaos", tenants.clone()).await?;
    let history = args
        .history
        .clone()
        .unwrap_or_else(|| default_history(seed, &rig.prefix));
    let broker = Arc::new(BrokerCtl::new(&rig.prefix, cluster));
    let settings = broker_settings(&broker.urls(&single_url), &rig.prefix);
    let shape = Shape {
        duration,
        workers: args.workers.clamp(2, 3),
        tenants: tenants.len(),
        nodes: broker.stoppable_nodes(),
        quick: args.quick,
    };
    let schedule = plan::schedule(seed, shape);
    summary::print_plan(seed, duration, &shape, &schedule, &history);

    let sim = fixtures::start(fixtures::genesys_quota(QUOTA.requests, QUOTA.window)).await?;
    let recorder = recorder::Recorder::create(&history)?;
    let in_quota: Vec<String> = tenants.iter().filter(|t| **t != noisy).cloned().collect();
    recorder.record(Event::Began {
        seed,
        duration_ms: duration.as_millis() as u64,
        in_quota,
    });
    let applied_stop = CancellationToken::new();
    let applied = recorder.follow_applied(&sim, applied_stop.clone());
    let fleet = Fleet::start(
        FleetSpec {
            bin,
            broker_url: broker.urls(&single_url),
            prefix: rig.prefix.clone(),
            tenants: tenants.clone(),
            quota: QUOTA,
        },
        shape.workers,
        &sim,
    )
    .await?;
    let stage = Stage {
        fleet: Arc::new(tokio::sync::Mutex::new(fleet)),
        sim: sim.clone(),
        broker: broker.clone(),
        tenants: Arc::new(tenants.clone()),
        recorder: recorder.clone(),
    };
    let start = Instant::now();
    let stop = CancellationToken::new();
    let sampler = tokio::spawn(summary::sample(stage.clone(), stop.clone()));
    let load = tokio::spawn(load::publish(
        LoadShape {
            seed,
            tenants: tenants.clone(),
            noisy,
            per_tenant_rate: 1.0,
            noisy_rate: 8.0,
            scripts: 25,
        },
        settings.clone(),
        recorder.clone(),
        stop.clone(),
    ));
    let nemesis = tokio::spawn(nemesis::run(schedule, stage.clone(), start, stop.clone()));
    tokio::time::sleep_until(start + duration).await;
    stop.cancel();
    let load = load.await?;
    nemesis.await?;
    sampler.await?;

    let drained = ending::drain(&stage, DRAIN_WITHIN).await?;
    let dead = ending::read_dead_letters(&stage, &settings).await?;
    ending::read_simulator(&stage);
    summary::sample_memory(&stage).await;
    drop(stage);
    sim.shutdown();
    applied_stop.cancel();
    let _ = applied.await;
    recorder.finish()?;
    let _ = rig.cleanup().await;

    let events = recorder.events();
    let verdicts = check(&events, &Limits::default());
    summary::print_outcome(&events, &load, &dead, drained);
    print!("{}", super::report(&verdicts, Some(seed)));
    println!(
        "history: {} (check it again: scriptsync chaos check {0})",
        history.display()
    );
    let held = verdicts.iter().all(|v| v.held) && drained.is_some();
    Ok(if held {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The publisher's and the DLQ reader's broker settings.
fn broker_settings(urls: &str, prefix: &str) -> BrokerSettings {
    let mut settings = BrokerSettings::with_addresses(urls);
    settings.prefix = prefix.to_owned();
    settings
}

/// The history's default place.
pub fn default_history(seed: u64, prefix: &str) -> PathBuf {
    std::env::temp_dir().join(format!("scriptsync-chaos-{seed}-{prefix}.jsonl"))
}
