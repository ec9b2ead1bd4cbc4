//! Tenants from a directory while the worker runs, against the real broker and the
//! simulator: a file added, a secret rotated while changes flow, settings changed, broken files,
//! a file removed and added back, on one replica and on two. Each case: nothing lost, never
//! older over newer, no token request with the old secret once the rotation settled, and the
//! tenant of the main file (`steady`) delivering throughout on the parts it started with.
//!
//! Here, what the tests share: the worker with a tenants directory, waiting for a delivery,
//! publishing a timed flow of changes and the time to target it took, and the clean history
//! every case ends with. The tests: `one_replica` (a file added, rotated, changed, broken and
//! removed on one worker), `two_replicas` (both replicas follow the directory), `tenants_cli`
//! (`scriptsync tenants list` and `check`) and `sighup` (a worker process reads again on
//! `SIGHUP`).

use crate::common;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use common::tenant_dir::TenantDir;
use common::{TestApp, change, eventually, spawn_app_with_sim};
use scriptsync_sim::{SimConfig, SimTarget};

mod one_replica;
mod sighup;
mod tenants_cli;
mod two_replicas;

/// The version of `script` `tenant`'s target holds now.
fn held(app: &TestApp, tenant: &str, target: SimTarget, script: &str) -> Option<u64> {
    let state = app.sim_state();
    state
        .tenant(tenant)
        .target(target)
        .held
        .get(script)
        .map(|r| r.version)
}

/// Waits until both targets hold `version` of `script`.
async fn delivered(app: &TestApp, tenant: &str, script: &str, version: u64) {
    eventually(
        &format!("{tenant}/{script} v{version} at both targets"),
        || async {
            [SimTarget::Genesys, SimTarget::Servicenow]
                .iter()
                .all(|t| held(app, tenant, *t, script) == Some(version))
        },
    )
    .await;
}

/// When each (tenant, script, version) was published (tokio's clock, which the simulator's
/// apply times share: one process).
type Published = Mutex<HashMap<(String, String, u64), tokio::time::Instant>>;

/// Publishes `versions` of `scripts` of `tenant` in order, `gap` apart, noting the times.
async fn publish_flow(
    (app, published): (&TestApp, &Published),
    tenant: &str,
    scripts: &[&str],
    versions: std::ops::RangeInclusive<u64>,
    gap: Duration,
) {
    for v in versions {
        for s in scripts {
            let now = tokio::time::Instant::now();
            published
                .lock()
                .unwrap()
                .insert((tenant.to_owned(), (*s).to_owned(), v), now);
            app.publish(&change(tenant, s, v)).await;
        }
        tokio::time::sleep(gap).await;
    }
}

/// p50 / p99 time to target of `tenant`'s changes published from `versions`, from their
/// publish to their first apply at either target (superseded versions have none). Printed
/// for the record; no test asserts a time.
fn time_to_target(
    applied: &[scriptsync_sim::Applied],
    published: &Published,
    tenant: &str,
    versions: std::ops::RangeInclusive<u64>,
) -> String {
    let published = published.lock().unwrap();
    let mut first: HashMap<(SimTarget, &str, u64), tokio::time::Instant> = HashMap::new();
    for a in applied
        .iter()
        .filter(|a| a.tenant == tenant && versions.contains(&a.version))
    {
        first
            .entry((a.target, a.script_id.as_str(), a.version))
            .or_insert(a.at);
    }
    let mut secs: Vec<f64> = first
        .iter()
        .filter_map(|((_, script, v), at)| {
            let sent = published.get(&(tenant.to_owned(), (*script).to_owned(), *v))?;
            Some(at.saturating_duration_since(*sent).as_secs_f64())
        })
        .collect();
    secs.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        secs.get(((secs.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    format!(
        "{} writes, p50 {:.3} s, p99 {:.3} s",
        secs.len(),
        pick(0.5),
        pick(0.99)
    )
}
/// No older version over a newer one, nothing in the DLQ, no violations.
async fn clean_history(app: &TestApp) {
    let state = app.sim_state();
    assert_eq!(
        state.total_violations(),
        0,
        "requests into a pause or over the quota"
    );
    for (tenant, t) in &state.tenants {
        for target in [&t.genesys, &t.servicenow] {
            assert_eq!(
                target.older_writes, 0,
                "{tenant}: an older version over a newer one"
            );
        }
    }
    assert_eq!(
        app.depth(&app.names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
}

async fn start(dir_setup: impl FnOnce(&TenantDir)) -> (TestApp, TenantDir) {
    let mut dir = None;
    let app = spawn_app_with_sim(&["steady"], SimConfig::default(), |s| {
        let d = TenantDir::for_settings(s);
        dir_setup(&d);
        // The fallback re-scan; change notices make it quicker.
        s.tenants_rescan = Duration::from_secs(2);
        s.admin.listen = "127.0.0.1:0".parse().unwrap();
        dir = Some(d);
    })
    .await;
    (app, dir.expect("the directory was written"))
}
