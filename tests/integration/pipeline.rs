//! The walking skeleton end to end: real RabbitMQ, the real worker, the simulator.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{change, eventually, spawn_app};
use scriptsync::change::TargetKind;
use scriptsync::status::PushOutcomeLabel;
use scriptsync_sim::{Faults, SimTarget};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_three_tenants_reach_both_targets() {
    let tenants = ["alpha", "bravo", "charlie"];
    let app = spawn_app(&tenants, |_| {}).await;
    for t in tenants {
        for s in 0..5 {
            app.publish(&change(t, &format!("script-{s}"), 1)).await;
        }
    }
    for t in tenants {
        app.wait_settled(t, 5).await;
    }
    let state = app.sim_state();
    for t in tenants {
        let ts = &state.tenants[t];
        for s in 0..5 {
            let script = format!("script-{s}");
            assert_eq!(ts.genesys.held[&script].version, 1, "{t} genesys {script}");
            assert_eq!(
                ts.servicenow.held[&script].version, 1,
                "{t} servicenow {script}"
            );
        }
        assert_eq!(
            app.depth(&app.names.tenant_queue(t)).await,
            0,
            "{t} queue empty"
        );
    }
    let delivered = app
        .board
        .snapshot()
        .total(|t| t.sum_targets(|x| x.pushes.get(PushOutcomeLabel::Delivered)));
    assert_eq!(delivered, 30);
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    app.stop().await;
}

/// With several broker addresses (`broker.urls`) the worker connects to one that answers:
/// here the first is a closed port, the other the local broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_broker_addresses_connect_to_one_that_answers() {
    let app = spawn_app(&["nodes"], |s| {
        s.broker.url = "amqp://127.0.0.1:1/%2f".into();
        s.broker.other_urls = vec![common::BROKER_URL.into()];
    })
    .await;
    app.publish(&change("nodes", "script-0", 1)).await;
    app.wait_settled("nodes", 1).await;
    assert_eq!(
        app.sim_state().tenants["nodes"].genesys.held["script-0"].version,
        1
    );
    app.stop().await;
}

