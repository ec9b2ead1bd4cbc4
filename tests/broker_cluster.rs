//! Losing a broker node, against a real local 3-node RabbitMQ cluster
//! ([`common::cluster::LocalCluster`], beside the machine's broker, which is not touched): the
//! worker runs as a real process given `broker.urls` (all three nodes), while nodes are stopped
//! and started under it:
//! - a follower (a node the worker is not connected to) stopped and restarted mid-run;
//! - the worker's own node stopped mid-run and kept down (reconnect time measured);
//! - a majority (2 of 3) lost: `/readyz` must say 503 meanwhile; what the broker answers then
//!   is probed and printed; everything is delivered once the majority is back;
//! - a dead letter being published while its node dies (duplicates counted and listed).
//!
//! The scenarios run in one test on one cluster (booting one takes about 15–20 s on 2 cores,
//! boot and join), each leaving every node running for the next; the cluster is owned by the
//! test, so it is stopped when the test ends, passed or failed (a cluster in a `static` would
//! never be stopped: statics are not dropped when the test binary exits). Where
//! `rabbitmq-server` is missing (or not root), the test prints `SKIPPED:` and returns.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::cluster::LocalCluster;
use common::process::{Harness, Options, readyz};
use common::{DEADLINE, KillOnDrop, change, eventually, run_cli};
use lapin::options::{BasicConsumeOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use scriptsync::broker::{self, Publisher};
use scriptsync::change::ScriptChange;
use scriptsync::config::BrokerSettings;
use scriptsync_sim::{Faults, SimConfig, SimTarget};

const SCRIPTS: u64 = 30;
const GENESYS_LATENCY: Duration = Duration::from_millis(250);
const VERSIONS: u64 = 8;

/// The four scenarios on one cluster, in this order; each leaves every node running. One
/// boot (15–20 s on 2 cores, with the join) instead of four: the node-loss scenarios use
/// fresh queue prefixes, so all they could inherit is the placement of queue leaders, which
/// each one reads afresh (`worker_node`). A failing scenario stops the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_losses_on_one_cluster() {
    if !common::broker_node_tests_allowed("node_losses_on_one_cluster") {
        return;
    }
    let Some(cluster) = LocalCluster::start() else {
        return;
    };
    follower_node_stopped_and_restarted_mid_run(&cluster).await;
    dead_letter_published_while_its_node_dies(&cluster).await;
    the_workers_node_stopped_and_kept_down(&cluster).await;
    majority_lost_then_back(&cluster).await;
}

/// A harness on the cluster's three nodes, Genesys answering after 250 ms (so the run lasts
/// long enough, 15 s or so, to stop nodes in the middle of it: `stop_app` alone takes 2–4 s).
async fn cluster_harness(cluster: &LocalCluster, tenant: &str) -> Harness {
    let sim_config = SimConfig {
        genesys_requests_per_minute: 100_000,
        ..SimConfig::default()
    };
    let h = Harness::with_urls(tenant, sim_config, Options::default(), cluster.urls()).await;
    let slow = Faults {
        latency: GENESYS_LATENCY,
        ..Faults::default()
    };
    h.sim.set_faults(Some(tenant), SimTarget::Genesys, slow);
    h
}

/// Polls `f` every 100 ms until it gives a value, or panics with `what` after [`DEADLINE`].
async fn poll_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The node the worker's connection is attached to, once `list_connections` shows it.
async fn worker_node(cluster: &LocalCluster, h: &Harness) -> usize {
    let name = h.worker_connection_name();
    poll_for("the worker's connection listed on a node", || {
        cluster.node_serving(&name)
    })
    .await
}

/// Spawns the worker mid-flight, waits for it to be ready; returns it with its admin address.
async fn start_worker(h: &Harness) -> (KillOnDrop, String) {
    let worker = h.spawn_mid_flight(SCRIPTS, VERSIONS).await;
    let admin = h.admin_addr().await;
    eventually("worker ready", || async {
        readyz(&admin).await == Some(200)
    })
    .await;
    (worker, admin)
}

