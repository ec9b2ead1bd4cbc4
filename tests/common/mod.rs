//! Test helper: spawns the real worker against the local RabbitMQ (random prefix) and the
//! simulator (port 0), publishes changes, waits by polling with a deadline, and cleans up.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection};
use scriptsync::app::Application;
use scriptsync::broker::{self, Names, Publisher, Topology};
use scriptsync::change::{SCHEMA_V1, ScriptChange};
use scriptsync::config::Settings;
use scriptsync::demo::setup;
use scriptsync::metrics::Metrics;
use scriptsync::sim::{SimConfig, SimHandle, SimState, Simulator};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const BROKER_URL: &str = "amqp://127.0.0.1:5672/%2f";
/// Upper bound for any wait in a test; generous because the machine is shared.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub struct TestApp {
    pub sim: SimHandle,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    pub names: Names,
    pub conn: Connection,
    pub publisher: Publisher,
    stop: CancellationToken,
    worker: Option<JoinHandle<anyhow::Result<()>>>,
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
    let sim = Simulator::start(sim_config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts");
    let prefix = setup::random_prefix("test");
    let ids: Vec<String> = tenants.iter().map(|t| t.to_string()).collect();
    let mut settings = setup::sim_settings(BROKER_URL, &prefix, &sim.base_url(), &ids);
    settings.batch.linger = Duration::from_millis(50);
    settings.retry.max_elapsed = Duration::from_secs(20);
    tweak(&mut settings);
    settings.validate().expect("test settings are valid");
    let app = Application::build(settings.clone()).expect("app builds");
    let metrics = app.metrics();
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
        metrics,
        conn,
        publisher,
        stop,
        worker: Some(worker),
    }
}

/// A valid change for `tenant`/`script` at `version`.
pub fn change(tenant: &str, script: &str, version: u64) -> ScriptChange {
    ScriptChange {
        schema: SCHEMA_V1.into(),
        id: format!(
            "{tenant}-{script}-v{version}-{}",
            uuid::Uuid::new_v4().simple()
        ),
        tenant: tenant.into(),
        script_id: script.into(),
        version,
        version_hash: format!("hash-{version}"),
        published_at: "2026-11-27T10:00:00Z".into(),
        disclaimer: Some(format!("Disclaimer v{version}")),
        campaign_id: None,
        genesys_version_id: None,
        attributes: None,
        targets: None,
    }
}

/// Polls `cond` every 50 ms until it holds or [`DEADLINE`] passes (then panics with `what`).
pub async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
        self.publish_raw(&change.tenant, &body).await;
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
        scriptsync::demo::view::settled(&self.metrics, tenant)
    }

    pub async fn wait_settled(&self, tenant: &str, n: u64) {
        eventually(&format!("{n} deliveries of {tenant} settled"), || async {
            self.settled(tenant) >= n
        })
        .await;
    }

    pub fn counter(&self, family: &str, labels: &[(&str, &str)]) -> f64 {
        self.metrics.counter_sum(family, labels)
    }

    /// Ready messages in `queue`.
    pub async fn depth(&self, queue: &str) -> u32 {
        let ch = self.conn.create_channel().await.unwrap();
        let opts = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let q = ch
            .queue_declare(queue.into(), opts, FieldTable::default())
            .await
            .unwrap();
        let _ = ch.close(200, "ok".into()).await;
        q.message_count()
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
        let topology = Topology {
            names: &self.names,
            queue_type: self.settings.broker.queue_type,
            dlq_queue_type: self.settings.broker.dlq_queue_type,
            tenants: self.settings.tenants.iter().map(|t| t.id.clone()).collect(),
        };
        let _ = topology.delete(self.publisher.channel()).await;
        let _ = self.conn.close(200, "test done".into()).await;
        self.sim.shutdown();
    }
}
