//! A pause the server asks for is not a failure (DESIGN §6), end to end: real RabbitMQ, the
//! whole worker, the simulator.
//!
//! - A ServiceNow rate-limit rule (5 requests per scaled "hour" of 30 s) already used up when
//!   the changes arrive, with a retry budget of 5 s: every change waits out the server's
//!   `Retry-After`, none is dead-lettered, nothing is sent before the server's time, Genesys
//!   delivers meanwhile.
//! - A gate closed past the hold limit (half of `broker.consumer_timeout`): the changes go to
//!   the (tenant, target) wait queue, come back when the gate reopens, and are delivered,
//!   newest last; their deliveries were acked long before, nothing is lost.
//!
//! Waits poll with a deadline; times are printed (`cargo test --test integration
//! long_pauses:: -- --nocapture`), never asserted.

mod parking;
mod servicenow_rules;

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{TestApp, change, spawn_app, spawn_app_with_sim, within};
use scriptsync::change::TargetKind;
use scriptsync_sim::fixtures::SIM_SECRET;
use scriptsync_sim::{Faults, InjectedResponse, SimConfig, SimTarget};

/// Uses up `tenant`'s ServiceNow rule of `limit` calls for the current window with empty Batch
/// API calls made as the tenant's own principal (without being refused: a refusal would tell
/// the simulator that this principal was asked to wait, which the worker never heard);
/// returns the seconds until the window ends (`X-RateLimit-Reset`).
async fn use_up_servicenow_rule(app: &TestApp, tenant: &str, limit: u32) -> u64 {
    let http = reqwest::Client::new();
    let url = format!("{}/api/now/v1/batch", app.sim.base_url());
    let mut reset = 0;
    for _ in 0..limit {
        let answer = http
            .post(&url)
            .basic_auth(tenant, Some(SIM_SECRET))
            .header("content-type", "application/json")
            .body(r#"{"batch_request_id":"use-up","rest_requests":[]}"#)
            .send()
            .await
            .expect("the simulator answers");
        assert_eq!(answer.status(), 200, "inside the rule");
        let header = answer
            .headers()
            .get("x-ratelimit-reset")
            .expect("X-RateLimit-Reset");
        reset = header
            .to_str()
            .unwrap()
            .parse::<u64>()
            .expect("UNIX seconds");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    reset.saturating_sub(now)
}

/// The newest version published per script.
fn newest(published: &[(String, u64)]) -> BTreeMap<String, u64> {
    let mut newest = BTreeMap::new();
    for (script, version) in published {
        let v = newest.entry(script.clone()).or_insert(0);
        *v = (*v).max(*version);
    }
    newest
}

/// True when `target` of `tenant` holds exactly `newest`.
fn holds(app: &TestApp, tenant: &str, target: SimTarget, newest: &BTreeMap<String, u64>) -> bool {
    let state = app.sim_state().tenant(tenant);
    let held = match target {
        SimTarget::Genesys => state.genesys.held,
        SimTarget::Servicenow => state.servicenow.held,
    };
    newest
        .iter()
        .all(|(s, v)| held.get(s).is_some_and(|h| h.version == *v))
}
