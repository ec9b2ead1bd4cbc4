//! One worker follows its tenants directory while changes flow: a tenant file added (its
//! queue consumed within seconds), a secret rotated (the old one never presented again, the
//! tenant not restarted), the quota changed (the live gate follows), two broken files refused
//! and reported while everyone keeps delivering, a file removed (its queue kept) and added
//! back. The main file's tenant delivers throughout; its time to target is printed.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{TestApp, change, eventually};
use scriptsync_sim::SimTarget;

use super::{Published, clean_history, delivered, held, publish_flow, start, time_to_target};

async fn status(app: &TestApp) -> serde_json::Value {
    let url = format!("http://{}/status", app.admin.expect("admin bound"));
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

fn genesys_ceiling(status: &serde_json::Value, tenant: &str) -> Option<f64> {
    let t = status["tenants"]
        .as_array()?
        .iter()
        .find(|t| t["tenant"] == tenant)?;
    let g = t["targets"]
        .as_array()?
        .iter()
        .find(|x| x["target"] == "genesys")?;
    g["ceiling_per_minute"].as_f64()
}
#[tokio::test]
async fn tenant_files_are_added_rotated_changed_refused_and_removed_while_the_worker_runs() {
    let (app, dir) = start(|d| {
        d.secret("acme", "old-secret");
        d.tenant("acme", "");
    })
    .await;
    let published = Published::default();
    let at = (&app, &published);
    let steady_parts = app
        .tenant_set
        .get("steady")
        .expect("the main file's tenant");
    let mut applied_rx = app.sim.watch_applied();
    app.publish(&change("acme", "s1", 1)).await;
    delivered(&app, "acme", "s1", 1).await;
    // The main file's tenant alone, for comparison.
    publish_flow(at, "steady", &["t1"], 1..=20, Duration::from_millis(30)).await;
    delivered(&app, "steady", "t1", 20).await;

    // Added: the queue is declared and consumed within seconds, then the first change flows.
    let written = tokio::time::Instant::now();
    dir.secret("globex", "globex-secret");
    dir.tenant("globex", "");
    let queue = app.names.tenant_queue("globex");
    eventually("globex consumed", || async {
        app.consumers(&queue).await == Some(1)
    })
    .await;
    app.publish(&change("globex", "g1", 1)).await;
    delivered(&app, "globex", "g1", 1).await;
    println!(
        "a tenant file added: first change delivered {:.2} s after the file appeared",
        written.elapsed().as_secs_f64()
    );

    // Rotated while acme's and steady's changes flow: the service takes the new secret only,
    // the file follows; the old secret is never presented again once tokens were fetched
    // with the new one. A rotation alone does not restart the tenant.
    let acme_parts = app.tenant_set.get("acme").unwrap();
    let flow = async {
        tokio::join!(
            publish_flow(
                at,
                "acme",
                &["s1", "s2", "s3"],
                2..=40,
                Duration::from_millis(30)
            ),
            publish_flow(at, "steady", &["t1"], 21..=60, Duration::from_millis(30)),
        )
    };
    let rotate = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        app.sim.rotate_secret("acme", "new-secret");
        dir.secret("acme", "new-secret");
        eventually(
            "tokens fetched with the new secret at both targets",
            || async { app.sim.presented("acme", "new-secret") >= 2 },
        )
        .await;
        app.sim.presented("acme", "old-secret")
    };
    let (_, old_at_settle) = tokio::join!(flow, rotate);
    for s in ["s1", "s2", "s3"] {
        delivered(&app, "acme", s, 40).await;
    }
    delivered(&app, "steady", "t1", 60).await;
    assert_eq!(
        app.sim.presented("acme", "old-secret"),
        old_at_settle,
        "no token request with the old secret after the rotation settled"
    );
    assert!(
        Arc::ptr_eq(&acme_parts, &app.tenant_set.get("acme").unwrap()),
        "rotated in place"
    );

    // Changed settings (the quota), while changes flow: acme drains and starts again on
    // them; its gate runs at the new quota × headroom.
    let flow = async {
        tokio::join!(
            publish_flow(
                at,
                "acme",
                &["s1", "s2"],
                41..=60,
                Duration::from_millis(30)
            ),
            publish_flow(at, "steady", &["t1"], 61..=80, Duration::from_millis(30)),
        )
    };
    let change_quota = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        dir.tenant("acme", "requests_per_minute = 200");
    };
    tokio::join!(flow, change_quota);
    delivered(&app, "acme", "s1", 60).await;
    delivered(&app, "acme", "s2", 60).await;
    delivered(&app, "steady", "t1", 80).await;
    assert!(
        !Arc::ptr_eq(&acme_parts, &app.tenant_set.get("acme").unwrap()),
        "new parts"
    );
    eventually("acme's gate runs at the new quota × headroom", || async {
        genesys_ceiling(&status(&app).await, "acme").is_some_and(|c| (c - 180.0).abs() < 1.0)
    })
    .await;

    // Broken files: an unknown key in a new tenant, acme's file cut in half. Both are refused
    // with their paths; acme keeps its last good settings; everyone keeps delivering.
    dir.write("bad.toml", "id = \"bad\"\nsurprise = true\n");
    dir.write("acme.toml", "id = \"acme\"\n[genesys\n");
    eventually("two tenant files refused in /status", || async {
        status(&app).await["tenant_config_errors"]
            .as_array()
            .is_some_and(|e| e.len() == 2)
    })
    .await;
    let text = status(&app).await["tenant_config_errors"].to_string();
    assert!(
        text.contains("bad.toml") && text.contains("surprise"),
        "{text}"
    );
    assert!(
        text.contains("acme.toml") && !text.contains("new-secret"),
        "{text}"
    );
    let metrics_url = format!("http://{}/metrics", app.admin.unwrap());
    let metrics = reqwest::get(metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("scriptsync_tenant_config_errors 2"),
        "the gauge says so"
    );
    assert!(
        app.tenant_set.get("bad").is_none(),
        "never had good settings: absent"
    );
    app.publish(&change("acme", "s1", 61)).await;
    app.publish(&change("steady", "t1", 81)).await;
    app.publish(&change("globex", "g1", 2)).await;
    delivered(&app, "acme", "s1", 61).await;
    delivered(&app, "steady", "t1", 81).await;
    delivered(&app, "globex", "g1", 2).await;
    dir.tenant("acme", "requests_per_minute = 200");
    dir.remove("bad.toml");
    eventually("the problems are gone", || async {
        status(&app).await["tenant_config_errors"]
            .as_array()
            .is_some_and(Vec::is_empty)
    })
    .await;

    // Removed: consumption stops, the queue stays and keeps what arrives; back again, it
    // is all delivered.
    dir.remove("globex.toml");
    eventually("globex no longer consumed", || async {
        app.consumers(&queue).await == Some(0)
    })
    .await;
    assert!(app.tenant_set.get("globex").is_none());
    app.publish(&change("globex", "g1", 3)).await;
    app.publish(&change("globex", "g2", 1)).await;
    app.wait_depth(&queue, 2).await;
    assert_eq!(
        held(&app, "globex", SimTarget::Genesys, "g1"),
        Some(2),
        "nothing taken while removed"
    );
    dir.tenant("globex", "");
    delivered(&app, "globex", "g1", 3).await;
    delivered(&app, "globex", "g2", 1).await;

    clean_history(&app).await;
    assert!(
        Arc::ptr_eq(&steady_parts, &app.tenant_set.get("steady").unwrap()),
        "steady never restarted"
    );
    let mut applied = Vec::new();
    while let Ok(a) = applied_rx.try_recv() {
        applied.push(a);
    }
    println!(
        "steady alone:           {}",
        time_to_target(&applied, &published, "steady", 1..=20)
    );
    println!(
        "steady during rotation: {}",
        time_to_target(&applied, &published, "steady", 21..=60)
    );
    println!(
        "steady during a change: {}",
        time_to_target(&applied, &published, "steady", 61..=80)
    );
    app.stop().await;
}
