//! The demo's generated burst: `changes` per tenant spread round-robin over `scripts`
//! scripts, versions rising per script, published with confirms. Remembers the newest
//! version of every script so the demo can check what the targets hold at the end, and when
//! each change was published so it can time it to each target.

use std::collections::BTreeMap;

use lapin::BasicProperties;
use scriptsync_sim::Arrivals;
use time::OffsetDateTime;

use crate::broker::{Names, Publisher};
use crate::change::{InvalidChange, ScriptChange};

/// Newest version per (tenant, script) in the burst.
pub type Expected = BTreeMap<(String, String), u64>;

/// Builds the burst's changes in publication order (tenants interleaved).
pub fn generate(
    tenants: &[String],
    changes: usize,
    scripts: usize,
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
    Ok(out)
}

/// The newest version of every (tenant, script) in `changes`.
pub fn expected(changes: &[ScriptChange]) -> Expected {
    let mut map = Expected::new();
    for c in changes {
        let slot = map
            .entry((c.tenant().to_owned(), c.script_id().to_owned()))
            .or_default();
        *slot = (*slot).max(c.version());
    }
    map
}

/// Publishes every change to the main exchange (routing key = tenant), `published_at` = now,
/// and notes each publication in `arrivals` (to time it until each target holds it).
pub async fn publish(
    publisher: &Publisher,
    names: &Names,
    changes: Vec<ScriptChange>,
    arrivals: &mut Arrivals,
) -> anyhow::Result<()> {
    let exchange = names.exchange();
    let mut tasks = Vec::new();
    for mut change in changes {
        change.stamp_published_at(OffsetDateTime::now_utc());
        let now = tokio::time::Instant::now();
        arrivals.published(change.tenant(), change.script_id(), change.version(), now);
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
