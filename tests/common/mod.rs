//! Test helper: spawns the real worker against the local RabbitMQ (random prefix) and the
//! simulator (port 0), publishes changes, waits by polling with a deadline, and cleans up.
#![allow(dead_code)]

pub mod cluster;
pub mod process;
pub mod tenant_dir;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection};
use scriptsync::app::Application;
use scriptsync::broker::{self, Names, Publisher, Topology};
use scriptsync::change::ScriptChange;
use scriptsync::config::Settings;
use scriptsync::demo::setup;
use scriptsync::status::{StatusBoard, TenantState};
use scriptsync_sim::fixtures::{self, SIM_DATATABLE, SIM_SECRET, SIM_STAGING_TABLE};
use scriptsync_sim::{SimConfig, SimHandle, SimState};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const BROKER_URL: &str = "amqp://127.0.0.1:5672/%2f";
/// Upper bound for any wait in a test; generous because the machine is shared.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub struct TestApp {
    pub sim: SimHandle,
    pub settings: Settings,
    /// The worker's status board (typed state; what `/status` reads).
    pub board: Arc<StatusBoard>,
    pub names: Names,
    pub conn: Connection,
    pub publisher: Publisher,
    stop: CancellationToken,
    worker: Option<JoinHandle<anyhow::Result<()>>>,
    /// The admin endpoints' address, when `admin.listen` asked for port 0.
    pub admin: Option<std::net::SocketAddr>,
    /// The worker's AMQP connection name (unique per prefix).
    pub connection_name: String,
    /// Every tenant the worker knows (changes with a `tenants_dir`).
    pub tenant_set: Arc<scriptsync::tenants::TenantSet>,
    /// Every tenant the set has held while the test ran (removed ones too): their queues are
    /// deleted at [`TestApp::stop`], so no test leaves quorum queues on the shared broker.
    seen_tenants: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
}

