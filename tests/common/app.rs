//! [`TestApp`]: the real worker in this process against the local RabbitMQ (a random name
//! prefix) and the simulator (port 0), with what tests do to it: publish, wait, read the
//! simulator's and the broker's state, stop and clean up.

use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection};
use scriptsync::app::Application;
use scriptsync::broker::{self, Names, Publisher, Topology};
use scriptsync::change::ScriptChange;
use scriptsync::config::Settings;
use scriptsync::config::simulator;
use scriptsync::status::{StatusBoard, TenantState};
use scriptsync::targets::TargetLayer;
use scriptsync_sim::fixtures::{self, SIM_DATATABLE, SIM_SECRET, SIM_STAGING_TABLE};
use scriptsync_sim::{SimConfig, SimHandle, SimState};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{BROKER_URL, DeadLetterCopy, eventually};

pub struct TestApp {
    pub sim: SimHandle,
    pub settings: Settings,
    /// The worker's status board (typed state; what `/status` reads).
    pub board: Arc<StatusBoard>,
    pub names: Names,
    pub conn: Connection,
    pub publisher: Publisher,
    pub(crate) stop: CancellationToken,
    pub(crate) worker: Option<JoinHandle<anyhow::Result<()>>>,
    /// The admin endpoints' address, when `admin.listen` asked for port 0.
    pub admin: Option<std::net::SocketAddr>,
    /// The worker's AMQP connection name (unique per prefix).
    pub connection_name: String,
    /// Every tenant the worker knows (changes with a `tenants_dir`).
    pub tenant_set: Arc<scriptsync::tenants::TenantSet>,
    /// Every tenant the set has held while the test ran (removed ones too): their queues are
    /// deleted at [`TestApp::stop`], so no test leaves quorum queues on the shared broker.
    pub(crate) seen_tenants: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
}

/// Starts the simulator and the worker for `tenants`; `tweak` adjusts the settings.
pub async fn spawn_app(tenants: &[&str], tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with_sim(tenants, SimConfig::default(), tweak).await
}

pub async fn spawn_app_with_sim(
    tenants: &[&str],
    sim_config: SimConfig,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn_app_layered(tenants, sim_config, None, tweak).await
}

/// Like [`spawn_app_with_sim`], with every target the worker builds wrapped by `layer` (how
/// tests inject faults into a target).
pub async fn spawn_app_layered(
    tenants: &[&str],
    sim_config: SimConfig,
    layer: Option<TargetLayer>,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    let sim = fixtures::start(sim_config).await.expect("simulator starts");
    let prefix = simulator::random_prefix("test");
    let ids: Vec<String> = tenants.iter().map(|t| t.to_string()).collect();
    let mut settings = simulator::sim_settings(BROKER_URL, &prefix, &sim.base_url(), &ids);
    settings.batch.linger = Duration::from_millis(50);
    settings.retry.max_elapsed = Duration::from_secs(20);
    tweak(&mut settings);
    settings.validate().expect("test settings are valid");
    let mut app = Application::build_with_layer(settings.clone(), layer).expect("app builds");
    let admin = (settings.admin.listen.port() == 0).then(|| app.bind_admin().expect("admin binds"));
    let connection_name = app.connection_name();
    let board = app.board();
    let tenant_set = app.tenant_set();
    let seen_tenants = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    {
        let (seen, set) = (seen_tenants.clone(), tenant_set.clone());
        let mut changes = set.subscribe();
        tokio::spawn(async move {
            loop {
                seen.lock().unwrap().extend(set.snapshot().into_keys());
                if changes.changed().await.is_err() {
                    break;
                }
            }
        });
    }
    let conn = broker::connect(&settings.broker, "scriptsync test")
        .await
        .expect("RabbitMQ on 127.0.0.1:5672");
    let publisher = Publisher::open(&conn, Duration::from_secs(10))
        .await
        .unwrap();
    app.topology().declare(publisher.channel()).await.unwrap();
    let stop = CancellationToken::new();
    let worker = tokio::spawn(app.run_until(stop.clone()));
    TestApp {
        sim,
        names: Names::new(&settings.broker.prefix),
        settings,
        board,
        conn,
        publisher,
        stop,
        worker: Some(worker),
        admin,
        connection_name,
        tenant_set,
        seen_tenants,
    }
}

impl TestApp {
    pub async fn publish(&self, change: &ScriptChange) {
        let body = serde_json::to_vec(change).unwrap();
        self.publish_raw(change.tenant(), &body).await;
    }

    pub async fn publish_raw(&self, routing_key: &str, body: &[u8]) {
        let props = BasicProperties::default().with_content_type("application/json".into());
        self.publisher
            .publish(&self.names.exchange(), routing_key, body, props, false)
            .await
            .expect("publish confirmed");
    }

    pub fn sim_state(&self) -> SimState {
        self.sim.state()
    }

    /// Deliveries of `tenant` settled (acked or dead-lettered) so far.
    pub fn settled(&self, tenant: &str) -> u64 {
        self.board.tenant(tenant).settled
    }