/// Every request to a target names the replica that sent it (`X-Scriptsync-Replica`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_names_its_replica() {
    let app = spawn_app(&["named"], |s| s.replica.id = Some("replica-7".into())).await;
    for s in 0..3 {
        app.publish(&change("named", &format!("script-{s}"), 1))
            .await;
    }
    app.wait_settled("named", 3).await;
    let state = app.sim_state();
    for target in [SimTarget::Genesys, SimTarget::Servicenow] {
        let t = state.tenants["named"].target(target);
        let total: u64 = t.requests.values().sum();
        let runs: Vec<(&str, u64)> = t
            .replicas
            .iter()
            .map(|r| (r.replica.as_str(), r.requests))
            .collect();
        assert!(total > 0, "{target:?}");
        assert_eq!(runs, [("replica-7", total)], "{target:?}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_versions_in_one_window_coalesce_into_one_push_per_target() {
    let app = spawn_app(&["coal"], |s| s.batch.linger = Duration::from_millis(1500)).await;
    for v in 1..=10 {
        app.publish(&change("coal", "busy-script", v)).await;
    }
    app.wait_settled("coal", 10).await;
    let state = app.sim_state();
    let ts = &state.tenants["coal"];
    assert_eq!(ts.genesys.held["busy-script"].version, 10);
    assert_eq!(
        ts.genesys.held["busy-script"].writes, 1,
        "one Genesys write"
    );
    assert_eq!(ts.servicenow.held["busy-script"].version, 10);
    assert_eq!(ts.servicenow.batch_calls, 1, "one ServiceNow batch call");
    assert_eq!(app.status("coal").superseded, 9);
    assert_eq!(
        app.depth(&app.names.tenant_queue("coal")).await,
        0,
        "all 10 acked"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_version_never_overwrites_a_newer_one() {
    let app = spawn_app(&["ord"], |_| {}).await;
    app.publish(&change("ord", "s", 5)).await;
    app.wait_settled("ord", 1).await;
    app.publish(&change("ord", "s", 3)).await;
    app.wait_settled("ord", 2).await;
    let state = app.sim_state();
    assert_eq!(state.tenants["ord"].genesys.held["s"].version, 5);
    assert_eq!(state.tenants["ord"].servicenow.held["s"].version, 5);
    assert_eq!(
        state.tenants["ord"].genesys.held["s"].writes, 1,
        "v3 was never sent"
    );
    assert_eq!(app.status("ord").superseded, 1);
    assert_eq!(app.depth(&app.names.tenant_queue("ord")).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_servicenow_pushes_to_servicenow_only() {
    let app = spawn_app(&["sn"], |_| {}).await;
    let mut c = change("sn", "only-sn", 1);
    c = c
        .to_builder()
        .targets([TargetKind::Servicenow])
        .build()
        .unwrap();
    app.publish(&c).await;
    app.wait_settled("sn", 1).await;
    let state = app.sim_state();
    let ts = &state.tenants["sn"];
    assert_eq!(ts.servicenow.held["only-sn"].version, 1);
    assert!(!ts.genesys.held.contains_key("only-sn"));
    assert_eq!(
        ts.genesys.requests.values().sum::<u64>(),
        0,
        "no Genesys request at all"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_and_unknown_tenant_messages_are_dead_lettered_unchanged() {
    let app = spawn_app(&["inv"], |_| {}).await;
    let not_json = b"{not json".to_vec();
    let mut bad_version = serde_json::to_value(change("inv", "s", 1)).unwrap();
    bad_version["version"] = serde_json::json!(0);
    let bad_version = serde_json::to_vec(&bad_version).unwrap();
    let mismatch = serde_json::to_vec(&change("other", "s", 1)).unwrap();
    let unknown = serde_json::to_vec(&change("nobody", "s", 1)).unwrap();
    app.publish_raw("inv", &not_json).await;
    app.publish_raw("inv", &bad_version).await;
    app.publish_raw("inv", &mismatch).await;
    app.publish_raw("nobody", &unknown).await;
    app.publish(&change("inv", "good", 1)).await;
    app.wait_dlq(4).await;
    app.wait_settled("inv", 4).await;
    let dead = app.drain_dlq().await;
    assert_eq!(dead.len(), 4);
    for (body, reason) in [
        (&not_json, "invalid"),
        (&bad_version, "invalid"),
        (&mismatch, "invalid"),
        (&unknown, "unknown_tenant"),
    ] {
        let found = dead
            .iter()
            .find(|d| &d.body == body)
            .expect("body kept byte for byte");
        assert_eq!(found.header("x-scriptsync-reason").as_deref(), Some(reason));
        assert!(
            found
                .header("x-scriptsync-error")
                .is_some_and(|e| !e.is_empty())
        );
        assert!(found.header("x-scriptsync-dead-lettered-at").is_some());
    }
    let state = app.sim_state();
    assert_eq!(
        state.tenants["inv"].genesys.held["good"].version, 1,
        "valid message still delivered"
    );
    assert_eq!(app.depth(&app.names.tenant_queue("inv")).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_servicenow_item_error_dead_letters_only_that_change() {
    let app = spawn_app(&["perm"], |s| s.batch.linger = Duration::from_millis(500)).await;
    let faults = Faults {
        record_errors: BTreeSet::from(["bad-script".to_string()]),
        ..Default::default()
    };
    app.sim
        .set_faults(Some("perm"), SimTarget::Servicenow, faults);
    for s in ["a", "b", "bad-script", "c"] {
        app.publish(&change("perm", s, 1)).await;
    }
    app.wait_settled("perm", 4).await;
    app.wait_dlq(1).await;
    let dead = app.drain_dlq().await;
    assert_eq!(dead.len(), 1);
    let d = &dead[0];
    assert_eq!(
        d.header("x-scriptsync-reason").as_deref(),
        Some("permanent")
    );
    assert_eq!(
        d.header("x-scriptsync-targets").as_deref(),
        Some("servicenow")
    );
    assert_eq!(d.header("x-scriptsync-tenant").as_deref(), Some("perm"));
    let parsed: serde_json::Value = serde_json::from_slice(&d.body).unwrap();
    assert_eq!(parsed["script_id"], "bad-script");
    let state = app.sim_state();
    let ts = &state.tenants["perm"];
    for s in ["a", "b", "c"] {
        assert_eq!(ts.servicenow.held[s].version, 1);
    }
    assert!(!ts.servicenow.held.contains_key("bad-script"));
    assert_eq!(ts.genesys.held["bad-script"].version, 1, "Genesys took it");
    assert_eq!(app.depth(&app.names.tenant_queue("perm")).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_serves_many_pushes_and_an_expired_token_is_renewed_once() {
    let app = spawn_app(&["tok"], |_| {}).await;
    for s in 0..20 {
        app.publish(&change("tok", &format!("s{s}"), 1)).await;
    }
    app.wait_settled("tok", 20).await;
    let before = app.sim_state();
    assert_eq!(before.tenants["tok"].genesys.token_requests, 1);
    assert_eq!(before.tenants["tok"].servicenow.token_requests, 1);

    app.sim.expire_tokens(None);
    app.publish(&change("tok", "s0", 2)).await;
    app.wait_settled("tok", 21).await;
    let after = app.sim_state();
    let ts = &after.tenants["tok"];
    assert_eq!(ts.genesys.held["s0"].version, 2);
    assert_eq!(ts.servicenow.held["s0"].version, 2);
    assert_eq!(ts.genesys.token_requests, 2, "exactly one Genesys renewal");
    assert_eq!(
        ts.servicenow.token_requests, 2,
        "exactly one ServiceNow renewal"
    );
    assert_eq!(ts.genesys.requests.get(&401).copied(), Some(1));
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    eventually("nothing left unacked", || async {
        app.depth(&app.names.tenant_queue("tok")).await == 0
    })
    .await;
    app.stop().await;
}
