//! GenesysTarget and ServiceNowTarget, each driven by a real lane (no broker), against the
//! built-in simulator on loopback: request shapes, one request per row, token handling,
//! per-item judgement and retries, and the shared pause (zero violations).
//! Every test is bounded by a timeout; none sleeps or asserts on timing.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scriptsync::change::ScriptChange;
use scriptsync::config::{RetrySettings, Secret, SecretString, Settings, TenantSettings};
use scriptsync::metrics::Metrics;
use scriptsync::pipeline::lane::{LaneContext, Offer, Report, Reporter, run_lane};
use scriptsync::push::Schedule;
use scriptsync::targets::genesys::GenesysTarget;
use scriptsync::targets::servicenow::ServiceNowTarget;
use scriptsync::targets::{FailureReason, PushFailure, Target, TargetContext};
use scriptsync_sim::{Faults, InjectedResponse, SimConfig, SimHandle, SimTarget, fixtures};
use serde_json::json;
use tokio_util::sync::CancellationToken;

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

/// What a lane ended with for one script.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Delivered(u64),
    AlreadyHeld(u64),
    Failed(PushFailure),
}

/// Runs `target` through a real lane: offers `changes` (`replay` marks them all as replays),
/// closes the offers and waits until the lane is idle. The last report per script.
async fn drive(
    target: Arc<dyn Target>,
    ctx: &TargetContext,
    changes: Vec<Arc<ScriptChange>>,
    replay: bool,
) -> BTreeMap<String, Outcome> {
    let lane = Arc::new(LaneContext {
        tenant: changes
            .first()
            .map(|c| c.tenant().to_owned())
            .unwrap_or_default(),
        target,
        high_water: Arc::default(),
        schedule: Schedule::new(&ctx.retry),
        metrics: ctx.metrics.clone(),
        linger: Duration::ZERO,
        hold_limit: Duration::from_secs(3600),
    });
    let outcomes = Arc::new(Mutex::new(BTreeMap::new()));
    let reporter: Reporter = {
        let outcomes = outcomes.clone();
        Arc::new(move |report| {
            let (script, outcome) = match report {
                Report::Reached {
                    script,
                    version,
                    pushed: true,
                } => (script, Outcome::Delivered(version)),
                Report::Reached {
                    script, version, ..
                } => (script, Outcome::AlreadyHeld(version)),
                Report::Failed {
                    script, failure, ..
                } => (script, Outcome::Failed(failure)),
                other => panic!("no gate stays closed for an hour here: {other:?}"),
            };
            outcomes.lock().unwrap().insert(script, outcome);
        })
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    for change in changes {
        let span = tracing::Span::none();
        tx.send(Offer {
            change,
            replay,
            returning: false,
            span,
        })
        .unwrap();
    }
    drop(tx);
    run_lane(lane, rx, reporter, CancellationToken::new()).await;
    outcomes.lock().unwrap().clone()
}

fn assert_all_delivered(outcomes: &BTreeMap<String, Outcome>, n: usize) {
    assert_eq!(outcomes.len(), n, "{outcomes:?}");
    for (script, o) in outcomes {
        assert!(matches!(o, Outcome::Delivered(_)), "{script}: {o:?}");
    }
}

fn genesys(sim: &SimHandle, id: &str, ctx: &TargetContext) -> Arc<dyn Target> {
    let t = tenant(sim, id, "batch");
    Arc::new(GenesysTarget::new(id, t.genesys.as_ref().unwrap(), ctx).unwrap())
}

fn servicenow(sim: &SimHandle, id: &str, mode: &str, ctx: &TargetContext) -> Arc<dyn Target> {
    let t = tenant(sim, id, mode);
    Arc::new(ServiceNowTarget::new(id, t.servicenow.as_ref().unwrap(), ctx, 100).unwrap())
}

#[tokio::test]
async fn genesys_creates_new_rows_with_one_request_then_updates_and_publishes() {
    bounded(async {
        let sim = sim().await;
        let ctx = context(10);
        let target = genesys(&sim, "g1", &ctx);
        // The lane lists the (empty) table first, so new rows cost one POST each.
        assert_all_delivered(
            &drive(target.clone(), &ctx, changes("g1", 3, 1), false).await,
            3,
        );
        let state = sim.state().tenant("g1").genesys;
        assert_eq!(
            state.answered(404),
            0,
            "no PUT before the POST: {:?}",
            state.paths
        );
        let posts = "POST /api/v2/flows/datatables/dt-1/rows";
        assert_eq!(state.paths.get(posts), Some(&3));
        // Existing rows: PUT only; a version id makes it publish too.
        let mut second = changes("g1", 3, 2);
        let mut with_publish = (*second[0]).clone();
        with_publish = with_publish
            .to_builder()
            .genesys_version_id("0b5e0f2a-8d7c-4f4e-9a1b-2c3d4e5f6a7b")
            .build()
            .unwrap();
        second[0] = Arc::new(with_publish);
        assert_all_delivered(&drive(target, &ctx, second, false).await, 3);

        let state = sim.state().tenant("g1").genesys;
        assert_eq!(state.held.len(), 3);
        assert!(
            state
                .held
                .values()
                .all(|h| h.version == 2 && h.disclaimer.as_deref() == Some("Calls are recorded"))
        );
        assert_eq!(state.answered(404), 0);
        assert_eq!(state.paths.get(posts), Some(&3), "updates are PUTs");
        assert_eq!(state.published.len(), 1);
        assert_eq!(state.published[0].script_id, "s0");
        assert_eq!(state.violations, 0);
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn genesys_stale_knowledge_falls_back_to_post_and_to_put() {
    bounded(async {
        let sim = sim().await;
        let ctx = context(10);
        // Learns an empty table, then another writer creates "s1" behind its back.
        let target = genesys(&sim, "g5", &ctx);
        assert_all_delivered(
            &drive(target.clone(), &ctx, changes("g5", 1, 1), false).await,
            1,
        );
        let other = genesys(&sim, "g5", &ctx);
        assert_all_delivered(
            &drive(other.clone(), &ctx, vec![change("g5", "s1", 1)], false).await,
            1,
        );
        // The next lane's listing is refused, so `target` keeps what it knew and believes
        // s1 is new: POST → 409 → PUT.
        let refused = InjectedResponse::new(400);
        let faults = Faults {
            inject: vec![refused],
            ..Faults::default()
        };
        sim.set_faults(Some("g5"), SimTarget::Genesys, faults);
        let out = drive(target, &ctx, vec![change("g5", "s1", 2)], false).await;
        assert_eq!(out["s1"], Outcome::Delivered(2));
        let state = sim.state().tenant("g5").genesys;
        assert_eq!((state.answered(400), state.answered(409)), (1, 1));
        assert_eq!(state.held["s1"].version, 2);
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn genesys_replays_skip_older_versions() {
    bounded(async {
        let sim = sim().await;
        let ctx = context(10);
        let target = genesys(&sim, "g2", &ctx);
        let script = "s/with space";
        let first = vec![change("g2", script, 5)];
        assert_all_delivered(&drive(target.clone(), &ctx, first, false).await, 1);
        let out = drive(target.clone(), &ctx, vec![change("g2", script, 3)], true).await;
        assert_eq!(out[script], Outcome::AlreadyHeld(5));
        let out = drive(target, &ctx, vec![change("g2", script, 6)], true).await;
        assert_eq!(out[script], Outcome::Delivered(6));
        let held = sim.state().tenant("g2").genesys.held;
        assert_eq!(held[script].version, 6, "{held:?}");
        assert_eq!(held[script].writes, 2, "v3 was never written");
        sim.shutdown();
    })
    .await;
}

/// A restarted worker (a new target, knowing nothing) lists the rows with their versions: a
/// change older than its row, arriving as a new message (not a redelivery), is held already
/// and never written, without a request of its own; a newer one is written with one PUT.
#[tokio::test]
async fn genesys_after_a_restart_never_writes_an_older_new_message() {
    bounded(async {
        let sim = sim().await;
        let ctx = context(10);
        let script = "s-restart";
        let before = genesys(&sim, "g6", &ctx);
        assert_all_delivered(
            &drive(before, &ctx, vec![change("g6", script, 5)], false).await,
            1,
        );
        let after = genesys(&sim, "g6", &ctx);
        let out = drive(after.clone(), &ctx, vec![change("g6", script, 3)], false).await;
        assert_eq!(out[script], Outcome::AlreadyHeld(5));
        let out = drive(after, &ctx, vec![change("g6", script, 5)], false).await;
        assert_eq!(out[script], Outcome::AlreadyHeld(5), "equal: superseded");
        let state = sim.state().tenant("g6").genesys;
        assert_eq!(state.held[script].version, 5, "{:?}", state.held);
        assert_eq!((state.writes, state.older_writes), (1, 0));
        let row = format!(
            "/api/v2/flows/datatables/{}/rows/{script}",
            fixtures::SIM_DATATABLE
        );
        assert!(
            !state.paths.keys().any(|p| p.ends_with(&row)),
            "no row read or write after the restart: {:?}",
            state.paths
        );
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn genesys_record_error_is_permanent_for_that_item_only() {
    bounded(async {
        let sim = sim().await;
        let faults = Faults {
            record_errors: BTreeSet::from(["s1".to_string()]),
            ..Faults::default()
        };
        sim.set_faults(Some("g3"), SimTarget::Genesys, faults);
        let ctx = context(10);
        let out = drive(genesys(&sim, "g3", &ctx), &ctx, changes("g3", 3, 1), false).await;
        let Outcome::Failed(f) = &out["s1"] else {
            panic!("{:?}", out["s1"])
        };
        assert_eq!((f.reason, f.status), (FailureReason::Permanent, Some(400)));
        assert!(
            f.error.len() <= 1024 && !f.error.contains("g-secret"),
            "{}",
            f.error
        );
        assert_eq!(out["s0"], Outcome::Delivered(1));
        assert_eq!(out["s2"], Outcome::Delivered(1));
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn one_token_for_many_pushes_and_one_renewal_after_expiry() {
    bounded(async {
        let sim = sim().await;
        let ctx = context(10);
        let g = genesys(&sim, "g4", &ctx);
        let sn = servicenow(&sim, "g4", "batch", &ctx);
        for version in 1..=3 {
            assert_all_delivered(
                &drive(g.clone(), &ctx, changes("g4", 10, version), false).await,
                10,
            );
            assert_all_delivered(
                &drive(sn.clone(), &ctx, changes("g4", 10, version), false).await,
                10,
            );
        }
        let state = sim.state().tenant("g4");
        assert_eq!(state.genesys.token_requests, 1);
        assert_eq!(state.servicenow.token_requests, 1);

        sim.expire_tokens(None);
        assert_all_delivered(&drive(g, &ctx, changes("g4", 10, 4), false).await, 10);
        assert_all_delivered(&drive(sn, &ctx, changes("g4", 10, 4), false).await, 10);
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
        let faults = Faults {
            record_errors: BTreeSet::from(["s2".to_string()]),
            ..Faults::default()
        };
        sim.set_faults(Some("n1"), SimTarget::Servicenow, faults);
        let ctx = context(10);
        let out = drive(
            servicenow(&sim, "n1", "batch", &ctx),
            &ctx,
            changes("n1", 5, 1),
            false,
        )
        .await;
        for (script, o) in &out {
            match (script.as_str(), o) {
                ("s2", Outcome::Failed(f)) => {
                    assert_eq!(f.reason, FailureReason::Permanent);
                    assert!(f.error.contains("error"), "{}", f.error);
                }
                (s, Outcome::Delivered(1)) if s != "s2" => {}
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
        let faults = Faults {
            unserviced: BTreeSet::from(["s1".to_string()]),
            ..Faults::default()
        };
        sim.set_faults(Some("n2"), SimTarget::Servicenow, faults);
        let ctx = context(3);
        let out = drive(
            servicenow(&sim, "n2", "batch", &ctx),
            &ctx,
            changes("n2", 3, 1),
            false,
        )
        .await;
        assert_eq!(out["s0"], Outcome::Delivered(1));
        assert_eq!(out["s2"], Outcome::Delivered(1));
        let Outcome::Failed(f) = &out["s1"] else {
            panic!("{:?}", out["s1"])
        };
        assert_eq!((f.reason, f.attempts), (FailureReason::Exhausted, 3));
        let state = sim.state().tenant("n2").servicenow;
        assert_eq!(state.batch_calls, 3);
        assert_eq!(
            state.sub_requests, 5,
            "3 in the first call, then s1 alone twice"
        );
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
        sim.set_faults(
            Some("n3"),
            SimTarget::Servicenow,
            Faults {
                truncated_200: 1,
                ..Faults::default()
            },
        );
        let ctx = context(10);
        let out = drive(
            servicenow(&sim, "n3", "batch", &ctx),
            &ctx,
            changes("n3", 2, 1),
            false,
        )
        .await;
        assert_all_delivered(&out, 2);
        assert_eq!(sim.state().tenant("n3").servicenow.batch_calls, 2);

        let target = servicenow(&sim, "n4", "insert_multiple", &ctx);
        assert_all_delivered(&drive(target, &ctx, changes("n4", 5, 1), false).await, 5);
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
        let out = drive(genesys(&sim, "p1", &ctx), &ctx, changes("p1", 20, 1), false).await;
        assert_all_delivered(&out, 20);
        let state = sim.state().tenant("p1").genesys;
        assert_eq!(state.violations, 0, "{state:?}");
        assert_eq!(state.answered(429), 1);
        assert_eq!(state.held.len(), 20);
        let limited = ctx
            .metrics
            .board()
            .tenant("p1")
            .sum_targets(|t| t.rate_limited);
        assert_eq!(limited, 1);

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
        let sn = servicenow(&sim, "p1", "batch", &ctx);
        assert_all_delivered(&drive(sn, &ctx, changes("p1", 20, 1), false).await, 20);
        let state = sim.state().tenant("p1").servicenow;
        assert_eq!(
            (state.violations, state.batch_calls),
            (0, 1),
            "the 429 is no call"
        );
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn servicenow_password_grant_refreshes_and_basic_auth_needs_no_token() {
    bounded(async {
        let sim = sim().await;
        let ctx = context(10);
        let mut t = tenant(&sim, "n5", "batch");
        let sn = t.servicenow.as_mut().unwrap();
        sn.auth = scriptsync::config::ServiceNowAuth::OauthPassword;
        sn.username = Some("integration.user".into());
        sn.password = Some(Secret::inline(SecretString::from("pw")));
        let target: Arc<dyn Target> = Arc::new(
            ServiceNowTarget::new("n5", t.servicenow.as_ref().unwrap(), &ctx, 100).unwrap(),
        );
        assert_all_delivered(
            &drive(target.clone(), &ctx, changes("n5", 3, 1), false).await,
            3,
        );
        sim.expire_tokens(None);
        assert_all_delivered(&drive(target, &ctx, changes("n5", 3, 2), false).await, 3);
        let state = sim.state().tenant("n5").servicenow;
        assert_eq!(state.token_requests, 2, "password grant, then one refresh");
        assert!(state.held.values().all(|h| h.version == 2));

        let mut t = tenant(&sim, "n6", "batch");
        let sn = t.servicenow.as_mut().unwrap();
        sn.auth = scriptsync::config::ServiceNowAuth::Basic;
        sn.username = Some("n6".into());
        sn.password = Some(Secret::inline(SecretString::from("pw")));
        let target: Arc<dyn Target> = Arc::new(
            ServiceNowTarget::new("n6", t.servicenow.as_ref().unwrap(), &ctx, 100).unwrap(),
        );
        assert_all_delivered(&drive(target, &ctx, changes("n6", 3, 1), false).await, 3);
        let state = sim.state().tenant("n6").servicenow;
        assert_eq!((state.token_requests, state.held.len()), (0, 3));
        sim.shutdown();
    })
    .await;
}
