//! The retry and rate-limit engine end to end (DESIGN §6): real RabbitMQ, the whole worker,
//! the simulator. Shared pause across a tenant's concurrent changes, sustained overload of a
//! scaled quota, the retry budget, and ServiceNow's whole-call vs per-item retries.
//!
//! Every wait polls with a deadline; outcomes are asserted on the simulator's counts and its
//! answer order (`TargetState::recent`), never on wall-clock time. Elapsed times are only
//! printed (`cargo test --test integration retry_engine:: -- --nocapture`).

mod budget;
mod pauses;
mod servicenow_batches;

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{TestApp, change, eventually, spawn_app, spawn_app_with_sim};
use scriptsync::change::{ScriptChange, TargetKind};
use scriptsync_sim::{Faults, InjectedResponse, SimTarget, fixtures};

/// A change for one target only.
fn change_for(tenant: &str, script: &str, target: TargetKind) -> ScriptChange {
    let mut c = change(tenant, script, 1);
    c = c.to_builder().targets([target]).build().unwrap();
    c
}

fn faults_inject(inject: Vec<InjectedResponse>) -> Faults {
    Faults {
        inject,
        ..Faults::default()
    }
}

/// One change through the tenant's Genesys lane, so that the lane has listed its table and
/// faults injected afterwards meet the changes of the test, not the listing.
async fn warm_up_genesys(app: &TestApp, tenant: &str) {
    app.publish(&change_for(tenant, "warm-up", TargetKind::Genesys))
        .await;
    app.wait_settled(tenant, 1).await;
}

/// The single dead letter of a test, after it arrived.
async fn one_dead_letter(app: &TestApp) -> common::DeadLetterCopy {
    app.wait_dlq(1).await;
    let mut dead = app.drain_dlq().await;
    assert_eq!(dead.len(), 1, "exactly one dead letter");
    dead.remove(0)
}
