//! The broker side of one scenario run: its own random prefix, the topology declared for its
//! tenants, a few confirm channels to publish with, and the clean-up that deletes it all.
//!
//! [`Rig::publish`] sends changes with publisher confirms, many in flight at once, either as
//! fast as the broker confirms or each at its scheduled instant; it stamps `published_at`
//! and reports every publish instant (for [`scriptsync_sim::Arrivals`]).

use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use lapin::{BasicProperties, Connection};
use time::OffsetDateTime;
use tokio::time::Instant;

use scriptsync::broker::{self, Names, Publisher, Topology};
use scriptsync::change::ScriptChange;
use scriptsync::config::BrokerSettings;
use scriptsync::config::simulator::random_prefix;

/// Confirm channels publishing side by side.
const CHANNELS: usize = 4;
/// Publishes awaiting their confirm at once.
const IN_FLIGHT: usize = 2048;

/// A change and, for a paced scenario, when to publish it.
pub struct Timed {
    pub at: Option<Instant>,
    pub change: ScriptChange,
}

/// One scenario's queues and publishers.
pub struct Rig {
    pub prefix: String,
    pub names: Names,
    pub tenants: Vec<String>,
    conn: Connection,
    publishers: Vec<Publisher>,
}

impl Rig {
    /// Connects, picks a random prefix (`kind` names the scenario) and declares the topology.
    pub async fn open(broker_url: &str, kind: &str, tenants: Vec<String>) -> anyhow::Result<Self> {
        let prefix = random_prefix(kind);
        let conn = connect(broker_url, &format!("scriptsync bench {prefix}")).await?;
        let mut publishers = Vec::new();
        for _ in 0..CHANNELS {
            publishers.push(Publisher::open(&conn, Duration::from_secs(30)).await?);
        }
        let rig = Self {
            names: Names::new(&prefix),
            prefix,
            tenants,
            conn,
            publishers,
        };
        rig.topology()
            .declare(rig.publishers[0].channel())
            .await
            .context("bench: declaring the topology")?;
        Ok(rig)
    }

    fn topology(&self) -> Topology<'_> {
        // Quorum queues, as the worker's default settings declare them.
        Topology::new(
            &self.names,
            &BrokerSettings::default(),
            self.tenants.clone(),
        )
    }

    /// Publishes every change (routing key = tenant), calling `on_publish` with the instant
    /// each one left; returns how many were confirmed.
    pub async fn publish(
        &self,
        changes: impl IntoIterator<Item = Timed>,
        mut on_publish: impl FnMut(&ScriptChange, Instant),
    ) -> anyhow::Result<u64> {
        let exchange = self.names.exchange();
        let mut inflight = FuturesUnordered::new();
        let mut sent = 0u64;
        for (i, Timed { at, mut change }) in changes.into_iter().enumerate() {
            if let Some(at) = at {
                loop {
                    tokio::select! {
                        biased;
                        Some(r) = inflight.next(), if !inflight.is_empty() => { r?; }
                        _ = tokio::time::sleep_until(at) => break,
                    }
                }
            }
            while inflight.len() >= IN_FLIGHT {
                if let Some(r) = inflight.next().await {
                    r?;
                }
            }
            let now = Instant::now();
            change.stamp_published_at(OffsetDateTime::now_utc());
            on_publish(&change, now);
            let body = serde_json::to_vec(&change)?;
            let publisher = self.publishers[i % self.publishers.len()].clone();
            let exchange = exchange.clone();
            inflight.push(async move {
                let props = BasicProperties::default()
                    .with_content_type("application/json".into())
                    .with_message_id(change.id().into());
                publisher
                    .publish(&exchange, change.tenant(), &body, props, false)
                    .await
                    .context("bench: publish")
            });
            sent += 1;
        }
        while let Some(r) = inflight.next().await {
            r?;
        }
        Ok(sent)
    }

    /// Deletes the scenario's queues and exchanges and closes the connection.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        let deleted = self.topology().delete(self.publishers[0].channel()).await;
        let _ = self.conn.close(200, "bench scenario done".into()).await;
        deleted.with_context(|| format!("bench: deleting the queues {}.*", self.prefix))
    }
}

/// A connection to the bench's broker (guest/guest unless the URL names a user);
/// `broker_url` may list several nodes, comma-separated.
pub async fn connect(broker_url: &str, name: &str) -> anyhow::Result<Connection> {
    broker::connect(&BrokerSettings::with_addresses(broker_url), name).await
}

/// A change of `tenant`'s `script` at `version`, shaped like a real one (≈ 400 bytes).
pub fn change(tenant: &str, script: &str, version: u64) -> ScriptChange {
    let hash = format!(
        "sha256:{:016x}",
        version.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    );
    let id = format!("{tenant}-{script}-v{version}");
    ScriptChange::builder(id, tenant, script, version, hash)
        .disclaimer(format!(
            "Calls are recorded for quality and compliance. Disclosure v{version} of script {script}."
        ))
        .campaign_id("campaign-bench")
        .build()
        // The bench's own tenant and script ids (`bench-01`, `s1`, …) satisfy every rule.
        .unwrap_or_else(|e| panic!("bench change {tenant}/{script} v{version}: {e}"))
}

/// Tenant ids `bench-01` … for `n` tenants.
pub fn tenants(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("bench-{i:02}")).collect()
}
