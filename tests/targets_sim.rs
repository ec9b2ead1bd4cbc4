//! GenesysTarget and ServiceNowTarget against the built-in simulator on loopback: request
//! shapes, token handling, per-item judgement and the shared pause (zero violations).
//! Every test is bounded by a timeout; none sleeps or asserts on timing.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use scriptsync::change::ScriptChange;
use scriptsync::config::{RetrySettings, SecretString, Settings, TenantSettings};
use scriptsync::metrics::Metrics;
use scriptsync::sim::{Faults, InjectedResponse, SimConfig, SimHandle, SimTarget, Simulator};
use scriptsync::targets::genesys::GenesysTarget;
use scriptsync::targets::servicenow::ServiceNowTarget;
use scriptsync::targets::{FailureReason, PushItem, PushOutcome, Target, TargetContext};
use serde_json::json;

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
    Simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
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
    t.genesys.as_mut().unwrap().client_secret = Some(SecretString::from("g-secret"));
    t.servicenow.as_mut().unwrap().client_secret = Some(SecretString::from("s-secret"));
    t
}

fn context(max_attempts: usize) -> TargetContext {
    TargetContext {
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

fn item(tenant: &str, script: &str, version: u64, replay: bool) -> PushItem {
    let change: ScriptChange = serde_json::from_value(json!({
        "schema": "script-change/v1", "id": format!("{script}-v{version}"), "tenant": tenant,
        "script_id": script, "version": version, "version_hash": format!("h{version}"),
        "published_at": "2026-01-01T00:00:00Z", "disclaimer": "Calls are recorded",
    }))
    .unwrap();
    PushItem {
        change: Arc::new(change),
        replay,
    }
}

fn items(tenant: &str, n: usize, version: u64) -> Vec<PushItem> {
    (0..n)
        .map(|i| item(tenant, &format!("s{i}"), version, false))
        .collect()
}

fn assert_all_delivered(outcomes: &[PushOutcome]) {
    for (i, o) in outcomes.iter().enumerate() {
        assert!(
            matches!(o, PushOutcome::Delivered { .. }),
            "item {i}: {o:?}"
        );
    }
}

#[tokio::test]
async fn genesys_creates_missing_rows_then_updates_and_publishes() {
    bounded(async {
        let sim = sim().await;
        let t = tenant(&sim, "g1", "batch");
        let target = GenesysTarget::new("g1", t.genesys.as_ref().unwrap(), &context(10));
        // New rows: PUT → 404 → POST.
        let out = target.push(&items("g1", 3, 1)).await;
        assert_all_delivered(&out);
        let PushOutcome::Delivered {
            attempts,
            correlation_id,
        } = &out[0]
        else {
            unreachable!()
        };
        assert_eq!(*attempts, 2, "PUT (404) + POST");
        assert!(correlation_id.is_some());
        // Existing rows: PUT only; a version id makes it publish too.
        let mut second = items("g1", 3, 2);
        let mut with_publish = (*second[0].change).clone();
        with_publish.genesys_version_id = Some("0b5e0f2a-8d7c-4f4e-9a1b-2c3d4e5f6a7b".into());
        second[0].change = Arc::new(with_publish);
        assert_all_delivered(&target.push(&second).await);

        let state = sim.state().tenant("g1").genesys;
        assert_eq!(state.held.len(), 3);
        assert!(
            state
                .held
                .values()
                .all(|h| h.version == 2 && h.disclaimer.as_deref() == Some("Calls are recorded"))
        );
        assert_eq!(state.answered(404), 3);
        assert_eq!(state.published.len(), 1);
        assert_eq!(state.published[0].script_id, "s0");
        assert_eq!(state.violations, 0);
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn genesys_replays_skip_older_versions() {
    bounded(async {
        let sim = sim().await;
        let t = tenant(&sim, "g2", "batch");
        let target = GenesysTarget::new("g2", t.genesys.as_ref().unwrap(), &context(10));
        assert_all_delivered(&target.push(&[item("g2", "s/with space", 5, false)]).await);
        let replays = [
            item("g2", "s/with space", 3, true),
            item("g2", "s/with space", 6, true),
        ];
        let out = target.push(&replays).await;
        assert_eq!(out[0], PushOutcome::Superseded);
        assert!(
            matches!(out[1], PushOutcome::Delivered { .. }),
            "{:?}",
            out[1]
        );
        let held = sim.state().tenant("g2").genesys.held;
        assert_eq!(held["s/with space"].version, 6, "{held:?}");
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn genesys_record_error_is_permanent_for_that_item_only() {
    bounded(async {
        let sim = sim().await;
        let t = tenant(&sim, "g3", "batch");
        let faults = Faults {
            record_errors: BTreeSet::from(["s1".to_string()]),
            ..Faults::default()
        };
        sim.set_faults(Some("g3"), SimTarget::Genesys, faults);
        let target = GenesysTarget::new("g3", t.genesys.as_ref().unwrap(), &context(10));
        let out = target.push(&items("g3", 3, 1)).await;
        let PushOutcome::Failed(f) = &out[1] else {
            panic!("{:?}", out[1])
        };
        assert_eq!((f.reason, f.status), (FailureReason::Permanent, Some(400)));
        assert!(
            f.error.len() <= 1024 && !f.error.contains("g-secret"),
            "{}",
            f.error
        );
        assert!(
            matches!(out[0], PushOutcome::Delivered { .. })
                && matches!(out[2], PushOutcome::Delivered { .. })
        );
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn one_token_for_many_pushes_and_one_renewal_after_expiry() {
    bounded(async {
        let sim = sim().await;
        let t = tenant(&sim, "g4", "batch");
        let ctx = context(10);
        let genesys = GenesysTarget::new("g4", t.genesys.as_ref().unwrap(), &ctx);
        let servicenow = ServiceNowTarget::new("g4", t.servicenow.as_ref().unwrap(), &ctx);
        for version in 1..=3 {
            assert_all_delivered(&genesys.push(&items("g4", 10, version)).await);
            assert_all_delivered(&servicenow.push(&items("g4", 10, version)).await);
        }
        let state = sim.state().tenant("g4");
        assert_eq!(state.genesys.token_requests, 1);
        assert_eq!(state.servicenow.token_requests, 1);

        sim.expire_tokens(None);
        assert_all_delivered(&genesys.push(&items("g4", 10, 4)).await);
        assert_all_delivered(&servicenow.push(&items("g4", 10, 4)).await);
        let state = sim.state().tenant("g4");
        assert_eq!(
            state.genesys.token_requests, 2,
            "one renewal for every 401 of the old token"
        );
        assert_eq!(state.servicenow.token_requests, 2);
        assert!(state.genesys.answered(401) >= 1);
        assert!(state.genesys.held.values().all(|h| h.version == 4));
        assert!(state.servicenow.held.values().all(|h| h.version == 4));
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn servicenow_batch_judges_each_record() {
    bounded(async {
        let sim = sim().await;
        let t = tenant(&sim, "n1", "batch");
        let faults = Faults {
            record_errors: BTreeSet::from(["s2".to_string()]),
            ..Faults::default()
        };
        sim.set_faults(Some("n1"), SimTarget::Servicenow, faults);
        let target = ServiceNowTarget::new("n1", t.servicenow.as_ref().unwrap(), &context(10));
        let out = target.push(&items("n1", 5, 1)).await;
        for (i, o) in out.iter().enumerate() {
            match (i, o) {
                (2, PushOutcome::Failed(f)) => {
                    assert_eq!(f.reason, FailureReason::Permanent);
                    assert!(f.error.contains("error"), "{}", f.error);
                }
                (_, PushOutcome::Delivered { attempts: 1, .. }) if i != 2 => {}
                other => panic!("{other:?}"),
            }
        }
        let state = sim.state().tenant("n1").servicenow;
        assert_eq!(state.batch_calls, 1);
        assert_eq!(state.held.len(), 4);
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn servicenow_retries_only_unserviced_items() {
    bounded(async {
        let sim = sim().await;
        let t = tenant(&sim, "n2", "batch");
        let faults = Faults {
            unserviced: BTreeSet::from(["s1".to_string()]),
            ..Faults::default()
        };
        sim.set_faults(Some("n2"), SimTarget::Servicenow, faults);
        let target = ServiceNowTarget::new("n2", t.servicenow.as_ref().unwrap(), &context(3));
        let out = target.push(&items("n2", 3, 1)).await;
        assert!(
            matches!(out[0], PushOutcome::Delivered { attempts: 1, .. }),
            "{:?}",
            out[0]
        );
        assert!(
            matches!(out[2], PushOutcome::Delivered { attempts: 1, .. }),
            "{:?}",
            out[2]
        );
        let PushOutcome::Failed(f) = &out[1] else {
            panic!("{:?}", out[1])
        };
        assert_eq!((f.reason, f.attempts), (FailureReason::Exhausted, 3));
        let state = sim.state().tenant("n2").servicenow;
        assert_eq!(state.batch_calls, 3);
        assert!(
            state.held.values().all(|h| h.writes == 1),
            "delivered items were not resent"
        );
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn servicenow_truncated_200_is_retried_and_insert_multiple_delivers_all() {
    bounded(async {
        let sim = sim().await;
        let t = tenant(&sim, "n3", "batch");
        sim.set_faults(
            Some("n3"),
            SimTarget::Servicenow,
            Faults {
                truncated_200: 1,
                ..Faults::default()
            },
        );
        let target = ServiceNowTarget::new("n3", t.servicenow.as_ref().unwrap(), &context(10));
        let out = target.push(&items("n3", 2, 1)).await;
        assert!(
            out.iter()
                .all(|o| matches!(o, PushOutcome::Delivered { attempts: 2, .. })),
            "{out:?}"
        );

        let t = tenant(&sim, "n4", "insert_multiple");
        let target = ServiceNowTarget::new("n4", t.servicenow.as_ref().unwrap(), &context(10));
        assert_all_delivered(&target.push(&items("n4", 5, 1)).await);
        let state = sim.state().tenant("n4").servicenow;
        assert_eq!((state.batch_calls, state.held.len()), (1, 5));
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn a_429_pauses_every_concurrent_push_with_zero_violations() {
    bounded(async {
        let sim = sim().await;
        let t = tenant(&sim, "p1", "batch");
        let inject = vec![InjectedResponse::new(429).with_retry_after("2")];
        sim.set_faults(
            Some("p1"),
            SimTarget::Genesys,
            Faults {
                inject,
                ..Faults::default()
            },
        );
        let ctx = context(10);
        let target = GenesysTarget::new("p1", t.genesys.as_ref().unwrap(), &ctx);
        let out = target.push(&items("p1", 20, 1)).await;
        assert_all_delivered(&out);
        let state = sim.state().tenant("p1").genesys;
        assert_eq!(state.violations, 0, "{state:?}");
        assert_eq!(state.answered(429), 1);
        assert_eq!(state.held.len(), 20);
        let limited = ctx
            .metrics
            .counter_sum("scriptsync_rate_limited_total", &[("tenant", "p1")]);
        assert_eq!(limited, 1.0);

        // The same on ServiceNow: a 429 on the batch call retries the whole call.
        let inject = vec![InjectedResponse::new(429).with_retry_after("1")];
        sim.set_faults(
            Some("p1"),
            SimTarget::Servicenow,
            Faults {
                inject,
                ..Faults::default()
            },
        );
        let sn = ServiceNowTarget::new("p1", t.servicenow.as_ref().unwrap(), &ctx);
        assert_all_delivered(&sn.push(&items("p1", 20, 1)).await);
        let state = sim.state().tenant("p1").servicenow;
        assert_eq!((state.violations, state.batch_calls), (0, 1));
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn servicenow_password_grant_refreshes_and_basic_auth_needs_no_token() {
    bounded(async {
        let sim = sim().await;
        let mut t = tenant(&sim, "n5", "batch");
        let sn = t.servicenow.as_mut().unwrap();
        sn.auth = scriptsync::config::ServiceNowAuth::OauthPassword;
        sn.username = Some("integration.user".into());
        sn.password = Some(SecretString::from("pw"));
        let target = ServiceNowTarget::new("n5", t.servicenow.as_ref().unwrap(), &context(10));
        assert_all_delivered(&target.push(&items("n5", 3, 1)).await);
        sim.expire_tokens(None);
        assert_all_delivered(&target.push(&items("n5", 3, 2)).await);
        let state = sim.state().tenant("n5").servicenow;
        assert_eq!(state.token_requests, 2, "password grant, then one refresh");
        assert!(state.held.values().all(|h| h.version == 2));

        let mut t = tenant(&sim, "n6", "batch");
        let sn = t.servicenow.as_mut().unwrap();
        sn.auth = scriptsync::config::ServiceNowAuth::Basic;
        sn.username = Some("n6".into());
        sn.password = Some(SecretString::from("pw"));
        let target = ServiceNowTarget::new("n6", t.servicenow.as_ref().unwrap(), &context(10));
        assert_all_delivered(&target.push(&items("n6", 3, 1)).await);
        let state = sim.state().tenant("n6").servicenow;
        assert_eq!((state.token_requests, state.held.len()), (0, 3));
        sim.shutdown();
    })
    .await;
}