/// The worker's warnings and errors logged since byte `from`: each distinct message with
/// its count and its first occurrence (fields included), plus how many changes were pushed.
fn log_summary(h: &Harness, from: usize) -> String {
    let text = std::fs::read_to_string(&h.log).unwrap_or_default();
    let mut seen: BTreeMap<String, (u32, String)> = BTreeMap::new();
    let mut pushed = 0;
    for line in text.get(from..).unwrap_or("").lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let message = v["message"].as_str().unwrap_or("").to_string();
        if message == "change pushed" {
            pushed += 1;
        }
        let level = v["level"].as_str().unwrap_or("");
        if level == "WARN" || level == "ERROR" {
            let mut example = line.to_string();
            example.truncate(400);
            seen.entry(format!("{level} {message}"))
                .or_insert((0, example))
                .0 += 1;
        }
    }
    let mut out = format!(
        "{pushed} \"change pushed\" lines; warnings and errors: {}",
        seen.len()
    );
    for (message, (count, example)) in &seen {
        out.push_str(&format!("\n    {count} × {message}: {example}"));
    }
    out
}

/// How often the worker logged `message` (a WARN or ERROR text) since byte `from`.
fn log_count(h: &Harness, from: usize, message: &str) -> usize {
    let text = std::fs::read_to_string(&h.log).unwrap_or_default();
    text.get(from..)
        .unwrap_or("")
        .matches(&format!("\"message\":\"{message}\""))
        .count()
}

fn log_len(h: &Harness) -> usize {
    std::fs::metadata(&h.log)
        .map(|m| m.len() as usize)
        .unwrap_or(0)
}

async fn follower_node_stopped_and_restarted_mid_run(cluster: &LocalCluster) {
    let h = cluster_harness(cluster, "cl-follower").await;
    let (worker, _admin) = start_worker(&h).await;
    let serving = worker_node(cluster, &h).await;
    let follower = (serving + 1) % 3;
    eprintln!(
        "worker on node {}, stopping follower node {}",
        serving + 1,
        follower + 1
    );
    let before = h.genesys_writes();
    let stopped = Instant::now();
    cluster.stop_node(follower).await;
    eventually("pushes go on while the follower is down", || async {
        h.genesys_writes() >= before + 10 || h.all_newest(SCRIPTS, VERSIONS)
    })
    .await;
    let writes_while_down = h.genesys_writes() - before;
    let pending = !h.all_newest(SCRIPTS, VERSIONS);
    cluster.start_node(follower).await;
    eprintln!(
        "follower down for {:.1} s (stop_app to start_app done): {writes_while_down} Genesys writes meanwhile, \
         changes still pending when it came back: {pending}; worker still on node {:?}",
        stopped.elapsed().as_secs_f64(),
        cluster
            .node_serving(&h.worker_connection_name())
            .await
            .map(|i| i + 1)
    );
    h.finish(worker, SCRIPTS, VERSIONS).await;
}

