//! A majority (2 of 3 nodes) lost under a running worker: `/readyz` must say 503 meanwhile
//! (no durable write is confirmed); what the surviving node answers to a passive declare,
//! basic.get, consume and a confirmed publish is probed and printed; once the majority is back
//! everything is delivered.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::change;
use crate::common::cluster::LocalCluster;
use crate::common::process::{Harness, readyz};
use lapin::options::{BasicConsumeOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use scriptsync::broker::{self, Publisher};
use scriptsync::config::BrokerSettings;

use super::worker_log::{log_len, log_summary};
use super::{SCRIPTS, VERSIONS, cluster_harness, poll_for, start_worker, worker_node};

/// What one broker call answered during the majority loss, and after how long.
async fn probe<T: std::fmt::Debug, E: std::fmt::Debug>(
    what: &str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> String {
    let started = Instant::now();
    let outcome = match tokio::time::timeout(PROBE_TIMEOUT, call).await {
        Ok(Ok(v)) => format!("ok: {v:?}"),
        Ok(Err(e)) => format!("error: {e:?}"),
        Err(_) => format!("no answer within {PROBE_TIMEOUT:?}"),
    };
    let mut outcome = format!(
        "{what}: {outcome} (after {:.2} s)",
        started.elapsed().as_secs_f64()
    );
    outcome.truncate(600);
    outcome
}

/// How long each probe waits for the broker (on 3.10 the node itself gives up after about
/// 65 s: basic.get and basic.consume close the connection with 541 INTERNAL_ERROR, a publish
/// is nacked).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest `/readyz` is watched for a 503 once the majority is gone (the worker's write
/// probe needs its confirm timeout, 10 s by default, plus up to one probe interval).
const MAJORITY_WATCH: Duration = Duration::from_secs(40);

/// Calls against the surviving node while the majority is down, each on its own connection,
/// all at once: passive declare, basic.get and consume on the tenant's quorum queue, and a
/// confirmed publish routed to it.
async fn probe_majority_loss(h: &Harness, url: String) -> Vec<String> {
    let settings = BrokerSettings {
        url,
        prefix: h.names.exchange(),
        ..BrokerSettings::default()
    };
    let queue = h.names.tenant_queue(&h.tenant);
    let open = || async {
        let conn = broker::connect(&settings, "scriptsync cluster probe")
            .await
            .expect("the surviving node accepts connections");
        let publisher = Publisher::open(&conn, PROBE_TIMEOUT).await.unwrap();
        (conn, publisher)
    };
    let passive = async {
        let (conn, p) = open().await;
        let opts = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let r = probe("passive queue.declare of the quorum queue", async {
            p.channel()
                .queue_declare(queue.as_str().into(), opts, FieldTable::default())
                .await
                .map(|q| format!("{} ready messages", q.message_count()))
        })
        .await;
        (r, conn)
    };
    let get = async {
        let (conn, p) = open().await;
        let r = probe("basic.get on the quorum queue", async {
            p.channel()
                .basic_get(queue.as_str().into(), BasicGetOptions::default())
                .await
                .map(|m| m.map(|m| m.delivery.data.len()))
        })
        .await;
        (r, conn)
    };
    let consume = async {
        let (conn, p) = open().await;
        let r = probe("basic.consume on the quorum queue", async {
            p.channel()
                .basic_consume(
                    queue.as_str().into(),
                    "cluster-probe".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map(|_| "consumer registered")
        })
        .await;
        (r, conn)
    };
    let publish = async {
        let (conn, p) = open().await;
        let body = serde_json::to_vec(&change(&h.tenant, "probe-majority", 1)).unwrap();
        let props = lapin::BasicProperties::default().with_content_type("application/json".into());
        let r = probe(
            "confirmed publish routed to the quorum queue",
            p.publish(&h.names.exchange(), &h.tenant, &body, props, false),
        )
        .await;
        (r, conn)
    };
    let (a, b, c, d) = tokio::join!(passive, get, consume, publish);
    let mut out = Vec::new();
    for (r, conn) in [a, b, c, d] {
        out.push(r);
        let _ = tokio::time::timeout(Duration::from_secs(5), conn.close(200, "probe".into())).await;
    }
    out
}

pub(super) async fn majority_lost_then_back(cluster: &LocalCluster) {
    let h = cluster_harness(cluster, "cl-majority").await;
    let (worker, admin) = start_worker(&h).await;
    let serving = worker_node(cluster, &h).await;
    let others: Vec<usize> = (0..3).filter(|&i| i != serving).collect();
    let log_from = log_len(&h);
    let t0 = Instant::now();
    for &i in &others {
        cluster.stop_node(i).await;
    }
    let stops_took = t0.elapsed();
    let writes_at_loss = h.genesys_writes();

    // While the majority is down: watch /readyz every 100 ms for at least the probes'
    // duration, and on until it has said 503 (at most MAJORITY_WATCH), and probe the
    // surviving node meanwhile.
    let watch = {
        let admin = admin.clone();
        tokio::spawn(async move {
            let mut answers: BTreeMap<String, u32> = BTreeMap::new();
            let mut first_503 = None;
            let at_least = Instant::now() + PROBE_TIMEOUT + Duration::from_secs(2);
            let at_most = Instant::now() + MAJORITY_WATCH;
            while Instant::now() < at_most && (Instant::now() < at_least || first_503.is_none()) {
                let status = readyz(&admin).await;
                if status == Some(503) && first_503.is_none() {
                    first_503 = Some(t0.elapsed());
                }
                let key = status.map_or("no answer".to_string(), |s| s.to_string());
                *answers.entry(key).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (answers, first_503, t0.elapsed())
        })
    };
    let probes = probe_majority_loss(&h, cluster.url(serving)).await;
    let (answers, first_503, watched) = watch.await.unwrap();
    let writes_during_loss = h.genesys_writes() - writes_at_loss;
    eprintln!(
        "majority lost (nodes {:?} stopped in {:.1} s, worker on node {}):\n  /readyz answers over the first {:.1} s: {answers:?}, first 503 at {:?} (from the first stop command)\n  Genesys writes during the loss: {writes_during_loss}",
        others.iter().map(|i| i + 1).collect::<Vec<_>>(),
        stops_took.as_secs_f64(),
        serving + 1,
        watched.as_secs_f64(),
        first_503.map(|d| format!("+{:.2} s", d.as_secs_f64())),
    );
    for p in &probes {
        eprintln!("  probe on node {}: {p}", serving + 1);
    }
    eprintln!(
        "  queues: {}",
        cluster
            .list_queues(&["name", "type", "messages", "leader", "online"])
            .await
    );
    eprintln!(
        "  worker log during the loss: {}",
        log_summary(&h, log_from)
    );

    let back = Instant::now();
    for &i in &others {
        cluster.start_node(i).await;
    }
    let started_in = back.elapsed();
    let ready_again = poll_for("readyz 200 once the majority is back", || async {
        (readyz(&admin).await == Some(200)).then(|| back.elapsed())
    })
    .await;
    eprintln!(
        "majority back (start_app of both took {:.1} s): readyz 200 at +{:.2} s",
        started_in.as_secs_f64(),
        ready_again.as_secs_f64()
    );
    h.finish(worker, SCRIPTS, VERSIONS).await;
    assert!(
        answers.contains_key("503"),
        "/readyz must say 503 while the majority is down (no durable write is confirmed); it answered {answers:?}"
    );
}
