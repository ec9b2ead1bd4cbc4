//! GenesysTarget and ServiceNowTarget, each driven by a real lane (no broker), against the
//! built-in simulator on loopback: request shapes, one request per row, token handling,
//! per-item judgement and retries, and the shared pause (zero violations).
//! Every test is bounded by a timeout; none sleeps or asserts on timing.
//!
//! Here, the simulator, the tenant's settings, the targets and the changes the tests use;
//! the lane that drives a target in `lane`; the tests in `genesys` (rows and publishing),
//! `servicenow` (batch calls judged per record), `tokens` (fetched once, renewed once, each
//! grant) and `pauses` (a 429 pauses every push of the tenant).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use scriptsync::change::ScriptChange;
use scriptsync::config::{RetrySettings, Secret, SecretString, Settings, TenantSettings};
use scriptsync::metrics::Metrics;
use scriptsync::targets::genesys::GenesysTarget;
use scriptsync::targets::servicenow::ServiceNowTarget;
use scriptsync::targets::{Target, TargetContext};
use scriptsync_sim::{SimConfig, SimHandle, fixtures};
use serde_json::json;

mod genesys;
mod lane;
mod pauses;
mod servicenow;
mod tokens;

/// Upper bound of any one test.
const TEST_LIMIT: Duration = Duration::from_secs(60);

async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .expect("test took too long");
}

/// The simulator with a Genesys quota far above the tests' gate rate: these tests are about
/// request shapes and pauses, not about pacing (the gate's unit tests cover that).
async fn sim() -> SimHandle {
    let config = SimConfig {
        genesys_requests_per_minute: 100_000,
        ..SimConfig::default()
    };
    fixtures::start(config).await.unwrap()
}

fn tenant(sim: &SimHandle, id: &str, sn_mode: &str) -> TenantSettings {
    let base = sim.base_url();
    let toml = format!(
        r#"
        [[tenants]]
        id = "{id}"
        [tenants.genesys]
        api_base = "{base}"
        login_base = "{base}"
        client_id = "{id}"
        client_secret_env = "UNUSED"
        datatable_id = "dt-1"
        publish_scripts = true
        requests_per_minute = 6000
        [tenants.servicenow]
        instance_url = "{base}"
        auth = "oauth_client_credentials"
        client_id = "{id}"
        staging_table = "u_scriptsync_import"
        mode = "{sn_mode}"
        "#
    );
    let mut t = Settings::from_toml_str(&toml).unwrap().tenants.remove(0);
    t.genesys.as_mut().unwrap().client_secret = Secret::inline(SecretString::from("g-secret"));
    t.servicenow.as_mut().unwrap().client_secret =
        Some(Secret::inline(SecretString::from("s-secret")));
    t
}

fn context(max_attempts: usize) -> TargetContext {
    TargetContext {
        max_changes: 100,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        retry: RetrySettings {
            initial: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            max_attempts,
            max_elapsed: Duration::from_secs(30),
            ..RetrySettings::default()
        },
        metrics: Arc::new(Metrics::new()),
    }
}

fn change(tenant: &str, script: &str, version: u64) -> Arc<ScriptChange> {
    let change: ScriptChange = serde_json::from_value(json!({
        "schema": "script-change/v1", "id": format!("{script}-v{version}"), "tenant": tenant,
        "script_id": script, "version": version, "version_hash": format!("h{version}"),
        "published_at": "2026-01-01T00:00:00Z", "disclaimer": "Calls are recorded",
    }))
    .unwrap();
    Arc::new(change)
}

fn changes(tenant: &str, n: usize, version: u64) -> Vec<Arc<ScriptChange>> {
    (0..n)
        .map(|i| change(tenant, &format!("s{i}"), version))
        .collect()
}
fn genesys(sim: &SimHandle, id: &str, ctx: &TargetContext) -> Arc<dyn Target> {
    let t = tenant(sim, id, "batch");
    Arc::new(GenesysTarget::new(id, t.genesys.as_ref().unwrap(), ctx).unwrap())
}

fn servicenow(sim: &SimHandle, id: &str, mode: &str, ctx: &TargetContext) -> Arc<dyn Target> {
    let t = tenant(sim, id, mode);
    Arc::new(ServiceNowTarget::new(id, t.servicenow.as_ref().unwrap(), ctx, 100).unwrap())
}
