//! The demo's generated burst: `changes` per tenant spread round-robin over `scripts`
//! scripts, versions rising per script, then a retire of the last `retires` scripts (one
//! version above their last change), published with confirms. Remembers the newest version of
//! every script, and whether it was retired, so the demo can check what the targets hold at
//! the end, and when each change was published so it can time it to each target.

use std::collections::BTreeMap;

use lapin::BasicProperties;
use scriptsync_sim::Arrivals;
use time::OffsetDateTime;

use scriptsync::broker::{Names, Publisher};
use scriptsync::change::{InvalidChange, Operation, ScriptChange};

/// What each (tenant, script) should end as: its newest version, and whether that is a retire.
pub type Expected = BTreeMap<(String, String), (u64, Operation)>;

/// Builds the burst's changes in publication order (tenants interleaved), then the retires.
pub fn generate(
    tenants: &[String],
    changes: usize,
    (scripts, retires): (usize, usize),
) -> Result<Vec<ScriptChange>, InvalidChange> {
    let scripts = scripts.max(1);
    let mut out = Vec::with_capacity(tenants.len() * changes);
    for i in 0..changes {
        for tenant in tenants {
            let script = i % scripts;
            let version = (i / scripts) as u64 + 1;
            let hash = format!(
                "sha256:{:016x}",
                (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            );
            let script_id = format!("script-{script:03}");
            let change = ScriptChange::builder(format!("{tenant}-{i}"), tenant, script_id, version, hash)
                .disclaimer(format!(
                    "Calls are recorded for quality and compliance. Disclosure v{version} of script {script}."
                ))
                .campaign_id(format!("campaign-{}", script % 3))
                .build()?;
            out.push(change);
        }
    }
    let used = scripts.min(changes);
    for script in used.saturating_sub(retires)..used {
        // The script's last change was version (changes - 1 - script) / scripts + 1.
        let last = changes.saturating_sub(1 + script) / scripts + 1;
        for tenant in tenants {
            let id = format!("{tenant}-retire-{script}");
            let script_id = format!("script-{script:03}");
            let retire = ScriptChange::retire_builder(id, tenant, script_id, last as u64 + 1)
                .published_at("2026-01-01T00:00:00Z")
                .build()?;
            out.push(retire);
        }
    }
    Ok(out)
}

/// The newest version of every (tenant, script) in `changes`, and what it does.
pub fn expected(changes: &[ScriptChange]) -> Expected {
    let mut map = Expected::new();
    for c in changes {
        let key = (c.tenant().to_owned(), c.script_id().to_owned());
        let slot = map.entry(key).or_insert((0, Operation::Upsert));
        if c.version() > slot.0 {
            *slot = (c.version(), c.operation());
        }
    }
    map
}

/// Publishes every change to the main exchange (routing key = tenant), `published_at` = now,
/// and notes each change's publication in `arrivals` (to time it until each target holds it),
/// except for the scripts the burst retires: their row is deleted at Genesys (or never
/// written, when the retire overtook their changes), so they are checked at the end instead.
pub async fn publish(
    publisher: &Publisher,
    names: &Names,
    changes: Vec<ScriptChange>,
    arrivals: &mut Arrivals,
) -> anyhow::Result<()> {
    let exchange = names.exchange();
    let retired: std::collections::BTreeSet<(String, String)> = changes
        .iter()
        .filter(|c| c.operation() == Operation::Retire)
        .map(|c| (c.tenant().to_owned(), c.script_id().to_owned()))
        .collect();
    let mut tasks = Vec::new();
    for mut change in changes {
        change.stamp_published_at(OffsetDateTime::now_utc());
        let now = tokio::time::Instant::now();
        let key = (change.tenant().to_owned(), change.script_id().to_owned());
        if !retired.contains(&key) {
            arrivals.published(change.tenant(), change.script_id(), change.version(), now);
        }
        let body = serde_json::to_vec(&change)?;
        let props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_message_id(change.id().into());
        let publisher = publisher.clone();
        let exchange = exchange.clone();
        tasks.push(async move {
            publisher
                .publish(&exchange, change.tenant(), &body, props, false)
                .await
        });
        if tasks.len() == 200 {
            for r in futures::future::join_all(tasks.drain(..)).await {
                r?;
            }
        }
    }
    for r in futures::future::join_all(tasks).await {
        r?;
    }
    Ok(())
}
