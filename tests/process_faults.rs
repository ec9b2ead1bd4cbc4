//! The worker as a process: SIGTERM mid-flight drains and exits 0; SIGKILL mid-flight loses
//! nothing. Each ends with every change delivered at its newest version (or in the DLQ with
//! a reason), nothing lost and no older version written over a newer one.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{BROKER_URL, change, eventually};
use lapin::BasicProperties;
use scriptsync::broker::{self, Names, Publisher, Topology};
use scriptsync::config::{BrokerSettings, QueueType};
use scriptsync::demo::setup;
use scriptsync::sim::{Faults, SimConfig, SimHandle, SimTarget, Simulator};

const TENANT: &str = "proc";
const SCRIPTS: u64 = 30;
const VERSIONS: u64 = 8;

struct Harness {
    dir: PathBuf,
    config: PathBuf,
    names: Names,
    sim: SimHandle,
    conn: lapin::Connection,
    publisher: Publisher,
}

fn write_config(dir: &Path, prefix: &str, sim_url: &str) -> PathBuf {
    let secret = dir.join("secret");
    std::fs::write(&secret, "proc-test-secret\n").unwrap();
    let secret = secret.display();
    let text = format!(
        r#"[broker]
url = "{BROKER_URL}"
prefix = "{prefix}"
prefetch = 100
[batch]
max_changes = 10
linger = "50ms"
[shutdown]
drain_timeout = "15s"
[admin]
listen = "127.0.0.1:0"
[[tenants]]
id = "{TENANT}"
[tenants.genesys]
api_base = "{sim_url}"
login_base = "{sim_url}"
client_id = "{TENANT}"
client_secret_file = "{secret}"
datatable_id = "t"
requests_per_minute = 6000
[tenants.servicenow]
instance_url = "{sim_url}"
auth = "oauth_client_credentials"
client_id = "{TENANT}"
client_secret_file = "{secret}"
staging_table = "u_scriptsync_import"
"#
    );
    let path = dir.join("scriptsync.toml");
    std::fs::write(&path, text).unwrap();
    path
}

impl Harness {
    async fn new() -> Self {
        let sim_config = SimConfig {
            genesys_requests_per_minute: 100_000,
            ..SimConfig::default()
        };
        let sim = Simulator::start(sim_config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        // Slow Genesys down so a signal lands while pushes are in flight.
        let slow = Faults {
            latency: Duration::from_millis(150),
            ..Faults::default()
        };
        sim.set_faults(Some(TENANT), SimTarget::Genesys, slow);
        let prefix = setup::random_prefix("proc");
        let dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&dir).unwrap();
        let config = write_config(&dir, &prefix, &sim.base_url());
        let broker_settings = BrokerSettings {
            url: BROKER_URL.into(),
            prefix: prefix.clone(),
            ..BrokerSettings::default()
        };
        let conn = broker::connect(&broker_settings, "scriptsync process test")
            .await
            .unwrap();
        let publisher = Publisher::open(&conn, Duration::from_secs(10))
            .await
            .unwrap();
        let names = Names::new(&prefix);
        let h = Self {
            dir,
            config,
            names,
            sim,
            conn,
            publisher,
        };
        h.topology().declare(h.publisher.channel()).await.unwrap();
        h
    }

    fn topology(&self) -> Topology<'_> {
        Topology {
            names: &self.names,
            queue_type: QueueType::Quorum,
            dlq_queue_type: QueueType::Quorum,
            tenants: vec![TENANT.into()],
        }
    }

    fn spawn_worker(&self) -> common::KillOnDrop {
        common::KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_scriptsync"))
                .args(["run", "--config"])
                .arg(&self.config)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("worker starts"),
        )
    }

    /// Publishes SCRIPTS × VERSIONS changes, versions rising per script.
    async fn publish_all(&self) {
        for v in 1..=VERSIONS {
            for s in 0..SCRIPTS {
                let body = serde_json::to_vec(&change(TENANT, &format!("s{s}"), v)).unwrap();
                let props = BasicProperties::default().with_content_type("application/json".into());
                self.publisher
                    .publish(&self.names.exchange(), TENANT, &body, props, false)
                    .await
                    .unwrap();
            }
        }
    }

    fn genesys_writes(&self) -> u64 {
        self.sim.state().tenant(TENANT).genesys.writes
    }

    fn all_newest(&self) -> bool {
        let state = self.sim.state();
        let t = state.tenant(TENANT);
        (0..SCRIPTS).all(|s| {
            let key = format!("s{s}");
            t.genesys.held.get(&key).map(|h| h.version) == Some(VERSIONS)
                && t.servicenow.held.get(&key).map(|h| h.version) == Some(VERSIONS)
        })
    }

    async fn depth(&self, queue: &str) -> u32 {
        let ch = self.conn.create_channel().await.unwrap();
        let opts = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let q = ch
            .queue_declare(queue.into(), opts, Default::default())
            .await
            .unwrap();
        let _ = ch.close(200, "ok".into()).await;
        q.message_count()
    }

    /// Waits until everything is delivered, the queue is empty and nothing older overwrote
    /// anything newer; then stops `worker` with SIGTERM and cleans up.
    async fn finish(self, mut worker: common::KillOnDrop) {
        eventually(
            "every script at its newest version on both targets",
            || async { self.all_newest() },
        )
        .await;
        let queue = self.names.tenant_queue(TENANT);
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
            state.tenant(TENANT).genesys.older_writes,
            0,
            "no older version over a newer one at Genesys"
        );
        assert_eq!(state.total_violations(), 0);
        signal(&worker.0, "TERM");
        let status = wait_exit(&mut worker.0).await;
        assert!(status.success(), "worker exit after SIGTERM: {status:?}");
        let _ = self.topology().delete(self.publisher.channel()).await;
        let _ = self.conn.close(200, "done".into()).await;
        self.sim.shutdown();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success(), "kill -{sig}");
}

async fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("worker did not exit within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_flight_drains_exits_zero_and_a_restart_delivers_the_rest() {
    let h = Harness::new().await;
    let mut worker = h.spawn_worker();
    h.publish_all().await;
    eventually("some pushes in flight", || async {
        h.genesys_writes() >= 5
    })
    .await;
    signal(&worker.0, "TERM");
    let status = wait_exit(&mut worker.0).await;
    assert!(status.success(), "exit after SIGTERM: {status:?}");
    let left = h.depth(&h.names.tenant_queue(TENANT)).await;
    println!(
        "after SIGTERM: {} Genesys writes, {left} messages back in the queue",
        h.genesys_writes()
    );
    let worker = h.spawn_worker();
    h.finish(worker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_flight_loses_nothing() {
    let h = Harness::new().await;
    let mut worker = h.spawn_worker();
    h.publish_all().await;
    eventually("some pushes in flight", || async {
        h.genesys_writes() >= 5
    })
    .await;
    signal(&worker.0, "KILL");
    let _ = wait_exit(&mut worker.0).await;
    println!("after SIGKILL: {} Genesys writes", h.genesys_writes());
    let worker = h.spawn_worker();
    h.finish(worker).await;
}