/// `/readyz` timeline from `t0`: the first not-ready answer, then the first 200 after it.
async fn watch_down_then_up(admin: String, t0: Instant) -> (Duration, Duration) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut down_at = None;
    loop {
        let status = readyz(&admin).await;
        match (status, down_at) {
            (Some(200), Some(down)) => return (down, t0.elapsed()),
            (Some(200), None) => {}
            (_, None) => down_at = Some(t0.elapsed()),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "readyz did not go down and back up within 90 s (down at {down_at:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn the_workers_node_stopped_and_kept_down(cluster: &LocalCluster) {
    let h = cluster_harness(cluster, "cl-own-node").await;
    let (worker, admin) = start_worker(&h).await;
    let serving = worker_node(cluster, &h).await;
    let writes_before = h.genesys_writes();
    let t0 = Instant::now();
    let watch = tokio::spawn(watch_down_then_up(admin.clone(), t0));
    cluster.stop_node(serving).await;
    let stop_took = t0.elapsed();
    let (down_at, ready_at) = watch.await.unwrap();
    let name = h.worker_connection_name();
    let now_on = poll_for("the worker's connection listed on another node", || async {
        cluster.node_serving(&name).await.filter(|&n| n != serving)
    })
    .await;
    let listed_at = t0.elapsed();
    eprintln!(
        "worker's node {} stopped (stop_app took {:.2} s): readyz not ready at +{:.2} s, 200 again at +{:.2} s \
         (reconnect time {:.2} s from the stop command, {:.2} s from the first not-ready answer); \
         connection listed on node {} at +{:.2} s; {} Genesys writes before the stop",
        serving + 1,
        stop_took.as_secs_f64(),
        down_at.as_secs_f64(),
        ready_at.as_secs_f64(),
        ready_at.as_secs_f64(),
        (ready_at - down_at).as_secs_f64(),
        now_on + 1,
        listed_at.as_secs_f64(),
        writes_before,
    );
    assert!(
        ready_at < Duration::from_secs(60),
        "reconnect took {ready_at:?} (a reconnect to a live node is meant to take ≤ 10 s)"
    );
    // The node stays down to the end; finish() reaches the others through broker.urls.
    h.finish(worker, SCRIPTS, VERSIONS).await;
    cluster.start_node(serving).await;
}

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

async fn majority_lost_then_back(cluster: &LocalCluster) {
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

async fn dead_letter_published_while_its_node_dies(cluster: &LocalCluster) {
    const BAD: usize = 40;
    let h = cluster_harness(cluster, "cl-dlq").await;
    // Every row write of the bad scripts is refused (400): each change is dead-lettered.
    let bad: Vec<String> = (0..BAD).map(|i| format!("bad{i}")).collect();
    h.sim.set_faults(
        Some(&h.tenant),
        SimTarget::Genesys,
        Faults {
            latency: GENESYS_LATENCY,
            record_errors: bad.iter().cloned().collect(),
            ..Faults::default()
        },
    );
    let worker = h.spawn_worker();
    let admin = h.admin_addr().await;
    eventually("worker ready", || async {
        readyz(&admin).await == Some(200)
    })
    .await;
    let serving = worker_node(cluster, &h).await;
    // Bad changes interleaved with good ones, so dead letters are published all along the run.
    let (conn, publisher) = h.connect().await;
    let mut bad_ids = Vec::new();
    for (i, script) in bad.iter().enumerate() {
        for c in [
            change(&h.tenant, script, 1),
            change(&h.tenant, &format!("s{i}"), 1),
        ] {
            if c.script_id().starts_with("bad") {
                bad_ids.push(c.id().to_string());
            }
            let body = serde_json::to_vec(&c).unwrap();
            let props =
                lapin::BasicProperties::default().with_content_type("application/json".into());
            publisher
                .publish(&h.names.exchange(), &h.tenant, &body, props, false)
                .await
                .unwrap();
        }
    }
    let _ = conn.close(200, "ok".into()).await;
    // Strike once some dead letters are in the DLQ and more are still coming.
    let dlq = h.names.dlq();
    eventually("first dead letters published", || async {
        h.depth(&dlq).await >= 2
    })
    .await;
    let depth_at_stop = h.depth(&dlq).await;
    let log_from = log_len(&h);
    let t0 = Instant::now();
    cluster.stop_node(serving).await;
    eprintln!(
        "worker's node {} stopped with {depth_at_stop} of {BAD} dead letters in the DLQ (stop_app took {:.2} s)",
        serving + 1,
        t0.elapsed().as_secs_f64()
    );
    eventually("every good change delivered", || async {
        let state = h.sim.state();
        let t = state.tenant(&h.tenant);
        (0..BAD).all(|i| {
            let key = format!("s{i}");
            t.genesys.held.get(&key).map(|r| r.version) == Some(1)
                && t.servicenow.held.get(&key).map(|r| r.version) == Some(1)
        })
    })
    .await;
    let queue = h.names.tenant_queue(&h.tenant);
    eventually("tenant queue drained", || async {
        h.depth(&queue).await == 0
    })
    .await;
    // A ready count of 0 does not cover what the worker still holds: a bad change redelivered
    // after the stop may be on its way to the DLQ a second time. Wait until it holds nothing.
    eventually("the worker holds no delivery of the tenant", || async {
        let status = reqwest::get(format!("http://{admin}/status")).await;
        let status: serde_json::Value = match status {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => return false,
        };
        status["tenants"]
            .as_array()
            .is_some_and(|ts| ts.iter().all(|t| t["unacked"] == 0))
    })
    .await;
    // Every dead letter (read without removing: basic.get, then channel close), once every
    // bad change is among them.
    let letters = poll_for("every bad change in the DLQ", || async {
        let letters = read_dlq(&h).await;
        let ids: Vec<String> = letters.iter().map(|b| change_id(b)).collect();
        bad_ids.iter().all(|id| ids.contains(id)).then_some(letters)
    })
    .await;
    let mut by_id: BTreeMap<String, u32> = BTreeMap::new();
    for body in &letters {
        *by_id.entry(change_id(body)).or_default() += 1;
    }
    let duplicates: Vec<(&String, &u32)> = by_id.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "DLQ: {} letters for {} distinct changes; duplicated: {duplicates:?}",
        letters.len(),
        by_id.len()
    );
    eprintln!(
        "worker log since the stop: {} × \"cannot dead-letter; requeueing the message\", \
         {} × \"ack after dead-lettering failed; the broker will redeliver\", \
         {} × \"change dead-lettered\" (for {BAD} bad changes, {depth_at_stop} dead-lettered before the stop); {}",
        log_count(&h, log_from, "cannot dead-letter; requeueing the message"),
        log_count(
            &h,
            log_from,
            "ack after dead-lettering failed; the broker will redeliver"
        ),
        log_count(&h, log_from, "change dead-lettered"),
        log_summary(&h, log_from)
    );
    for id in &bad_ids {
        assert!(by_id.contains_key(id), "dead letter {id} lost");
    }
    assert_eq!(by_id.len(), BAD, "only the bad changes are dead-lettered");

    // The operator's view.
    let (code, list, err) = run_cli(&["dlq", "--config", h.config.to_str().unwrap(), "list"]).await;
    assert_eq!(code, 0, "{err}");
    eprintln!("$ scriptsync dlq list ({} lines)", list.lines().count());
    for line in list.lines().take(6) {
        eprintln!("{line}");
    }
    for (id, n) in &duplicates {
        let lines: Vec<&str> = list.lines().filter(|l| l.contains(id.as_str())).collect();
        eprintln!("duplicate {id} in `dlq list`:\n{}", lines.join("\n"));
        let marked = format!("{id} ×{n}");
        assert!(
            lines.iter().all(|l| l.starts_with(&marked)),
            "not marked ×{n}: {lines:?}"
        );
    }
    // `--json`: every letter counts its copies, and a copy written after a redelivery says so.
    let config = h.config.to_str().unwrap();
    let (code, json, err) = run_cli(&["dlq", "--config", config, "list", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let records: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), letters.len());
    for r in &records {
        let id = r["change_id"].as_str().unwrap();
        assert_eq!(r["copies"].as_u64(), Some(u64::from(by_id[id])), "{r}");
    }
    for (id, _) in &duplicates {
        assert!(
            records
                .iter()
                .any(|r| r["change_id"] == id.as_str() && r["redelivered"] == true),
            "no copy of {id} says it was redelivered"
        );
    }
    let state = h.sim.state();
    assert_eq!(state.total_violations(), 0);
    assert_eq!(state.tenant(&h.tenant).genesys.older_writes, 0);
    h.stop_and_clean(worker).await;
    cluster.start_node(serving).await;
}

/// The change id in a dead letter's body.
fn change_id(body: &[u8]) -> String {
    let c: ScriptChange = serde_json::from_slice(body).expect("a dead letter is a change");
    c.id().to_string()
}

/// The bodies of every message in the DLQ, left in place (taken unacked, returned on close).
async fn read_dlq(h: &Harness) -> Vec<Vec<u8>> {
    let (conn, publisher) = h.connect().await;
    let ch = publisher.channel();
    let n = h.depth(&h.names.dlq()).await;
    let mut out = Vec::new();
    for _ in 0..n {
        match ch
            .basic_get(h.names.dlq().into(), BasicGetOptions::default())
            .await
            .unwrap()
        {
            Some(m) => out.push(m.delivery.data.clone()),
            None => break,
        }
    }
    let _ = conn.close(200, "read".into()).await;
    out
}
