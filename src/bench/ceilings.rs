//! Scenario A, the ceilings the throughput rows are divided by, measured in the same run:
//! (a) the broker alone: the same topology, message size and quorum queues as B, published
//! with confirms while 20 consumers (the worker's prefetch) ack every message, no processing;
//! (b) HTTP alone: a worker-like reqwest client against the simulator, no broker, doing per
//! change what the design says a change costs (one Genesys row request, a share of one
//! ServiceNow Batch API call of `max_changes` records), 20 tenants at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use futures::future::try_join_all;
use tokio::time::Instant;

use super::context::{Ctx, UNLIMITED, simulator};
use super::direct::{Direct, send};
use super::progress::ScenarioProgress;
use super::rig::{self, Rig, Timed, change};
use scriptsync::broker::QueueConsumer;

/// Tenants, as in B.
const TENANTS: usize = 20;

/// A(a): messages per second through publish-with-confirms and consume-with-ack.
pub async fn broker_alone(ctx: &Ctx, messages: usize) -> anyhow::Result<f64> {
    let rig = Rig::open(&ctx.broker_url, "bench-a", rig::tenants(TENANTS)).await?;
    let result = broker_pass(ctx, &rig, messages).await;
    rig.cleanup().await?;
    result
}

async fn broker_pass(ctx: &Ctx, rig: &Rig, messages: usize) -> anyhow::Result<f64> {
    let acked = Arc::new(AtomicU64::new(0));
    let consumers_conn = rig::connect(&ctx.broker_url, "scriptsync bench consumers").await?;
    let mut tasks = Vec::new();
    for tenant in &rig.tenants {
        let queue = rig.names.tenant_queue(tenant);
        let (consumer, mut stream) =
            QueueConsumer::start(&consumers_conn, &queue, ctx.settings.prefetch, "").await?;
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let _consumer = consumer;
            while let Some(Ok(inbound)) = stream.next().await {
                if inbound.ack.ack().await.is_err() {
                    break;
                }
                acked.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut progress = ScenarioProgress::new("A(a) broker alone", messages as u64, ctx.plain);
    let started = Instant::now();
    let changes = spread(&rig.tenants, messages).map(|change| Timed { at: None, change });
    let publish = rig.publish(changes, |_, _| {});
    let watch = async {
        let deadline = started + std::time::Duration::from_secs(600);
        loop {
            let n = acked.load(Ordering::Relaxed);
            progress.update(n, "acked");
            if n >= messages as u64 {
                return Ok(Instant::now());
            }
            anyhow::ensure!(Instant::now() < deadline, "only {n} of {messages} acked");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let (published, done) = tokio::join!(publish, watch);
    published?;
    let elapsed = done?.duration_since(started).as_secs_f64();
    for t in tasks {
        t.abort();
    }
    let _ = consumers_conn.close(200, "done".into()).await;
    let rate = messages as f64 / elapsed;
    progress.finish(&format!("{rate:.0} msg/s"));
    Ok(rate)
}

/// A(b): changes per second through the HTTP calls alone.
pub async fn http_alone(ctx: &Ctx, changes: usize) -> anyhow::Result<f64> {
    let sim = simulator(UNLIMITED).await?;
    let direct = Direct::new(&sim.base_url())?;
    let tenants = rig::tenants(TENANTS);
    let per_tenant = changes / TENANTS;
    let mut progress =
        ScenarioProgress::new("A(b) HTTP alone", (per_tenant * TENANTS) as u64, ctx.plain);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let work = tenants.iter().map(|tenant| {
        let (direct, done) = (direct.clone(), done.clone());
        let (batch, concurrency) = (ctx.settings.max_changes, ctx.settings.max_concurrency);
        async move {
            let tokens = direct.tokens(tenant).await?;
            let all: Vec<_> = (0..per_tenant)
                .map(|i| change(tenant, &format!("s{i}"), 1))
                .collect();
            for chunk in all.chunks(batch) {
                let rows = futures::stream::iter(chunk)
                    .map(|c| send(direct.post_row(&tokens.genesys, c)))
                    .buffer_unordered(concurrency)
                    .collect::<Vec<_>>();
                let records = send(direct.batch(&tokens.servicenow, chunk));
                let (rows, records) = tokio::join!(rows, records);
                for r in rows {
                    anyhow::ensure!(r?.0 < 300, "row write refused");
                }
                anyhow::ensure!(records?.0 < 300, "batch refused");
                done.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }
    });
    let watch = async {
        loop {
            progress.update(done.load(Ordering::Relaxed), "changes");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    };
    let result = tokio::select! {
        r = try_join_all(work) => r,
        _ = watch => unreachable!("the watch loop never ends"),
    };
    let elapsed = started.elapsed().as_secs_f64();
    sim.shutdown();
    result?;
    let rate = (per_tenant * TENANTS) as f64 / elapsed;
    progress.finish(&format!("{rate:.0} changes/s"));
    Ok(rate)
}

/// `total` changes, each a distinct script, spread evenly over `tenants` (interleaved).
pub fn spread(
    tenants: &[String],
    total: usize,
) -> impl Iterator<Item = scriptsync::change::ScriptChange> + '_ {
    (0..total).map(move |i| {
        let tenant = &tenants[i % tenants.len()];
        change(tenant, &format!("s{}", i / tenants.len()), 1)
    })
}
