//! A harness for tests that run the worker as a real process (`scriptsync run`): writes a
//! config for one tenant on the simulator, publishes changes, watches the simulator and the
//! queues (each check opens its own broker connection, so it survives broker faults), and
//! signals or reaps the worker.
//!
//! Here, the harness: its folder, simulator and queues, connections, starting the worker and
//! finding its admin address, stopping and cleaning up; the worker's config in
//! `config_file`; publishing in `publishing`; what a run must end with in `delivery_checks`;
//! signalling, reaping and probing the worker's process in `child`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use scriptsync::broker::{self, Names, Publisher, Topology};
use scriptsync::config::BrokerSettings;
use scriptsync::config::simulator;
use scriptsync_sim::{SimConfig, SimHandle, fixtures};

use super::{BROKER_URL, KillOnDrop, eventually};

mod child;
mod config_file;
mod delivery_checks;
mod publishing;

#[allow(unused_imports)]
pub use child::{peak_rss_kb, readyz, signal, wait_exit};
use config_file::write_config;

pub struct Harness {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub log: PathBuf,
    pub names: Names,
    pub sim: SimHandle,
    pub tenant: String,
    /// The broker addresses: the machine's broker (`url`), or a cluster's nodes (`urls`).
    pub urls: Vec<String>,
}

/// Extra TOML appended to the generated config's top-level sections.
pub struct Options {
    pub prefetch: u16,
    pub max_changes: usize,
    pub requests_per_minute: u32,
    pub max_concurrency: usize,
    /// `broker.consumer_timeout` as the worker is told it (`None`: its default, 30 min).
    pub consumer_timeout: Option<std::time::Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            prefetch: 100,
            max_changes: 10,
            requests_per_minute: 6000,
            max_concurrency: 4,
            consumer_timeout: None,
        }
    }
}

impl Harness {
    /// Against the machine's broker ([`BROKER_URL`]).
    pub async fn new(tenant: &str, sim_config: SimConfig, options: Options) -> Self {
        Self::with_urls(tenant, sim_config, options, vec![BROKER_URL.into()]).await
    }

    /// Against the broker nodes at `urls` (written as `broker.urls` when there are several);
    /// the harness's own connections use them too.
    pub async fn with_urls(
        tenant: &str,
        sim_config: SimConfig,
        options: Options,
        urls: Vec<String>,
    ) -> Self {
        assert!(!urls.is_empty(), "at least one broker URL");
        let sim = fixtures::start(sim_config).await.unwrap();
        let prefix = simulator::random_prefix("proc");
        let dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&dir).unwrap();
        let config = write_config(&dir, &prefix, tenant, &sim.base_url(), &options, &urls);
        let h = Self {
            log: dir.join("worker.log"),
            dir,
            config,
            names: Names::new(&prefix),
            sim,
            tenant: tenant.into(),
            urls,
        };
        let (conn, publisher) = h.connect().await;
        h.topology().declare(publisher.channel()).await.unwrap();
        let _ = conn.close(200, "ok".into()).await;
        h
    }

    /// A fresh connection and confirm channel (retried while the broker comes back).
    pub async fn connect(&self) -> (lapin::Connection, Publisher) {
        let settings = BrokerSettings {
            url: self.urls[0].clone(),
            other_urls: self.urls[1..].to_vec(),
            prefix: self.names.exchange(),
            ..BrokerSettings::default()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(conn) = broker::connect(&settings, "scriptsync test harness").await
                && let Ok(publisher) = Publisher::open(&conn, Duration::from_secs(10)).await
            {
                return (conn, publisher);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "cannot reach RabbitMQ"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The worker's AMQP connection name (as `list_connections` shows it).
    pub fn worker_connection_name(&self) -> String {
        format!("scriptsync worker {}", self.names.exchange())
    }

    pub fn topology(&self) -> Topology<'_> {
        Topology::new(
            &self.names,
            &BrokerSettings::default(),
            [self.tenant.clone()],
        )
    }

    /// Starts `scriptsync run`; its logs go to `self.log` (a pipe nobody reads would stall it).
    pub fn spawn_worker(&self) -> KillOnDrop {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_scriptsync"))
                .args(["run", "--config"])
                .arg(&self.config)
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("worker starts"),
        )
    }

    /// The admin address the worker logged at start.
    pub async fn admin_addr(&self) -> String {
        let marker = "\"admin\":\"";
        let mut found = None;
        eventually("the worker logs its admin address", || {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            found = text.rfind(marker).map(|i| {
                let rest = &text[i + marker.len()..];
                rest[..rest.find('"').unwrap()].to_string()
            });
            let ok = found.is_some();
            async move { ok }
        })
        .await;
        found.unwrap()
    }
    /// SIGTERMs the worker (it must exit 0), deletes the queues, stops the simulator and
    /// removes the temporary folder.
    pub async fn stop_and_clean(self, mut worker: KillOnDrop) {
        signal(&worker.0, "TERM");
        let status = wait_exit(&mut worker.0).await;
        assert!(status.success(), "worker exit after SIGTERM: {status:?}");
        self.clean().await;
    }

    /// Deletes the queues, stops the simulator and removes the temporary folder (the worker
    /// has exited).
    pub async fn clean(self) {
        let (conn, publisher) = self.connect().await;
        let _ = self.topology().delete(publisher.channel()).await;
        let _ = conn.close(200, "done".into()).await;
        self.sim.shutdown();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
