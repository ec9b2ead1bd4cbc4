//! Two replicas on one tenants directory: a tenant file added is known to both and consumed
//! by one, a rotation while changes flow leaves the old secret unused, and a removed file is
//! released by both, its queue kept.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{TestApp, change, eventually};
use scriptsync::app::Application;
use tokio_util::sync::CancellationToken;

use super::{Published, clean_history, delivered, publish_flow, start};

/// A second replica of `app`'s worker (same prefix, simulator and tenants directory).
async fn second_replica(
    app: &TestApp,
    id: &str,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
    Arc<scriptsync::tenants::TenantSet>,
) {
    let mut settings = app.settings.clone();
    settings.replica.id = Some(id.to_owned());
    settings.admin.listen = "127.0.0.1:0".parse().unwrap();
    let worker = Application::build(settings).expect("second replica builds");
    let set = worker.tenant_set();
    let stop = CancellationToken::new();
    let task = tokio::spawn(worker.run_until(stop.clone()));
    (stop, task, set)
}

#[tokio::test]
async fn on_two_replicas_a_tenant_added_rotated_and_removed_is_followed_by_both() {
    let (app, dir) = start(|d| {
        for id in ["t1", "t2", "t3"] {
            d.secret(id, "old");
            d.tenant(id, "");
        }
    })
    .await;
    let (stop2, task2, set2) = second_replica(&app, "replica-two").await;
    let queues = |id: &str| app.names.tenant_queue(id);
    // Every tenant consumed by exactly one replica.
    for id in ["steady", "t1", "t2", "t3"] {
        let q = queues(id);
        eventually(&format!("{id} consumed once"), || async {
            app.consumers(&q).await == Some(1)
        })
        .await;
    }

    let written = tokio::time::Instant::now();
    dir.secret("t4", "old");
    dir.tenant("t4", "");
    let q4 = queues("t4");
    eventually("t4 known by both replicas", || async {
        set2.get("t4").is_some() && app.tenant_set.get("t4").is_some()
    })
    .await;
    eventually("t4 consumed by one replica", || async {
        app.consumers(&q4).await == Some(1)
    })
    .await;
    app.publish(&change("t4", "first", 1)).await;
    delivered(&app, "t4", "first", 1).await;
    println!(
        "two replicas: a tenant file added was consumed by one of them and its first change \
         delivered {:.2} s after the file appeared",
        written.elapsed().as_secs_f64()
    );

    let published = Published::default();
    let at = (&app, &published);
    let flow = publish_flow(at, "t1", &["a", "b"], 1..=30, Duration::from_millis(30));
    let flow4 = publish_flow(at, "t4", &["a"], 1..=30, Duration::from_millis(30));
    let rotate = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.sim.rotate_secret("t1", "new");
        dir.secret("t1", "new");
        eventually("t1's tokens fetched with the new secret", || async {
            app.sim.presented("t1", "new") >= 2
        })
        .await;
        app.sim.presented("t1", "old")
    };
    let ((), (), old_at_settle) = tokio::join!(flow, flow4, rotate);
    delivered(&app, "t1", "a", 30).await;
    delivered(&app, "t1", "b", 30).await;
    delivered(&app, "t4", "a", 30).await;
    assert_eq!(
        app.sim.presented("t1", "old"),
        old_at_settle,
        "the old secret unused after the rotation"
    );

    dir.remove("t2.toml");
    let q2 = queues("t2");
    eventually("t2 released by both replicas", || async {
        set2.get("t2").is_none() && app.consumers(&q2).await == Some(0)
    })
    .await;
    app.publish(&change("t2", "a", 1)).await;
    app.wait_depth(&q2, 1).await;

    clean_history(&app).await;
    stop2.cancel();
    let _ = task2.await;
    app.delete_queue(&q2).await;
    app.stop().await;
}
