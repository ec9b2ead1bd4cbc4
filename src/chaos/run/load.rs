//! The chaos run's publisher: through the publisher API ([`ChangePublisher`], confirms on),
//! a steady trickle to every tenant with bursts to one at a time, the noisy tenant offered
//! several times its quota, many versions per script, new scripts now and then (so a full
//! data table refuses some), some compliance priority, some retires, some changes owed to one
//! target only, and now and then a hostile message (not JSON, an unknown schema, a missing
//! version, oversized). Every change the broker confirms is recorded as published; hostile
//! messages are only counted (the DLQ should hold them at the end).

use std::collections::BTreeMap;
use std::time::Duration;

use lapin::BasicProperties;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use scriptsync::broker::{Names, Publisher};
use scriptsync::change::{Operation, Priority, ScriptChange, TargetKind};
use scriptsync::config::BrokerSettings;
use scriptsync::publish::ChangePublisher;

use super::recorder::Recorder;
use crate::chaos::history::Event;

/// How the load is shaped.
#[derive(Debug, Clone)]
pub struct LoadShape {
    pub seed: u64,
    pub tenants: Vec<String>,
    /// The tenant offered more than its quota (the last one).
    pub noisy: String,
    /// Changes per second to each in-quota tenant, on average.
    pub per_tenant_rate: f64,
    /// Changes per second to the noisy tenant.
    pub noisy_rate: f64,
    /// Scripts each tenant starts with (more appear as the run goes).
    pub scripts: u32,
}

/// What the publisher did.
#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    pub confirmed: u64,
    pub not_confirmed: u64,
    pub retires: u64,
    pub compliance: u64,
    pub hostile: u64,
    pub reconnects: u64,
}

const TICK: Duration = Duration::from_millis(100);

/// Publishes until `stop`; returns what it did.
pub async fn publish(
    shape: LoadShape,
    settings: BrokerSettings,
    recorder: Recorder,
    stop: CancellationToken,
) -> LoadReport {
    let mut rng = StdRng::seed_from_u64(shape.seed ^ 0x6c6f_6164);
    let mut report = LoadReport::default();
    let mut scripts: BTreeMap<&str, u32> = shape
        .tenants
        .iter()
        .map(|t| (t.as_str(), shape.scripts))
        .collect();
    let mut versions: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut next_burst = Instant::now() + Duration::from_secs(rng.random_range(5..=20));
    let mut conn: Option<(ChangePublisher, Publisher)> = None;
    let mut opened = false;
    let mut ticker = tokio::time::interval(TICK);
    while !stop.is_cancelled() {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let mut batch = Vec::new();
        for tenant in &shape.tenants {
            let rate = if *tenant == shape.noisy {
                shape.noisy_rate
            } else {
                shape.per_tenant_rate
            };
            let mut expected = rate * TICK.as_secs_f64();
            while expected > 0.0 {
                if rng.random_bool(expected.min(1.0)) {
                    batch.push(tenant.clone());
                }
                expected -= 1.0;
            }
        }
        if Instant::now() >= next_burst {
            let quiet: Vec<&String> = shape
                .tenants
                .iter()
                .filter(|t| **t != shape.noisy)
                .collect();
            let tenant = quiet[rng.random_range(0..quiet.len())];
            batch.extend(std::iter::repeat_n(
                tenant.clone(),
                rng.random_range(8..=16),
            ));
            next_burst = Instant::now() + Duration::from_secs(rng.random_range(15..=40));
        }
        if conn.is_none() {
            conn = open(&settings).await;
            report.reconnects += u64::from(opened);
            opened = true;
        }
        let Some((publisher, raw)) = conn.as_mut() else {
            continue;
        };
        let mut ok = true;
        for tenant in batch {
            if rng.random_bool(0.01) {
                ok &= hostile(raw, &settings, &tenant, &mut rng).await;
                report.hostile += 1;
                continue;
            }
            let count = scripts.get_mut(tenant.as_str()).map_or(0, |c| {
                if rng.random_bool(0.03) {
                    *c += 1;
                }
                *c
            });
            let script = format!("s-{:04}", rng.random_range(1..=count.max(1)));
            let version = versions
                .entry((tenant.clone(), script.clone()))
                .or_default();
            *version += 1;
            let change = draw_change(&mut rng, &tenant, &script, *version);
            let sent_ms = recorder.now_ms();
            match publisher.publish(&change).await {
                Ok(()) => {
                    report.confirmed += 1;
                    report.retires += u64::from(change.operation() == Operation::Retire);
                    report.compliance += u64::from(change.priority() == Priority::Compliance);
                    recorder.record(published(&change, sent_ms));
                }
                Err(_) => {
                    report.not_confirmed += 1;
                    ok = false;
                }
            }
        }
        if !ok || !publisher.is_open() {
            conn = None;
        }
    }
    report
}

