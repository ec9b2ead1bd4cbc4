//! A tenants directory mounted the way the kubelet mounts a Secret (visible names are symlinks
//! through `..data`, which an update swaps in one rename), with the default re-scan of 30 s:
//! the worker follows an org added, its secret rotated, and the org removed. The time from
//! each swap to its effect is printed: the worker's part of the convergence time in the
//! operations guide (the kubelet's own sync period comes before it).

use crate::common;

use std::time::Duration;

use common::tenant_dir::{KubeletVolume, tenant_file};
use common::{change, eventually, spawn_app_with_sim};
use scriptsync_sim::{SimConfig, SimTarget};
use tokio::time::Instant;

fn files(base: &str, secret: &str) -> Vec<(String, String)> {
    vec![
        ("acme.toml".into(), tenant_file("acme", base)),
        ("acme.secret".into(), format!("{secret}\n")),
    ]
}

#[tokio::test]
async fn a_secret_volume_updated_as_the_kubelet_does_is_followed() {
    let mut volume = KubeletVolume::new();
    volume.update(&[]);
    let path = volume.path.clone();
    let app = spawn_app_with_sim(&["steady"], SimConfig::default(), |s| {
        s.tenants_dir = Some(path);
        assert_eq!(
            s.tenants_rescan,
            Duration::from_secs(30),
            "the default re-scan"
        );
    })
    .await;
    // The worker is up (so is its watcher) before the volume changes.
    let steady = app.names.tenant_queue("steady");
    eventually("steady consumed", || async {
        app.consumers(&steady).await == Some(1)
    })
    .await;
    let base = app.sim.base_url();
    let base = base.trim_end_matches('/');
    let queue = app.names.tenant_queue("acme");
    let at_both = |version: u64| {
        let app = &app;
        async move {
            let state = app.sim_state();
            [SimTarget::Genesys, SimTarget::Servicenow].iter().all(|t| {
                state
                    .tenant("acme")
                    .target(*t)
                    .held
                    .get("s")
                    .map(|r| r.version)
                    == Some(version)
            })
        }
    };

    // Added: the Secret gains the org's two keys.
    let swapped = Instant::now();
    volume.update(&files(base, "first-secret"));
    eventually("acme consumed", || async {
        app.consumers(&queue).await == Some(1)
    })
    .await;
    app.publish(&change("acme", "s", 1)).await;
    eventually("acme's first change at both targets", || at_both(1)).await;
    let added = swapped.elapsed();

    // Rotated: the service takes the new secret only; the volume follows. Tokens fetched
    // before stay valid at the simulator, so changes keep flowing until both targets have
    // fetched one with the new secret (the rotation applied), then the last one lands.
    app.sim.rotate_secret("acme", "second-secret");
    let swapped = Instant::now();
    volume.update(&files(base, "second-secret"));
    let mut version = 1;
    while app.sim.presented("acme", "second-secret") < 2 {
        assert!(
            swapped.elapsed() < common::DEADLINE,
            "no token fetched with the new secret within {:?}",
            common::DEADLINE
        );
        version += 1;
        app.publish(&change("acme", "s", version)).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eventually("acme's change after the rotation at both targets", || {
        at_both(version)
    })
    .await;
    let rotated = swapped.elapsed();

    // Removed: the org's keys leave the Secret.
    let swapped = Instant::now();
    volume.update(&[]);
    eventually("acme no longer consumed", || async {
        app.consumers(&queue).await == Some(0)
    })
    .await;
    let removed = swapped.elapsed();
    println!(
        "kubelet-style volume, default re-scan: added → first change delivered {:.2} s, \
         rotated → tokens from the new secret at both targets {:.2} s, removed → consumer gone {:.2} s",
        added.as_secs_f64(),
        rotated.as_secs_f64(),
        removed.as_secs_f64()
    );
    assert_eq!(
        app.depth(&app.names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
    assert_eq!(app.sim_state().total_violations(), 0);
    app.stop().await;
}
