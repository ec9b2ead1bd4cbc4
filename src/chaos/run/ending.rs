//! How a chaos run ends: every fault lifted, every worker running, then a bounded wait until
//! the tenants' queues are empty and stay so; then what the history still needs is read:
//! the dead letters (with whether their reason is permanent), the simulator's final count of
//! requests into a pause, and whose credentials wrote each tenant's records.

use std::collections::BTreeMap;
use std::time::Duration;

use scriptsync::broker::{Names, Publisher};
use scriptsync::change::TargetKind;
use scriptsync::config::BrokerSettings;
use scriptsync::dlq::filter::Filter;
use scriptsync::dlq::list::inspect;
use scriptsync::dlq::record::DeadLetterRecord;
use scriptsync_sim::{Faults, SimTarget};
use tokio::time::Instant;

use super::nemesis::Stage;
use crate::chaos::history::Event;

/// How long the tenants' queues must stay empty to count as drained.
const QUIET_POLLS: u32 = 3;
const POLL: Duration = Duration::from_secs(1);

/// What the dead-letter queue held at the end, by reason.
pub type DeadLetters = BTreeMap<String, u64>;

/// Lifts every fault and waits (at most `within`) until the tenants' queues are drained;
/// returns how long that took, or `None` if they were not drained in time.
pub async fn drain(stage: &Stage, within: Duration) -> anyhow::Result<Option<Duration>> {
    for tenant in stage.tenants.iter() {
        for target in [SimTarget::Genesys, SimTarget::Servicenow] {
            stage
                .sim
                .set_faults(Some(tenant), target, Faults::default());
        }
    }
    {
        let mut fleet = stage.fleet.lock().await;
        for i in 0..fleet.len() {
            fleet.signal(i, "CONT")?;
            fleet.restart(i, &stage.sim).await?;
        }
    }
    let started = Instant::now();
    let mut quiet = 0;
    while started.elapsed() < within {
        let depths = stage.broker.queue_depths().await.unwrap_or_default();
        let waiting: u64 = depths
            .iter()
            .filter(|(name, _)| name.contains(".t."))
            .map(|(_, n)| n)
            .sum();
        quiet = if waiting == 0 { quiet + 1 } else { 0 };
        if quiet >= QUIET_POLLS {
            return Ok(Some(started.elapsed()));
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(None)
}

/// Records what the DLQ holds (each letter of a change as a `dead_lettered` event); returns
/// the count of every letter by reason, hostile ones included.
pub async fn read_dead_letters(
    stage: &Stage,
    settings: &BrokerSettings,
) -> anyhow::Result<DeadLetters> {
    let conn = scriptsync::broker::connect(settings, "scriptsync chaos dlq").await?;
    let publisher = Publisher::open(&conn, settings.confirm_timeout).await?;
    let names = Names::new(&settings.prefix);
    let found = inspect(&conn, &names, &publisher, &Filter::default(), None).await?;
    let _ = conn.close(200, "chaos: dlq read".into()).await;
    let mut by_reason = DeadLetters::new();
    let at_ms = stage.recorder.now_ms();
    for r in &found.matched {
        let reason = r.reason.clone().unwrap_or_else(|| "none".into());
        *by_reason.entry(reason.clone()).or_default() += 1;
        if let Some(event) = dead_lettered(r, reason, at_ms) {
            stage.recorder.record(event);
        }
    }
    Ok(by_reason)
}

/// A dead letter of a change, as the history records it (`None` for a body that is no
/// change: a hostile message).
fn dead_lettered(r: &DeadLetterRecord, reason: String, at_ms: u64) -> Option<Event> {
    let (tenant, script, version) = (r.tenant.clone()?, r.script_id.clone()?, r.version?);
    // No targets named: all the change wants (an invalid message names none).
    let mut targets: Vec<TargetKind> = r
        .targets
        .iter()
        .filter_map(|t| TargetKind::parse(t))
        .collect();
    if targets.is_empty() {
        targets = vec![TargetKind::Genesys, TargetKind::Servicenow];
    }
    Some(Event::DeadLettered {
        at_ms,
        tenant,
        script,
        version,
        targets,
        // Only a retry budget spent on transient failures is not the change's own fault.
        permanent: reason != "exhausted",
        reason,
    })
}

/// Records the simulator's final view: requests into a pause and credentials per tenant.
pub fn read_simulator(stage: &Stage) {
    let state = stage.sim.state();
    stage.recorder.pauses(&state);
    stage.recorder.credentials(&state);
}
