//! The global in-flight budget (`broker.max_inflight`) against the real broker: each tenant's
//! consumer gets its share as prefetch (what RabbitMQ itself reports for the consumer, and
//! `/status`), tenants added while the worker runs shrink the shares of those running
//! (drained and started again, nothing lost), and tenants removed grow them back.

use crate::common;

use std::time::Duration;

use common::tenant_dir::TenantDir;
use common::{TestApp, change, eventually, spawn_app_with_sim};
use scriptsync_sim::{SimConfig, SimTarget};

/// The prefetch RabbitMQ reports for the consumer of each queue named with `prefix`.
fn broker_prefetches(prefix: &str) -> Vec<(String, u32)> {
    let out = std::process::Command::new("rabbitmqctl")
        .args(["list_consumers", "-q", "queue_name", "prefetch_count"])
        .output()
        .expect("rabbitmqctl runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let (queue, prefetch) = line.split_once('\t')?;
            let tenant = queue.strip_prefix(prefix)?;
            Some((tenant.to_owned(), prefetch.trim().parse().ok()?))
        })
        .collect()
}

/// Every one of `tenants` is consumed with `prefetch`, by the broker's account and by
/// `/status`'s (the worker's board), and nothing else of this test is consumed.
async fn consumed_with(app: &TestApp, tenants: &[String], prefetch: u32) {
    let prefix = format!("{}.t.", app.settings.broker.prefix);
    let mut want: Vec<(String, u32)> = tenants.iter().map(|t| (t.clone(), prefetch)).collect();
    want.sort();
    eventually(
        &format!(
            "{} tenants consumed with prefetch {prefetch}",
            tenants.len()
        ),
        || async {
            let mut seen = broker_prefetches(&prefix);
            seen.sort();
            seen == want
                && tenants
                    .iter()
                    .all(|t| app.board.tenant(t).prefetch.map(u32::from) == Some(prefetch))
        },
    )
    .await;
}

async fn delivered(app: &TestApp, tenant: &str, script: &str, version: u64) {
    eventually(&format!("{tenant}/{script} v{version}"), || async {
        let state = app.sim_state();
        [SimTarget::Genesys, SimTarget::Servicenow].iter().all(|t| {
            state
                .tenant(tenant)
                .target(*t)
                .held
                .get(script)
                .map(|r| r.version)
                == Some(version)
        })
    })
    .await;
}

#[tokio::test]
async fn each_consumer_gets_its_share_of_the_budget_and_follows_the_tenant_count() {
    let mut dir = None;
    let app = spawn_app_with_sim(&["steady"], SimConfig::default(), |s| {
        let d = TenantDir::for_settings(s);
        d.secret("b0", "b0-secret");
        d.tenant("b0", "");
        s.tenants_rescan = Duration::from_secs(2);
        s.broker.prefetch = 500;
        s.admin.listen = "127.0.0.1:0".parse().unwrap();
        s.broker.max_inflight = 16;
        dir = Some(d);
    })
    .await;
    let dir = dir.unwrap();
    let two: Vec<String> = ["b0", "steady"].map(String::from).to_vec();
    // 16 / 2 owned tenants.
    consumed_with(&app, &two, 8).await;
    app.publish(&change("steady", "s", 1)).await;
    delivered(&app, "steady", "s", 1).await;

    // Six more: 16 / 8 = 2, and 8 > 2 × 2, so the two running ones start again with 2 while
    // changes keep coming; every change reaches both targets.
    let added: Vec<String> = (1..=6).map(|i| format!("b{i}")).collect();
    for t in &added {
        dir.secret(t, &format!("{t}-secret"));
        dir.tenant(t, "");
    }
    for v in 2..=30 {
        app.publish(&change("steady", "s", v)).await;
        app.publish(&change("b0", "s", v)).await;
    }
    let mut eight = two.clone();
    eight.extend(added.iter().cloned());
    consumed_with(&app, &eight, 2).await;
    for t in &eight {
        app.publish(&change(t, "after", 1)).await;
    }
    delivered(&app, "steady", "s", 30).await;
    delivered(&app, "b0", "s", 30).await;
    for t in &eight {
        delivered(&app, t, "after", 1).await;
    }

    // Back to two: their share grows fourfold, so they start again with 8.
    for t in &added {
        dir.remove(&format!("{t}.toml"));
    }
    consumed_with(&app, &two, 8).await;
    // The removed tenants' `scriptsync_consuming` series go with them (no alert for an org
    // removed on purpose); the remaining ones say they are consumed.
    let metrics = format!("http://{}/metrics", app.admin.expect("admin bound"));
    eventually("the removed tenants' consuming series gone", || async {
        let text = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
        text.contains("scriptsync_consuming{tenant=\"b0\"} 1")
            && !added
                .iter()
                .any(|t| text.contains(&format!("scriptsync_consuming{{tenant=\"{t}\"}}")))
    })
    .await;
    app.publish(&change("b0", "s", 31)).await;
    delivered(&app, "b0", "s", 31).await;
    assert_eq!(
        app.depth(&app.names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
    let state = app.sim_state();
    assert_eq!(state.total_violations(), 0);
    for t in &eight {
        let t = state.tenant(t);
        assert_eq!(t.genesys.older_writes + t.servicenow.older_writes, 0);
    }
    app.stop().await;
}
