//! `SIGHUP` on a worker process: the tenants are read again at once (a rotation of a secret
//! file outside the directory, which no change notice covers, with the re-scan an hour off),
//! the log names the trigger, and the worker keeps running.

use crate::common;
use common::{change, eventually};
use scriptsync_sim::SimConfig;

/// A worker process, its tenants directory, and a tenant whose secret file lives outside it
/// (so no change notice covers it) with a re-scan far off: only `SIGHUP` can apply a rotation.
#[tokio::test]
async fn sighup_reads_the_tenants_again_and_the_worker_keeps_running() {
    use common::process::{Harness, Options, readyz, signal};
    let h = Harness::new("main", SimConfig::default(), Options::default()).await;
    let tenants = h.dir.join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    let outside = h.dir.join("rot.secret");
    std::fs::write(&outside, "first\n").unwrap();
    let base = h.sim.base_url();
    std::fs::write(
        tenants.join("rot.toml"),
        format!(
            "id = \"rot\"\n[genesys]\napi_base = \"{base}\"\nlogin_base = \"{base}\"\n\
             client_id = \"rot\"\nclient_secret_file = \"{}\"\ndatatable_id = \"t\"\n",
            outside.display()
        ),
    )
    .unwrap();
    let config = std::fs::read_to_string(&h.config).unwrap();
    let top = format!(
        "tenants_dir = \"{}\"\ntenants_rescan = \"1h\"\n",
        tenants.display()
    );
    std::fs::write(&h.config, format!("{top}{config}")).unwrap();
    let mut worker = h.spawn_worker();

    let publish = |version: u64| {
        let h = &h;
        async move {
            let (conn, publisher) = h.connect().await;
            let body = serde_json::to_vec(&change("rot", "s", version)).unwrap();
            let props =
                lapin::BasicProperties::default().with_content_type("application/json".into());
            publisher
                .publish(&h.names.exchange(), "rot", &body, props, false)
                .await
                .unwrap();
            let _ = conn.close(200, "ok".into()).await;
        }
    };
    let held = || {
        h.sim
            .state()
            .tenant("rot")
            .genesys
            .held
            .get("s")
            .map(|r| r.version)
    };
    let admin = h.admin_addr().await;
    eventually("the worker is ready", || async {
        readyz(&admin).await == Some(200)
    })
    .await;
    publish(1).await;
    eventually("rot v1 delivered", || async { held() == Some(1) }).await;
    assert_eq!(h.sim.presented("rot", "first"), 1);

    h.sim.rotate_secret("rot", "second");
    std::fs::write(&outside, "second\n").unwrap();
    signal(&worker.0, "HUP");
    // The rotation is applied before v2 is sent: a change published at once could still go
    // out with the old token, which stays valid until it expires.
    eventually("the SIGHUP's reading rotates rot's credentials", || async {
        let log = std::fs::read_to_string(&h.log).unwrap_or_default();
        log.lines()
            .any(|l| l.contains(r#""trigger":"SIGHUP""#) && l.contains(r#""rotated":"[\"rot\"]""#))
    })
    .await;
    publish(2).await;
    eventually(
        "rot v2 delivered with a token fetched by the new secret",
        || async { held() == Some(2) && h.sim.presented("rot", "second") >= 1 },
    )
    .await;
    assert!(
        worker.0.try_wait().unwrap().is_none(),
        "SIGHUP does not stop the worker"
    );
    assert!(
        std::fs::read_to_string(&h.log).unwrap().contains("SIGHUP"),
        "the log names the trigger"
    );
    let rot_queue = h.names.tenant_queue("rot");
    h.stop_and_clean(worker).await;
    let sweep = scriptsync::broker::connect(
        &scriptsync::config::simulator::sim_settings(
            common::BROKER_URL,
            "x",
            "http://127.0.0.1:9",
            &[],
        )
        .broker,
        "test sweep",
    )
    .await
    .unwrap();
    let ch = sweep.create_channel().await.unwrap();
    let _ = ch
        .queue_delete(rot_queue.as_str().into(), Default::default())
        .await;
    let _ = sweep.close(200, "ok".into()).await;
}
