//! Real dead letters (ServiceNow refusing records of two tenants): every envelope header of
//! DESIGN §7 is there, `inspect` and `dlq stats` / `dlq list` read them without moving
//! anything, and a replay for the fixed tenant delivers its letters and leaves the other
//! tenant's untouched.

use std::collections::BTreeSet;

use crate::common::{TestApp, change, eventually, run_cli, spawn_app};
use lapin::BasicProperties;
use scriptsync::change::ScriptChange;
use scriptsync::dlq::Filter;
use scriptsync::dlq::list::inspect;
use scriptsync_sim::{Faults, SimTarget};
use time::format_description::well_known::Rfc3339;

use super::{record_errors, tool_publisher};

async fn publish_with_correlation(app: &TestApp, c: &ScriptChange, correlation: &str) {
    let body = serde_json::to_vec(c).unwrap();
    let props = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_correlation_id(correlation.into());
    app.publisher
        .publish(&app.names.exchange(), c.tenant(), &body, props, false)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_permanent_errors_replayed_per_tenant_after_the_fix() {
    let app = spawn_app(&["rp-a", "rp-b"], |_| {}).await;
    for t in ["rp-a", "rp-b"] {
        app.sim
            .set_faults(Some(t), SimTarget::Servicenow, record_errors(&["s1", "s2"]));
    }
    for t in ["rp-a", "rp-b"] {
        for s in ["s1", "s2", "fine"] {
            publish_with_correlation(&app, &change(t, s, 1), &format!("corr-{t}-{s}")).await;
        }
    }
    app.wait_dlq(4).await;
    for t in ["rp-a", "rp-b"] {
        app.wait_settled(t, 3).await;
    }

    // Every header of DESIGN §7 is there.
    let peeked = app.peek_dlq().await;
    assert_eq!(peeked.len(), 4);
    for p in &peeked {
        let names: BTreeSet<&str> = p.headers.iter().map(|(k, _)| k.as_str()).collect();
        for h in [
            "x-scriptsync-reason",
            "x-scriptsync-error",
            "x-scriptsync-status",
            "x-scriptsync-targets",
            "x-scriptsync-attempts",
            "x-scriptsync-first-failed-at",
            "x-scriptsync-dead-lettered-at",
            "x-scriptsync-replays",
            "x-scriptsync-tenant",
            "x-scriptsync-correlation-id",
            "x-scriptsync-routing-key",
            "x-scriptsync-servicenow-transaction-id",
        ] {
            assert!(names.contains(h), "{h} missing in {:?}", p.headers);
        }
        assert!(!names.contains("x-scriptsync-genesys-correlation-id"));
    }
    let publisher = tool_publisher(&app).await;
    let found = inspect(&app.conn, &app.names, &publisher, &Filter::default(), None)
        .await
        .unwrap();
    for r in &found.matched {
        assert_eq!(r.reason.as_deref(), Some("permanent"));
        assert_eq!(r.targets, vec!["servicenow".to_string()]);
        assert!(r.error.as_deref().is_some_and(|e| !e.is_empty()));
        // A permanent answer is not retried: one attempt, the one refused.
        assert_eq!(r.attempts, 1);
        assert_eq!(r.replays, 0);
        assert!(r.dead_lettered.is_some() && r.first_failed_at.is_some());
        let t = r.tenant.clone().unwrap();
        assert_eq!(r.routing_key.as_deref(), Some(t.as_str()));
        let s = r.script_id.clone().unwrap();
        assert_eq!(r.correlation_id, Some(format!("corr-{t}-{s}")));
        // The batch call's X-Transaction-ID (the simulator sends 12 hex digits, as ServiceNow).
        let transaction = r.servicenow_transaction_id.clone().unwrap_or_default();
        assert!(
            transaction.len() == 12 && transaction.chars().all(|c| c.is_ascii_hexdigit()),
            "{r:?}"
        );
        assert_eq!(r.genesys_correlation_id, None);
        let first = r.first_failed_at.as_deref().unwrap_or_default();
        let first = time::OffsetDateTime::parse(first, &Rfc3339).expect("first-failed-at");
        assert!(Some(first) <= r.dead_lettered, "{r:?}");
    }
    app.wait_depth(&app.names.dlq(), 4).await;
    assert_eq!(app.peek_dlq().await, peeked, "inspecting moved nothing");

    // The CLI's view, for the record.
    let config = app.write_config();
    let config = config.to_str().unwrap();
    let (code, stats, err) = run_cli(&["dlq", "--config", config, "stats"]).await;
    assert_eq!(code, 0, "{err}");
    println!("$ scriptsync dlq stats\n{stats}");
    assert!(
        stats.contains("rp-a") && stats.contains("4 matching of 4"),
        "{stats}"
    );
    let (code, list, err) = run_cli(&["dlq", "--config", config, "list"]).await;
    assert_eq!(code, 0, "{err}");
    println!("$ scriptsync dlq list\n{list}");
    assert_eq!(list.lines().filter(|l| l.contains("permanent")).count(), 4);
    let (code, json, err) = run_cli(&[
        "dlq", "--config", config, "list", "--json", "--tenant", "rp-b",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r["tenant"] == "rp-b" && r["status"].is_u64())
    );

    // Fix rp-a only, replay rp-a only.
    app.sim
        .set_faults(Some("rp-a"), SimTarget::Servicenow, Faults::default());
    let (code, out, err) =
        run_cli(&["dlq", "--config", config, "replay", "--tenant", "rp-a"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 moved, 2 kept"), "{out}");
    eventually("rp-a s1 and s2 delivered to ServiceNow", || async {
        let st = app.sim_state().tenant("rp-a");
        ["s1", "s2"]
            .iter()
            .all(|s| st.servicenow.held.get(*s).is_some_and(|h| h.version == 1))
    })
    .await;
    app.wait_settled("rp-a", 5).await;
    app.wait_depth(&app.names.dlq(), 2).await;
    let left = inspect(&app.conn, &app.names, &publisher, &Filter::default(), None)
        .await
        .unwrap();
    assert_eq!(left.matched.len(), 2, "rp-b's dead letters untouched");
    assert!(
        left.matched
            .iter()
            .all(|r| r.tenant.as_deref() == Some("rp-b"))
    );
    let before_b: Vec<_> = peeked
        .iter()
        .filter(|p| {
            serde_json::from_slice::<serde_json::Value>(&p.body).unwrap()["tenant"] == "rp-b"
        })
        .cloned()
        .collect();
    app.wait_depth(&app.names.dlq(), 2).await;
    assert_eq!(
        app.peek_dlq().await,
        before_b,
        "rp-b's dead letters unchanged"
    );
    assert_eq!(app.depth(&app.names.tenant_queue("rp-a")).await, 0);
    assert!(
        !app.sim_state()
            .tenant("rp-b")
            .servicenow
            .held
            .contains_key("s1")
    );
    app.stop().await;
}
