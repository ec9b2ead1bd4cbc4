//! A dead letter being published while its node dies: bad changes interleaved with good
//! ones, the worker's node stopped once the first dead letters are in. Every good change is
//! delivered, every bad one is in the DLQ (only those), and the copies a lost confirm made are
//! counted and marked by `dlq list` (`×2`, and in `--json` which copy followed a redelivery).

use std::collections::BTreeMap;
use std::time::Instant;

use crate::common::cluster::LocalCluster;
use crate::common::process::{Harness, readyz};
use crate::common::{change, eventually, run_cli};
use lapin::options::BasicGetOptions;
use scriptsync::change::ScriptChange;
use scriptsync_sim::{Faults, SimTarget};

use super::worker_log::{log_count, log_len, log_summary};
use super::{GENESYS_LATENCY, cluster_harness, poll_for, worker_node};

pub(super) async fn dead_letter_published_while_its_node_dies(cluster: &LocalCluster) {
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
