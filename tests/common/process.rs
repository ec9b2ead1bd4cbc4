//! A harness for tests that run the worker as a real process (`scriptsync run`): writes a
//! config for one tenant on the simulator, publishes changes, watches the simulator and the
//! queues (each check opens its own broker connection, so it survives broker faults), and
//! signals or reaps the worker.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lapin::BasicProperties;
use scriptsync::broker::{self, Names, Publisher, Topology};
use scriptsync::config::BrokerSettings;
use scriptsync::config::simulator;
use scriptsync_sim::{SimConfig, SimHandle, fixtures};

use super::{BROKER_URL, KillOnDrop, change, eventually};

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

fn write_config(
    dir: &Path,
    prefix: &str,
    tenant: &str,
    sim_url: &str,
    o: &Options,
    urls: &[String],
) -> PathBuf {
    let secret = dir.join("secret");
    std::fs::write(&secret, "proc-test-secret\n").unwrap();
    let secret = secret.display();
    // One address as `url` (the machine's broker), several as `urls` (a cluster's nodes).
    let address = match urls {
        [one] => format!("url = {one:?}"),
        many => format!("urls = {many:?}"),
    };
    let text = format!(
        r#"[broker]
{address}
prefix = "{prefix}"
prefetch = {prefetch}
{consumer_timeout}[batch]
max_changes = {max_changes}
linger = "50ms"
[shutdown]
drain_timeout = "15s"
[admin]
listen = "127.0.0.1:0"
[replica]
heartbeat = "100ms"
[[tenants]]
id = "{tenant}"
[tenants.genesys]
api_base = "{sim_url}"
login_base = "{sim_url}"
client_id = "{tenant}"
client_secret_file = "{secret}"
datatable_id = "t"
requests_per_minute = {rpm}
max_concurrency = {conc}
[tenants.servicenow]
instance_url = "{sim_url}"
auth = "oauth_client_credentials"
client_id = "{tenant}"
client_secret_file = "{secret}"
staging_table = "u_scriptsync_import"
max_concurrency = {conc}
"#,
        prefetch = o.prefetch,
        max_changes = o.max_changes,
        rpm = o.requests_per_minute,
        conc = o.max_concurrency,
        consumer_timeout = o.consumer_timeout.map_or(String::new(), |t| format!(
            "consumer_timeout = \"{}ms\"\n",
            t.as_millis()
        )),
    );
    let path = dir.join("scriptsync.toml");
    std::fs::write(&path, text).unwrap();
    path
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

    /// Publishes one change, `script` at `version`, as a new message (own connection).
    pub async fn publish_one(&self, script: &str, version: u64) {
        let (conn, publisher) = self.connect().await;
        let body = serde_json::to_vec(&change(&self.tenant, script, version)).unwrap();
        let props = BasicProperties::default().with_content_type("application/json".into());
        publisher
            .publish(&self.names.exchange(), &self.tenant, &body, props, false)
            .await
            .unwrap();
        let _ = conn.close(200, "ok".into()).await;
    }

    /// Publishes `scripts` × `versions` changes, versions rising per script, in batches
    /// of confirms.
    pub async fn publish_all(&self, scripts: u64, versions: u64) {
        let (conn, publisher) = self.connect().await;
        let exchange = self.names.exchange();
        let mut pending = Vec::new();
        for v in 1..=versions {
            for s in 0..scripts {
                let body = serde_json::to_vec(&change(&self.tenant, &format!("s{s}"), v)).unwrap();
                let (publisher, exchange, tenant) =
                    (publisher.clone(), exchange.clone(), self.tenant.clone());
                pending.push(async move {
                    let props =
                        BasicProperties::default().with_content_type("application/json".into());
                    publisher
                        .publish(&exchange, &tenant, &body, props, false)
                        .await
                        .unwrap();
                });
                if pending.len() == 500 {
                    futures::future::join_all(pending.drain(..)).await;
                }
            }
        }
        futures::future::join_all(pending).await;
        let _ = conn.close(200, "ok".into()).await;
    }

    /// Starts the worker, publishes `scripts` × `versions` changes and returns once pushes
    /// are in flight (a few Genesys writes done): the moment the fault tests strike.
    pub async fn spawn_mid_flight(&self, scripts: u64, versions: u64) -> KillOnDrop {
        let worker = self.spawn_worker();
        self.publish_all(scripts, versions).await;
        eventually("some pushes in flight", || async {
            self.genesys_writes() >= 5
        })
        .await;
        worker
    }

    pub fn genesys_writes(&self) -> u64 {
        self.sim.state().tenant(&self.tenant).genesys.writes
    }

    /// True when both targets hold version `versions` of every script.
    pub fn all_newest(&self, scripts: u64, versions: u64) -> bool {
        let state = self.sim.state();
        let t = state.tenant(&self.tenant);
        (0..scripts).all(|s| {
            let key = format!("s{s}");
            t.genesys.held.get(&key).map(|h| h.version) == Some(versions)
                && t.servicenow.held.get(&key).map(|h| h.version) == Some(versions)
        })
    }

    /// Ready messages in `queue` (own connection).
    pub async fn depth(&self, queue: &str) -> u32 {
        let (conn, publisher) = self.connect().await;
        let opts = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let q = publisher
            .channel()
            .queue_declare(queue.into(), opts, Default::default())
            .await
            .unwrap();
        let _ = conn.close(200, "ok".into()).await;
        q.message_count()
    }

    /// Waits until everything is delivered, the queue is empty, nothing was dead-lettered
    /// and nothing older overwrote anything newer; then stops `worker` with SIGTERM (exit 0
    /// required) and cleans up.
    pub async fn finish(self, worker: KillOnDrop, scripts: u64, versions: u64) {
        eventually(
            "every script at its newest version on both targets",
            || async { self.all_newest(scripts, versions) },
        )
        .await;
        let queue = self.names.tenant_queue(&self.tenant);
        eventually("tenant queue drained", || async {
            self.depth(&queue).await == 0
        })
        .await;
        assert_eq!(
            self.depth(&self.names.dlq()).await,
            0,
            "nothing dead-lettered"
        );
        let state = self.sim.state();
        assert_eq!(
            state.tenant(&self.tenant).genesys.older_writes,
            0,
            "no older version over a newer one at Genesys"
        );
        assert_eq!(state.total_violations(), 0);
        self.stop_and_clean(worker).await;
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

/// The worker's `/readyz` status, or `None` when it does not answer within 2 s.
pub async fn readyz(admin: &str) -> Option<u16> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    client
        .get(format!("http://{admin}/readyz"))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success(), "kill -{sig}");
}

pub async fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "worker did not exit within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Peak resident memory of a process, from /proc (kB).
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