/// Opens the publisher API's publisher and a raw one for the hostile messages.
async fn open(settings: &BrokerSettings) -> Option<(ChangePublisher, Publisher)> {
    let conn = scriptsync::broker::connect(settings, "scriptsync chaos load")
        .await
        .ok()?;
    let raw = Publisher::open(&conn, settings.confirm_timeout)
        .await
        .ok()?;
    let publisher = ChangePublisher::open(conn, settings).await.ok()?;
    Some((publisher, raw))
}

/// A change of `script` at `version`: now and then a retire, compliance, or for one target.
fn draw_change(rng: &mut StdRng, tenant: &str, script: &str, version: u64) -> ScriptChange {
    let id = format!("{tenant}-{script}-v{version}");
    let built = if rng.random_bool(0.03) {
        ScriptChange::retire_builder(id, tenant, script, version).build()
    } else {
        let mut b = ScriptChange::builder(
            id,
            tenant,
            script,
            version,
            format!("sha256:{version:016x}"),
        )
        .disclaimer(format!(
            "Calls are recorded. Disclosure v{version} of {script}."
        ));
        if rng.random_bool(0.1) {
            b = b.priority(Priority::Compliance);
        }
        match rng.random_range(0..20) {
            0 | 1 => b = b.targets([TargetKind::Genesys]),
            2 => b = b.targets([TargetKind::Servicenow]),
            _ => {}
        }
        b.build()
    };
    // The run's own tenant and script ids satisfy every rule.
    built.unwrap_or_else(|e| panic!("chaos change {tenant}/{script} v{version}: {e}"))
}

/// The history's record of a confirmed change.
fn published(change: &ScriptChange, at_ms: u64) -> Event {
    let targets = [TargetKind::Genesys, TargetKind::Servicenow]
        .into_iter()
        .filter(|t| change.wants(*t))
        .collect();
    Event::Published {
        at_ms,
        tenant: change.tenant().to_owned(),
        script: change.script_id().to_owned(),
        version: change.version(),
        targets,
        retire: (change.operation() == Operation::Retire),
    }
}

/// Publishes one hostile message to `tenant`'s key; false if the broker did not confirm.
async fn hostile(
    raw: &Publisher,
    settings: &BrokerSettings,
    tenant: &str,
    rng: &mut StdRng,
) -> bool {
    let body: Vec<u8> = match rng.random_range(0..4) {
        0 => b"{ this is not json".to_vec(),
        1 => format!(r#"{{"schema":"script-change/v9","id":"x","tenant":"{tenant}"}}"#).into_bytes(),
        2 => format!(
            r#"{{"schema":"script-change/v1","id":"no-version","tenant":"{tenant}","script_id":"s-0001","version_hash":"h","published_at":"2026-01-01T00:00:00Z"}}"#
        )
        .into_bytes(),
        _ => vec![b'x'; settings.max_message_bytes + 1],
    };
    let props = BasicProperties::default().with_content_type("application/json".into());
    let exchange = Names::new(&settings.prefix).exchange();
    raw.publish(&exchange, tenant, &body, props, false)
        .await
        .is_ok()
}