/// Whether the tests that stop or restart broker nodes (`broker_faults` stops the local
/// broker's app; `broker_cluster` runs nodes of its own) may run here: only when asked with
/// `SCRIPTSYNC_BROKER_NODE_TESTS=1` (`.ci/run` sets it; a plain `cargo test` must not stop a
/// broker someone uses for other work), and only where `rabbitmqctl` can reach the local
/// node (not with a broker in a container). Otherwise says why on stderr and skips.
pub fn broker_node_tests_allowed(what: &str) -> bool {
    use std::io::Write;
    let why = if std::env::var("SCRIPTSYNC_BROKER_NODE_TESTS").as_deref() != Ok("1") {
        "they stop broker nodes; set SCRIPTSYNC_BROKER_NODE_TESTS=1 to run them (.ci/run does)"
    } else if !std::process::Command::new("rabbitmqctl")
        .args(["-q", "status"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        "rabbitmqctl cannot reach a local node (a broker in a container?)"
    } else {
        return true;
    };
    // Straight to the process's stderr: libtest captures `eprintln!` of passing tests.
    let _ = writeln!(std::io::stderr(), "SKIPPED {what}: {why}");
    false
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
    let sim = fixtures::start(sim_config).await.expect("simulator starts");
    let prefix = setup::random_prefix("test");
    let ids: Vec<String> = tenants.iter().map(|t| t.to_string()).collect();
    let mut settings = setup::sim_settings(BROKER_URL, &prefix, &sim.base_url(), &ids);
    settings.batch.linger = Duration::from_millis(50);
    settings.retry.max_elapsed = Duration::from_secs(20);
    tweak(&mut settings);
    settings.validate().expect("test settings are valid");
    let mut app = Application::build(settings.clone()).expect("app builds");
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

/// A valid change for `tenant`/`script` at `version`.
pub fn change(tenant: &str, script: &str, version: u64) -> ScriptChange {
    let id = format!(
        "{tenant}-{script}-v{version}-{}",
        uuid::Uuid::new_v4().simple()
    );
    ScriptChange::builder(id, tenant, script, version, format!("hash-{version}"))
        .published_at("2026-11-27T10:00:00Z")
        .disclaimer(format!("Disclaimer v{version}"))
        .build()
        .unwrap_or_else(|e| panic!("test change {tenant}/{script} v{version}: {e}"))
}

/// Polls `cond` every 50 ms until it holds or [`DEADLINE`] passes (then panics with `what`).
pub async fn eventually<F, Fut>(what: &str, cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    within(what, DEADLINE, cond).await
}

/// [`eventually`] with a deadline of the caller's (`limit`), for waits longer than the usual
/// one: an outage, a server's pause.
pub async fn within<F, Fut>(what: &str, limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the `scriptsync` binary with `args` and returns (exit code, stdout, stderr).
pub async fn run_cli(args: &[&str]) -> (i32, String, String) {
    run_cli_with_stdin(args, b"").await
}

/// Like [`run_cli`], with `stdin` as the command's standard input.
pub async fn run_cli_with_stdin(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_scriptsync"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("scriptsync starts");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    // Written beside the wait: a large input must not block on a full pipe.
    let writer = tokio::spawn(async move {
        let _ = input.write_all(&stdin).await;
    });
    let out = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("scriptsync {args:?} finishes"))
        .unwrap();
    let _ = writer.await;
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A message read from the DLQ.
pub struct DeadLetterCopy {
    pub body: Vec<u8>,
    pub headers: FieldTable,
}

impl DeadLetterCopy {
    pub fn header(&self, name: &str) -> Option<String> {
        match self.headers.inner().get(name)? {
            AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
            AMQPValue::LongLongInt(i) => Some(i.to_string()),
            other => Some(format!("{other:?}")),
        }
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
}

// ---- DLQ tool helpers (tests/dlq_*.rs) -------------------------------------------------

/// One DLQ message as seen by [`TestApp::peek_dlq`]: body and headers, broker-added
/// `x-delivery-count` left out so two peeks compare equal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PeekedLetter {
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl TestApp {
    /// Every message now in `queue`, read without removing any: taken unacked with
    /// `basic.get`, then returned by closing the channel. Sorted, for comparisons.
    pub async fn peek_queue(&self, queue: &str) -> Vec<PeekedLetter> {
        let n = self.depth(queue).await;
        let ch = self.conn.create_channel().await.unwrap();
        let mut out = Vec::new();
        for _ in 0..n {
            let Some(msg) = ch
                .basic_get(queue.into(), BasicGetOptions::default())
                .await
                .unwrap()
            else {
                break;
            };
            let headers = msg
                .delivery
                .properties
                .headers()
                .clone()
                .unwrap_or_default();
            let headers = headers
                .inner()
                .iter()
                .filter(|(k, _)| k.as_str() != "x-delivery-count")
                .map(|(k, v)| (k.to_string(), format!("{v:?}")))
                .collect();
            out.push(PeekedLetter {
                body: msg.delivery.data.clone(),
                headers,
            });
        }
        let _ = ch.close(200, "peek done".into()).await;
        // The broker returns them a moment after the close.
        eventually(
            &format!("{queue} holds its {n} peeked messages again"),
            || async { self.depth(queue).await >= n },
        )
        .await;
        out.sort();
        out
    }

    pub async fn peek_dlq(&self) -> Vec<PeekedLetter> {
        self.peek_queue(&self.names.dlq()).await
    }

    /// Publishes `body` straight into the DLQ with `headers` (string values) and a message id.
    pub async fn put_dead_letter(&self, body: &[u8], headers: &[(&str, String)], message_id: &str) {
        let mut table = FieldTable::default();
        for (k, v) in headers {
            table.insert((*k).into(), AMQPValue::LongString(v.as_str().into()));
        }
        let props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_message_id(message_id.into())
            .with_headers(table);
        self.publisher
            .publish(&self.names.dlx(), "dlq", body, props, true)
            .await
            .expect("dead letter confirmed");
    }

    /// Declares a classic queue bound to the main exchange with `key` and no consumer, so
    /// replayed messages for `key` stay countable. Deleted by [`TestApp::delete_queue`].
    pub async fn bind_parking_queue(&self, key: &str) -> String {
        let name = format!("{}.park.{key}", self.names.exchange());
        self.bind_queue(&name, key).await;
        name
    }

    /// Declares the classic queue `name` bound to the main exchange with `key`.
    pub async fn bind_queue(&self, name: &str, key: &str) {
        let ch = self.publisher.channel();
        ch.queue_declare(
            name.into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        ch.queue_bind(
            name.into(),
            self.names.exchange().into(),
            key.into(),
            Default::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    }

    pub async fn delete_queue(&self, name: &str) {
        let _ = self
            .publisher
            .channel()
            .queue_delete(name.into(), Default::default())
            .await;
    }

    /// Takes (and acks) every message of `queue`; returns their bodies.
    pub async fn drain_queue(&self, queue: &str) -> Vec<Vec<u8>> {
        let ch = self.conn.create_channel().await.unwrap();
        let mut out = Vec::new();
        while let Some(msg) = ch
            .basic_get(queue.into(), BasicGetOptions::default())
            .await
            .unwrap()
        {
            out.push(msg.delivery.data.clone());
            msg.delivery.ack(BasicAckOptions::default()).await.unwrap();
        }
        let _ = ch.close(200, "ok".into()).await;
        out
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

// ---- Observability helpers (tests/integration/observability.rs) ------------------------------------

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

/// A child process that is killed if the test ends (or panics) before it is reaped, so a
/// failed test never leaves a worker running.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
