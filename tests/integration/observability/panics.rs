//! Supervised tasks: a request that panics inside a target (a decorator of the real targets,
//! armed by the test: the worker carries no fault hook) takes its lane down; the tenant's
//! loop is counted, restarted on a new connection, the broker redelivers, and repeated panics
//! fail `/readyz`.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;
use scriptsync::config::{ConfigError, TenantSettings};
use scriptsync::push::{Gate, GatePermit};
use scriptsync::targets::{Attempted, Job, Target, TargetLayer};

use super::*;
use crate::common::spawn_app_layered;

/// A real target that panics in its next `attempt` while `armed` is above zero (once per
/// count).
struct PanicOnArm {
    inner: Arc<dyn Target>,
    armed: Arc<AtomicUsize>,
}

impl PanicOnArm {
    fn layer(armed: Arc<AtomicUsize>) -> TargetLayer {
        Arc::new(move |inner| {
            let armed = armed.clone();
            Arc::new(PanicOnArm { inner, armed }) as Arc<dyn Target>
        })
    }
}

impl Target for PanicOnArm {
    fn kind(&self) -> TargetKind {
        self.inner.kind()
    }
    fn gate(&self) -> &Arc<Gate> {
        self.inner.gate()
    }
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
    fn prepare(&self) -> BoxFuture<'_, ()> {
        self.inner.prepare()
    }
    fn rotate_credentials<'a>(
        &'a self,
        tenant: &'a TenantSettings,
    ) -> BoxFuture<'a, Result<(), ConfigError>> {
        self.inner.rotate_credentials(tenant)
    }
    fn attempt<'a>(
        &'a self,
        permit: GatePermit,
        jobs: &'a mut [Job],
    ) -> BoxFuture<'a, Vec<Attempted>> {
        let fire = self
            .armed
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fire {
            panic!("armed by the test: {} request panics", self.kind());
        }
        self.inner.attempt(permit, jobs)
    }
}

/// Supervised tasks: a lane whose request panics (the target layer above) is logged and counted, its
/// tenant's consumers restart on a new connection, the broker requeues what they held and
/// the change is delivered; repeated panics make `/readyz` fail while `/healthz` stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_lane_is_counted_requeued_restarted_and_repeated_panics_fail_readyz() {
    use scriptsync::status::PanicLog;
    let tenant = "panicky";
    let armed = Arc::new(AtomicUsize::new(0));
    let layer = PanicOnArm::layer(armed.clone());
    let app = spawn_app_layered(&[tenant], SimConfig::default(), Some(layer), |s| {
        s.admin.listen = "127.0.0.1:0".parse().unwrap();
    })
    .await;
    let addr = admin(&app);
    let panics = |m: &Scrape| {
        ["genesys", "servicenow", "tenant"]
            .iter()
            .map(|t| {
                series(
                    m,
                    "scriptsync_task_panics_total",
                    &[("tenant", tenant), ("task", t)],
                )
            })
            .sum::<f64>()
    };
    let held = |script: &str| {
        let st = app.sim_state().tenant(tenant);
        st.genesys.held.get(script).is_some_and(|h| h.version == 1)
            && st
                .servicenow
                .held
                .get(script)
                .is_some_and(|h| h.version == 1)
    };
    for round in 1..=PanicLog::LIMIT {
        armed.fetch_add(1, Ordering::SeqCst);
        let script = format!("s{round}");
        app.publish(&change(tenant, &script, 1)).await;
        eventually("the panic is counted", || async {
            panics(&scrape(addr).await) == round as f64
        })
        .await;
        eventually(
            "the requeued change is delivered after the restart",
            || async { held(&script) },
        )
        .await;
        if round < PanicLog::LIMIT {
            eventually("ready again after one restart", || async {
                get(addr, "/readyz").await.0 == 200
            })
            .await;
        }
    }
    eventually("/readyz fails after repeated panics", || async {
        get(addr, "/readyz").await.0 == 503
    })
    .await;
    assert_eq!(get(addr, "/healthz").await.0, 200);
    app.wait_depth(&app.names.tenant_queue(tenant), 0).await;
    // What the panicked loops held went back to the broker: none of it is still counted as
    // held, on the status board or in `/metrics`.
    eventually("nothing held after the restarts", || async {
        app.status(tenant).inflight == 0
    })
    .await;
    let inflight = series(
        &scrape(addr).await,
        "scriptsync_inflight",
        &[("tenant", tenant)],
    );
    assert_eq!(inflight, 0.0);
    app.stop().await;
}