    pub async fn wait_settled(&self, tenant: &str, n: u64) {
        eventually(&format!("{n} deliveries of {tenant} settled"), || async {
            self.settled(tenant) >= n
        })
        .await;
    }

    /// `tenant`'s state on the status board now.
    pub fn status(&self, tenant: &str) -> TenantState {
        self.board.tenant(tenant)
    }

    /// Ready messages in `queue`.
    pub async fn depth(&self, queue: &str) -> u32 {
        self.queue_counts(queue).await.expect("the queue exists").0
    }

    /// Consumers on `queue` now (`None` while the queue does not exist).
    pub async fn consumers(&self, queue: &str) -> Option<u32> {
        self.queue_counts(queue)
            .await
            .map(|(_, consumers)| consumers)
    }

    /// (ready messages, consumers) of `queue`, by a passive declare on a channel of its own
    /// (`None` when the queue does not exist, which closes that channel).
    async fn queue_counts(&self, queue: &str) -> Option<(u32, u32)> {
        let ch = self.conn.create_channel().await.unwrap();
        let opts = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let q = ch
            .queue_declare(queue.into(), opts, FieldTable::default())
            .await
            .ok()?;
        let _ = ch.close(200, "ok".into()).await;
        Some((q.message_count(), q.consumer_count()))
    }

    /// Takes (and acks) every message now in the DLQ.
    pub async fn drain_dlq(&self) -> Vec<DeadLetterCopy> {
        let ch = self.conn.create_channel().await.unwrap();
        let mut out = Vec::new();
        while let Some(msg) = ch
            .basic_get(self.names.dlq().into(), BasicGetOptions::default())
            .await
            .unwrap()
        {
            let headers = msg
                .delivery
                .properties
                .headers()
                .clone()
                .unwrap_or_default();
            out.push(DeadLetterCopy {
                body: msg.delivery.data.clone(),
                headers,
            });
            msg.delivery.ack(BasicAckOptions::default()).await.unwrap();
        }
        let _ = ch.close(200, "ok".into()).await;
        out
    }

    /// Waits until the DLQ holds `n` messages.
    pub async fn wait_dlq(&self, n: u32) {
        let q = self.names.dlq();
        eventually(&format!("{n} messages in the DLQ"), || async {
            self.depth(&q).await >= n
        })
        .await;
    }

    /// Stops the worker, deletes the test's queues and stops the simulator.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(w) = self.worker.take() {
            let _ = w.await;
        }
        let mut tenants: Vec<String> = self.settings.tenants.iter().map(|t| t.id.clone()).collect();
        tenants.extend(self.tenant_set.snapshot().into_keys());
        tenants.extend(self.seen_tenants.lock().unwrap().iter().cloned());
        tenants.sort();
        tenants.dedup();
        let topology = Topology::new(&self.names, &self.settings.broker, tenants);
        let _ = topology.delete(self.publisher.channel()).await;
        let _ = self.conn.close(200, "test done".into()).await;
        self.sim.shutdown();
    }

    /// Writes a config file for the `scriptsync` binary: this test's prefix, its tenants on
    /// the simulator, client secrets in files. Returns the path (in a fresh temp dir).
    pub fn write_config(&self) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("scriptsync-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("client-secret");
        std::fs::write(&secret, format!("{SIM_SECRET}\n")).unwrap();
        let base = self.sim.base_url();
        let mut toml = format!(
            "[broker]\nurl = \"{BROKER_URL}\"\nprefix = \"{}\"\n",
            self.settings.broker.prefix
        );
        for t in &self.settings.tenants {
            toml.push_str(&format!(
                "\n[[tenants]]\nid = \"{id}\"\n\n[tenants.genesys]\napi_base = \"{base}\"\nlogin_base = \"{base}\"\nclient_id = \"{id}\"\nclient_secret_file = \"{secret}\"\ndatatable_id = \"{table}\"\n\n[tenants.servicenow]\ninstance_url = \"{base}\"\nauth = \"oauth_client_credentials\"\nclient_id = \"{id}\"\nclient_secret_file = \"{secret}\"\nstaging_table = \"{staging}\"\n",
                id = t.id,
                secret = secret.display(),
                table = SIM_DATATABLE,
                staging = SIM_STAGING_TABLE,
            ));
        }
        let path = dir.join("scriptsync.toml");
        std::fs::write(&path, toml).unwrap();
        path
    }
}

/// Like [`spawn_app_with_sim`], with the admin endpoints on a free loopback port
/// ([`TestApp::admin`]).
pub async fn spawn_app_with_admin(
    tenants: &[&str],
    sim_config: SimConfig,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn_app_with_sim(tenants, sim_config, |s| {
        s.admin.listen = "127.0.0.1:0".parse().unwrap();
        tweak(s);
    })
    .await
}

impl TestApp {
    /// Waits until `queue` holds exactly `n` ready messages (messages a closed channel left
    /// unacked are returned by the broker asynchronously, a moment after the close).
    pub async fn wait_depth(&self, queue: &str, n: u32) {
        eventually(&format!("{queue} holds exactly {n}"), || async {
            self.depth(queue).await == n
        })
        .await;
    }
}
