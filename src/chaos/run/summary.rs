//! What a chaos run prints and samples as it goes: the plan (seed, duration, the faults
//! scheduled by kind), a progress line every 30 s, each worker's memory every second and the
//! simulator's count of requests into a pause every 5 s (both into the history), and at the
//! end the run's figures (changes, faults injected by kind, the drain, the DLQ by reason).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::ending::DeadLetters;
use super::load::LoadReport;
use super::nemesis::Stage;
use super::plan::{Scheduled, Shape};
use crate::chaos::history::Event;

const MEMORY_EVERY: Duration = Duration::from_secs(1);
const PAUSES_EVERY: u32 = 5;
const PROGRESS_EVERY: u32 = 30;

/// The run's parameters and its schedule, before it starts.
pub fn print_plan(
    seed: u64,
    duration: Duration,
    shape: &Shape,
    schedule: &[Scheduled],
    history: &Path,
) {
    println!(
        "chaos run: seed {seed}, {} s, {} workers, {} tenants{}",
        duration.as_secs(),
        shape.workers,
        shape.tenants,
        if shape.nodes > 0 {
            ", a 3-node cluster"
        } else {
            ", one broker"
        }
    );
    println!(
        "scheduled: {} faults ({})",
        schedule.len(),
        by_kind(schedule.iter().map(|s| s.fault.kind()))
    );
    println!("history: {}", history.display());
}

/// "kind n, kind n, …".
fn by_kind<'a>(kinds: impl Iterator<Item = &'a str>) -> String {
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    for k in kinds {
        *counts.entry(k).or_default() += 1;
    }
    counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Samples memory and pauses into the history, and prints progress, until `stop`.
pub async fn sample(stage: Stage, stop: CancellationToken) {
    let mut tick = tokio::time::interval(MEMORY_EVERY);
    let mut n: u32 = 0;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        n += 1;
        sample_memory(&stage).await;
        if n.is_multiple_of(PAUSES_EVERY) {
            stage.recorder.pauses(&stage.sim.state());
        }
        if n.is_multiple_of(PROGRESS_EVERY) {
            println!(
                "{}",
                progress(&stage.recorder.events(), stage.recorder.now_ms())
            );
        }
    }
}

/// Records each running worker's resident memory.
pub async fn sample_memory(stage: &Stage) {
    let at_ms = stage.recorder.now_ms();
    let memory = stage.fleet.lock().await.memory();
    for (worker, bytes) in memory {
        stage.recorder.record(Event::Rss {
            at_ms,
            worker,
            bytes,
        });
    }
}

/// One line: time, changes published, writes applied, faults so far.
fn progress(events: &[Event], now_ms: u64) -> String {
    let count = |f: fn(&Event) -> bool| events.iter().filter(|e| f(e)).count();
    format!(
        "{:>5} s: {} changes published, {} writes applied, {} faults",
        now_ms / 1000,
        count(|e| matches!(e, Event::Published { .. })),
        count(|e| matches!(e, Event::Applied { .. })),
        count(|e| matches!(e, Event::Fault { .. })),
    )
}

/// The run's figures, after it ended.
pub fn print_outcome(
    events: &[Event],
    load: &LoadReport,
    dead: &DeadLetters,
    drained: Option<Duration>,
) {
    let faults = events.iter().filter_map(|e| match e {
        Event::Fault { kind, .. } => Some(kind.as_str()),
        _ => None,
    });
    let failed: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::Fault { detail, .. } if detail.starts_with("failed")))
        .collect();
    println!(
        "published: {} changes confirmed ({} retires, {} compliance), {} not confirmed, {} hostile messages, {} publisher reconnections",
        load.confirmed,
        load.retires,
        load.compliance,
        load.not_confirmed,
        load.hostile,
        load.reconnects
    );
    println!("faults injected: {}", by_kind(faults));
    for f in failed {
        println!(
            "  a fault could not be carried out: {}",
            serde_json::to_string(f).unwrap_or_default()
        );
    }
    match drained {
        Some(d) => println!(
            "drained {:.1} s after the faults were lifted",
            d.as_secs_f64()
        ),
        None => println!("NOT drained: the tenants' queues still held messages at the deadline"),
    }
    let letters: Vec<String> = dead.iter().map(|(r, n)| format!("{r} {n}")).collect();
    println!(
        "dead letters: {}",
        if letters.is_empty() {
            "none".into()
        } else {
            letters.join(", ")
        }
    );
}
