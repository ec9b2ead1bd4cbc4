//! The replay tool (`scriptsync dlq`) against the real RabbitMQ, the real worker and the
//! simulator: stats, list, replay (dry run, limits, rate, retires) and purge, each on what
//! the DLQ really holds.
//!
//! Here, the helpers the tests share: simulator faults that refuse records, a tenant filter,
//! the tool's own publisher, and dead letters put straight into the DLQ. The tests:
//! `per_tenant_replay` (the envelope of real dead letters, listed, replayed for one tenant
//! after its fix), `replay_effects` (a dry run, a partial success, a stale replay),
//! `replay_rate_and_kill` (`--rate` and a `kill -9` mid-replay), `purge` and `dlq_list`.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{TestApp, change};
use scriptsync::broker::Publisher;
use scriptsync::dlq::Filter;
use scriptsync_sim::Faults;

mod dlq_list;
mod per_tenant_replay;
mod purge;
mod replay_effects;
mod replay_rate_and_kill;

fn record_errors(scripts: &[&str]) -> Faults {
    Faults {
        record_errors: scripts.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn tenant(t: &str) -> Filter {
    Filter {
        tenant: Some(t.into()),
        ..Default::default()
    }
}

async fn tool_publisher(app: &TestApp) -> Publisher {
    Publisher::open(&app.conn, Duration::from_secs(10))
        .await
        .unwrap()
}
/// Puts `n` dead letters for routing key `key` straight into the DLQ; returns their ids.
async fn fill_dlq(app: &TestApp, key: &str, n: usize) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    for i in 0..n {
        let mut c = change(key, &format!("script-{}", i % 50), 1 + i as u64);
        c = c.to_builder().id(format!("{key}-{i:05}")).build().unwrap();
        let body = serde_json::to_vec(&c).unwrap();
        let headers = [
            ("x-scriptsync-reason", "exhausted".to_string()),
            ("x-scriptsync-targets", "servicenow".to_string()),
            ("x-scriptsync-tenant", key.to_string()),
            ("x-scriptsync-routing-key", key.to_string()),
            ("x-scriptsync-dead-lettered-at", now.clone()),
        ];
        app.put_dead_letter(&body, &headers, c.id()).await;
        ids.insert(c.id().to_owned());
    }
    ids
}
