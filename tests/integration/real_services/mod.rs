//! The worker against the services as they really behave (DESIGN §5, §12), one test per
//! behaviour the simulator reproduces: the org's limits, a quota shared with another
//! integration, a configured quota far above the real one, the older 429 wording, a daily
//! limit, a full data table, a duplicate row answered 400, and retiring scripts (also from the
//! DLQ). Real RabbitMQ, the whole worker; assertions on what the simulator saw and what sits in
//! the queues, never on time.

mod data_table;
mod quota;
mod retiring;

use crate::common;

use std::time::Duration;

use common::{TestApp, change, eventually, genesys_only, spawn_app, spawn_app_with_sim};
use scriptsync::broker::Publisher;
use scriptsync::change::{ScriptChange, TargetKind};
use scriptsync::dlq::replay::{ReplayOptions, replay};
use scriptsync::dlq::{Filter, Reason};
use scriptsync_sim::fixtures::{self, SIM_DATATABLE, SIM_SECRET};
use scriptsync_sim::{Faults, InjectedResponse, SimConfig, SimTarget};

/// A retire of `script` at `version`.
fn retire(tenant: &str, script: &str, version: u64) -> ScriptChange {
    let id = format!("{tenant}-{script}-retire-{version}");
    ScriptChange::retire_builder(id, tenant, script, version)
        .published_at("2026-12-04T09:00:00Z")
        .build()
        .unwrap()
}

/// A worker told `told` Genesys requests per `window`.
async fn quota_app(tenant: &str, sim: SimConfig, told: u32, window: Duration) -> TestApp {
    spawn_app_with_sim(&[tenant], sim, |s| {
        let g = s.tenants[0].genesys.as_mut().unwrap();
        g.requests_per_minute = told;
        g.window = window;
        s.retry.max_elapsed = Duration::from_secs(120);
    })
    .await
}

/// The tenant's Genesys gate ceiling now, requests per minute.
fn genesys_ceiling(app: &TestApp, tenant: &str) -> f64 {
    let gate = app.status(tenant).target(TargetKind::Genesys);
    gate.gate_ceiling.expect("the gate has a ceiling")
}

/// Publishes `n` new Genesys-only scripts and waits until all are settled.
async fn publish_scripts(app: &TestApp, tenant: &str, n: usize) {
    for i in 0..n {
        app.publish(&genesys_only(tenant, &format!("s{i}"), 1))
            .await;
    }
    app.wait_settled(tenant, n as u64).await;
}
