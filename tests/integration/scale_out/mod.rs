//! Several worker processes on one prefix (DESIGN §8): the tenants spread over the replicas,
//! exactly one replica sends for a tenant at a time (the simulator's per-request
//! `X-Scriptsync-Replica` shows no interleaving), and when a replica is killed its tenants
//! continue on the others with nothing lost and nothing written older-over-newer.
//!
//! Here, the replicas under test ([`Cluster`]: their configs, starting and stopping them,
//! publishing rounds of changes); what the simulator recorded of them in `sim_record`; the
//! tests in `ownership` (who owns which tenant as replicas die, join and restart) and
//! `handover_limits` (a handover keeps the tenant's quota and pauses).

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{BROKER_URL, KillOnDrop, change};
use scriptsync::broker::{self, Names, Publisher, Topology};
use scriptsync::config::BrokerSettings;
use scriptsync::config::simulator;
use scriptsync_sim::{SimHandle, fixtures};

mod handover_limits;
mod ownership;
mod sim_record;

const TENANTS: usize = 12;
const SCRIPTS: u64 = 4;

struct Cluster {
    dir: PathBuf,
    names: Names,
    sim: SimHandle,
    tenants: Vec<String>,
    quota: Quota,
    scripts: u64,
}

/// The Genesys quota the simulator enforces and the workers are told.
struct Quota {
    requests: u32,
    window: Duration,
}

/// Genesys's own: 300 per minute.
const REAL_QUOTA: Quota = Quota {
    requests: 300,
    window: Duration::from_secs(60),
};

fn tenant_ids() -> Vec<String> {
    (0..TENANTS).map(|i| format!("org-{i:02}")).collect()
}

/// The client secret every replica's config names, written once per cluster: rewriting it
/// for each replica truncated it while another replica was starting, which then read it
/// empty and exited with a config error.
const SECRET_FILE: &str = "secret";

/// The config of replica `id`: every tenant on the simulator (Genesys only, a quick beat).
fn write_config(
    dir: &Path,
    prefix: &str,
    id: &str,
    (sim_url, quota): (&str, &Quota),
    tenants: &[String],
) -> PathBuf {
    let secret = dir.join(SECRET_FILE);
    let mut text = format!(
        "[broker]\nurl = \"{BROKER_URL}\"\nprefix = \"{prefix}\"\n[batch]\nlinger = \"20ms\"\n\
         [shutdown]\ndrain_timeout = \"10s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n\
         [replica]\nid = \"{id}\"\nheartbeat = \"200ms\"\n"
    );
    for t in tenants {
        text += &format!(
            "\n[[tenants]]\nid = \"{t}\"\n[tenants.genesys]\napi_base = \"{sim_url}\"\n\
             login_base = \"{sim_url}\"\nclient_id = \"{t}\"\nclient_secret_file = {:?}\n\
             datatable_id = \"{}\"\nrequests_per_minute = {}\nwindow = \"{}ms\"\n",
            secret.display().to_string(),
            fixtures::SIM_DATATABLE,
            quota.requests,
            quota.window.as_millis(),
        );
    }
    let path = dir.join(format!("{id}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

impl Cluster {
    /// Starts the replicas `ids` and waits until round 1 is delivered (they have settled).
    async fn started(&self, ids: &[&str]) -> BTreeMap<String, KillOnDrop> {
        let mut workers: BTreeMap<String, KillOnDrop> = ids
            .iter()
            .map(|id| (id.to_string(), self.spawn(id)))
            .collect();
        self.publish_round(1).await;
        self.delivered(1).await;
        for (id, worker) in &mut workers {
            let exited = worker.0.try_wait().unwrap();
            assert!(
                exited.is_none(),
                "{id} exited ({}) while the others delivered; the end of its log:\n{}",
                exited.map(|s| s.to_string()).unwrap_or_default(),
                self.log_tail(id)
            );
        }
        workers
    }

    async fn new() -> Self {
        Self::with(tenant_ids(), REAL_QUOTA, SCRIPTS).await
    }

    async fn with(tenants: Vec<String>, quota: Quota, scripts: u64) -> Self {
        let sim = fixtures::start(fixtures::genesys_quota(quota.requests, quota.window))
            .await
            .unwrap();
        let prefix = simulator::random_prefix("scale");
        let dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&dir).unwrap();
        let secret = format!("{}\n", fixtures::SIM_SECRET);
        std::fs::write(dir.join(SECRET_FILE), secret).unwrap();
        let c = Self {
            dir,
            names: Names::new(&prefix),
            sim,
            tenants,
            quota,
            scripts,
        };
        let (conn, publisher) = c.connect().await;
        c.topology().declare(publisher.channel()).await.unwrap();
        let _ = conn.close(200, "ok".into()).await;
        c
    }

    async fn connect(&self) -> (lapin::Connection, Publisher) {
        let settings = BrokerSettings {
            url: BROKER_URL.into(),
            prefix: self.names.exchange(),
            ..BrokerSettings::default()
        };
        let conn = broker::connect(&settings, "scale-out test").await.unwrap();
        let publisher = Publisher::open(&conn, Duration::from_secs(10))
            .await
            .unwrap();
        (conn, publisher)
    }

    fn topology(&self) -> Topology<'_> {
        Topology::new(
            &self.names,
            &BrokerSettings::default(),
            self.tenants.clone(),
        )
    }

    fn spawn(&self, id: &str) -> KillOnDrop {
        let config = write_config(
            &self.dir,
            &self.names.exchange(),
            id,
            (&self.sim.base_url(), &self.quota),
            &self.tenants,
        );
        let log = std::fs::File::create(self.dir.join(format!("{id}.log"))).unwrap();
        KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_scriptsync"))
                .args(["run", "--config"])
                .arg(config)
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("worker starts"),
        )
    }

    /// The last lines replica `id` logged (for a failure's message).
    fn log_tail(&self, id: &str) -> String {
        let log = std::fs::read_to_string(self.dir.join(format!("{id}.log"))).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Publishes version `version` of every script of every tenant.
    async fn publish_round(&self, version: u64) {
        let (conn, publisher) = self.connect().await;
        for t in &self.tenants {
            for s in 0..self.scripts {
                let c = change(t, &format!("s{s}"), version);
                let body = serde_json::to_vec(&c).unwrap();
                let props =
                    lapin::BasicProperties::default().with_content_type("application/json".into());
                publisher
                    .publish(&self.names.exchange(), t, &body, props, false)
                    .await
                    .unwrap();
            }
        }
        let _ = conn.close(200, "ok".into()).await;
    }

    async fn finish(self) {
        let (conn, publisher) = self.connect().await;
        let _ = self.topology().delete(publisher.channel()).await;
        let _ = conn.close(200, "done".into()).await;
        self.sim.shutdown();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
