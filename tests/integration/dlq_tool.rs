//! The replay tool (`scriptsync dlq`) against the real RabbitMQ, the real worker and the
//! simulator: stats, list, replay (dry run, limits, rate, retires) and purge, each on what
//! the DLQ really holds.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::process::Stdio;
use std::time::Duration;

use common::{DEADLINE, TestApp, change, eventually, run_cli, spawn_app};
use lapin::BasicProperties;
use scriptsync::broker::Publisher;
use scriptsync::change::{ScriptChange, TargetKind};
use scriptsync::dlq::list::inspect;
use scriptsync::dlq::purge::purge;
use scriptsync::dlq::replay::{ReplayOptions, replay};
use scriptsync::dlq::{Filter, Reason};
use scriptsync_sim::{Faults, SimTarget};
use time::format_description::well_known::Rfc3339;

fn record_errors(scripts: &[&str]) -> Faults {
    Faults {
        record_errors: scripts.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn tenant(t: &str) -> Filter {
    Filter {
        tenant: Some(t.into()),
        ..Default::default()
    }
}

async fn tool_publisher(app: &TestApp) -> Publisher {
    Publisher::open(&app.conn, Duration::from_secs(10))
        .await
        .unwrap()
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing() {
    let app = spawn_app(&["dry"], |_| {}).await;
    app.sim.set_faults(
        Some("dry"),
        SimTarget::Servicenow,
        record_errors(&["d1", "d2", "d3"]),
    );
    for s in ["d1", "d2", "d3"] {
        app.publish(&change("dry", s, 1)).await;
    }
    app.wait_dlq(3).await;
    app.wait_settled("dry", 3).await;
    app.put_dead_letter(
        b"{not json",
        &[("x-scriptsync-reason", "invalid".into())],
        "raw-1",
    )
    .await;
    app.sim
        .set_faults(Some("dry"), SimTarget::Servicenow, Faults::default());
    let before = app.peek_dlq().await;
    let requests_before = app.sim_state().tenant("dry").servicenow.total_requests();
    let publisher = tool_publisher(&app).await;
    let opts = ReplayOptions {
        filter: tenant("dry"),
        dry_run: true,
        ..Default::default()
    };
    let report = replay(&app.conn, &app.names, &publisher, &opts)
        .await
        .unwrap();
    assert_eq!(report.moved, 0);
    assert_eq!(report.would_move.len(), 3);
    assert_eq!(report.depth, 4);
    app.wait_depth(&app.names.dlq(), 4).await;
    let config = app.write_config();
    let (code, out, err) = run_cli(&[
        "dlq",
        "--config",
        config.to_str().unwrap(),
        "replay",
        "--dry-run",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("dry run: 4 would be replayed; nothing moved"),
        "{out}"
    );
    app.wait_depth(&app.names.dlq(), 4).await;
    assert_eq!(app.peek_dlq().await, before, "DLQ contents identical");
    assert_eq!(app.depth(&app.names.tenant_queue("dry")).await, 0);
    assert_eq!(app.settled("dry"), 3, "the worker got nothing");
    assert_eq!(
        app.sim_state().tenant("dry").servicenow.total_requests(),
        requests_before
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_success_replay_pushes_only_to_the_owed_target() {
    let app = spawn_app(&["part"], |_| {}).await;
    app.sim
        .set_faults(Some("part"), SimTarget::Servicenow, record_errors(&["p"]));
    app.publish(&change("part", "p", 1)).await;
    app.wait_dlq(1).await;
    app.wait_settled("part", 1).await;
    let before = app.sim_state().tenant("part");
    assert_eq!(before.genesys.held["p"].writes, 1, "Genesys took it");
    app.sim
        .set_faults(Some("part"), SimTarget::Servicenow, Faults::default());
    let publisher = tool_publisher(&app).await;
    let opts = ReplayOptions {
        filter: Filter {
            target: Some(TargetKind::Servicenow),
            reason: Some(Reason::Permanent),
            ..tenant("part")
        },
        ..Default::default()
    };
    let report = replay(&app.conn, &app.names, &publisher, &opts)
        .await
        .unwrap();
    assert_eq!((report.moved, report.kept), (1, 0));
    app.wait_settled("part", 2).await;
    let after = app.sim_state().tenant("part");
    assert_eq!(
        after.servicenow.held["p"].version, 1,
        "delivered to ServiceNow"
    );
    assert_eq!(after.genesys.held["p"].writes, 1, "no second Genesys write");
    assert_eq!(
        after.genesys.total_requests(),
        before.genesys.total_requests(),
        "no Genesys request at all for the replay"
    );
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_replay_leaves_the_newer_version_in_place() {
    let app = spawn_app(&["stale"], |_| {}).await;
    app.sim
        .set_faults(Some("stale"), SimTarget::Genesys, record_errors(&["s"]));
    app.publish(&change("stale", "s", 3)).await;
    app.wait_dlq(1).await;
    app.wait_settled("stale", 1).await;
    app.sim
        .set_faults(Some("stale"), SimTarget::Genesys, Faults::default());
    app.publish(&change("stale", "s", 5)).await;
    app.wait_settled("stale", 2).await;
    let before = app.sim_state().tenant("stale");
    assert_eq!(before.genesys.held["s"].version, 5);
    let publisher = tool_publisher(&app).await;
    let opts = ReplayOptions {
        filter: tenant("stale"),
        ..Default::default()
    };
    let report = replay(&app.conn, &app.names, &publisher, &opts)
        .await
        .unwrap();
    assert_eq!(report.moved, 1);
    app.wait_settled("stale", 3).await;
    let after = app.sim_state().tenant("stale");
    assert_eq!(after.genesys.held["s"].version, 5, "Genesys keeps v5");
    assert_eq!(
        after.genesys.held["s"].writes,
        before.genesys.held["s"].writes
    );
    assert_eq!(after.servicenow.held["s"].version, 5, "ServiceNow keeps v5");
    assert_eq!(
        app.status("stale").superseded,
        1,
        "the replay was acked as superseded"
    );
    assert_eq!(
        app.depth(&app.names.dlq()).await,
        0,
        "not dead-lettered again"
    );
    app.stop().await;
}

/// Puts `n` dead letters for routing key `key` straight into the DLQ; returns their ids.
async fn fill_dlq(app: &TestApp, key: &str, n: usize) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    for i in 0..n {
        let mut c = change(key, &format!("script-{}", i % 50), 1 + i as u64);
        c = c.to_builder().id(format!("{key}-{i:05}")).build().unwrap();
        let body = serde_json::to_vec(&c).unwrap();
        let headers = [
            ("x-scriptsync-reason", "exhausted".to_string()),
            ("x-scriptsync-targets", "servicenow".to_string()),
            ("x-scriptsync-tenant", key.to_string()),
            ("x-scriptsync-routing-key", key.to_string()),
            ("x-scriptsync-dead-lettered-at", now.clone()),
        ];
        app.put_dead_letter(&body, &headers, c.id()).await;
        ids.insert(c.id().to_owned());
    }
    ids
}

fn ids_of(bodies: &[Vec<u8>]) -> Vec<String> {
    bodies
        .iter()
        .map(|b| {
            let v: serde_json::Value = serde_json::from_slice(b).unwrap();
            v["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_the_middle_of_a_replay_loses_nothing() {
    const N: usize = 5_000;
    let app = spawn_app(&["kill-w"], |_| {}).await;
    let park = app.bind_parking_queue("killtest").await;
    let ids = fill_dlq(&app, "killtest", N).await;
    app.wait_dlq(N as u32).await;
    let config = app.write_config();
    // Paced so the kill surely lands mid-way (>= 2.5 s for 5,000).
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_scriptsync"))
        .args(["dlq", "--config", config.to_str().unwrap()])
        .args([
            "replay",
            "--tenant",
            "killtest",
            "--rate",
            "2000",
            "--no-progress",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    eventually("the replay has moved some messages", || async {
        app.depth(&park).await >= 200
    })
    .await;
    child.start_kill().unwrap(); // SIGKILL
    let status = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success(), "killed, not finished");
    eventually(
        "the broker returned the killed tool's unacked messages",
        || async {
            app.depth(&app.names.dlq()).await as usize + app.depth(&park).await as usize >= N
        },
    )
    .await;
    let moved = app.depth(&park).await as usize;
    assert!(moved < N, "killed mid-way ({moved} of {N} moved)");
    let mut all = ids_of(&app.drain_queue(&park).await);
    all.extend(ids_of(&app.drain_queue(&app.names.dlq()).await));
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for id in &all {
        *seen.entry(id.clone()).or_default() += 1;
    }
    let missing: Vec<_> = ids.iter().filter(|id| !seen.contains_key(*id)).collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
    let twice = seen.values().filter(|c| **c > 1).count();
    println!("killed after {moved} moved; {twice} message(s) exist twice, none lost");
    app.delete_queue(&park).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_50_moves_at_most_about_50_per_second() {
    const N: usize = 150;
    let app = spawn_app(&["rate-w"], |_| {}).await;
    let park = app.bind_parking_queue("ratetest").await;
    fill_dlq(&app, "ratetest", N).await;
    app.wait_dlq(N as u32).await;
    let opts = ReplayOptions {
        filter: tenant("ratetest"),
        rate: NonZeroU32::new(50),
        ..Default::default()
    };
    let start = tokio::time::Instant::now();
    let conn = scriptsync::broker::connect(&app.settings.broker, "rate test")
        .await
        .unwrap();
    let names = app.names.clone();
    let run = tokio::spawn(async move {
        let publisher = Publisher::open(&conn, Duration::from_secs(10)).await?;
        let report = replay(&conn, &names, &publisher, &opts).await;
        let _ = conn.close(200, "done".into()).await;
        report
    });
    // Sample (elapsed, moved) while it runs: moved may never run ahead of 50/s + the burst.
    let mut samples = Vec::new();
    while !run.is_finished() {
        assert!(start.elapsed() < DEADLINE * 2, "replay did not finish");
        let moved = app.depth(&park).await as f64;
        samples.push((start.elapsed().as_secs_f64(), moved));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = run.await.unwrap().unwrap();
    let total_elapsed = start.elapsed().as_secs_f64();
    assert_eq!(report.moved, N as u64);
    for (t, moved) in &samples {
        assert!(*moved <= 50.0 * t + 2.0, "{moved} moved after {t:.2}s");
    }
    assert!(
        N as f64 <= 50.0 * total_elapsed + 2.0,
        "{N} moved in {total_elapsed:.2}s"
    );
    assert!(samples.len() >= 5, "observed the run in flight");
    app.delete_queue(&park).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_without_yes_refuses_and_deletes_nothing() {
    let app = spawn_app(&["pg"], |_| {}).await;
    fill_dlq(&app, "pg", 5).await;
    fill_dlq(&app, "other", 3).await;
    app.wait_dlq(8).await;
    let before = app.peek_dlq().await;
    let config = app.write_config();
    let config = config.to_str().unwrap();
    let (code, out, err) = run_cli(&["dlq", "--config", config, "purge", "--tenant", "pg"]).await;
    assert_eq!(code, 2, "refused: {out} {err}");
    assert!(err.contains("refusing to purge without --yes"), "{err}");
    assert!(err.contains("5 message(s) match"), "{err}");
    app.wait_depth(&app.names.dlq(), 8).await;
    assert_eq!(app.peek_dlq().await, before, "nothing deleted");
    let publisher = tool_publisher(&app).await;
    let refused = purge(
        &app.conn,
        &app.names,
        &publisher,
        &tenant("pg"),
        None,
        false,
    )
    .await
    .unwrap();
    assert!(refused.refused && refused.deleted == 0);
    app.wait_depth(&app.names.dlq(), 8).await;
    assert_eq!(app.peek_dlq().await, before, "nothing deleted");
    // With --yes: only the matches go.
    let (code, out, err) = run_cli(&[
        "dlq", "--config", config, "purge", "--tenant", "pg", "--yes",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("purged 5 deleted, 3 kept"), "{out}");
    app.wait_depth(&app.names.dlq(), 3).await;
    let left = inspect(&app.conn, &app.names, &publisher, &Filter::default(), None)
        .await
        .unwrap();
    assert_eq!(left.matched.len(), 3);
    assert!(
        left.matched
            .iter()
            .all(|r| r.tenant.as_deref() == Some("other"))
    );
    app.stop().await;
}

/// The same change dead-lettered twice (its confirm lost with a broker node, then dead-lettered
/// again after the redelivery): `dlq list` marks both copies `×2`, `--json` counts them and
/// shows which copy was written after a redelivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_of_one_change_are_marked_in_dlq_list() {
    let app = spawn_app(&["cp"], |_| {}).await;
    fill_dlq(&app, "cp", 2).await;
    let twice = change("cp", "script-0", 1)
        .to_builder()
        .id("cp-00000".to_string())
        .build()
        .unwrap();
    let body = serde_json::to_vec(&twice).unwrap();
    let headers = [
        ("x-scriptsync-reason", "exhausted".to_string()),
        ("x-scriptsync-tenant", "cp".to_string()),
        ("x-scriptsync-redelivered", "true".to_string()),
    ];
    app.put_dead_letter(&body, &headers, twice.id()).await;
    app.wait_dlq(3).await;
    let config = app.write_config();
    let config = config.to_str().unwrap();
    let (code, list, err) = run_cli(&["dlq", "--config", config, "list"]).await;
    assert_eq!(code, 0, "{err}");
    println!("$ scriptsync dlq list\n{list}");
    assert_eq!(
        list.lines()
            .filter(|l| l.starts_with("cp-00000 ×2 "))
            .count(),
        2
    );
    assert_eq!(
        list.lines().filter(|l| l.starts_with("cp-00001 ")).count(),
        1
    );
    let (code, json, err) = run_cli(&["dlq", "--config", config, "list", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let copies = |id: &str| -> Vec<(u64, bool)> {
        rows.iter()
            .filter(|r| r["change_id"] == id)
            .map(|r| (r["copies"].as_u64().unwrap(), r["redelivered"] == true))
            .collect()
    };
    assert_eq!(copies("cp-00000"), [(2, false), (2, true)]);
    assert_eq!(copies("cp-00001"), [(1, false)]);
    app.stop().await;
}

/// `dlq list` says which letters are retires: the OP column (after VERSION) and `op` in
/// `--json`, `upsert` / `retire`, `-` / `null` for a body that is not a message at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_list_tells_retires_from_changes() {
    let app = spawn_app(&["op"], |_| {}).await;
    fill_dlq(&app, "op", 1).await;
    let retire = ScriptChange::retire_builder("op-retire", "op", "script-0", 2)
        .build()
        .unwrap();
    let headers = [
        ("x-scriptsync-reason", "exhausted".to_string()),
        ("x-scriptsync-tenant", "op".to_string()),
    ];
    app.put_dead_letter(&serde_json::to_vec(&retire).unwrap(), &headers, retire.id())
        .await;
    let invalid = [("x-scriptsync-reason", "invalid".to_string())];
    app.put_dead_letter(b"not json", &invalid, "op-garbage")
        .await;
    app.wait_dlq(3).await;

    let config = app.write_config();
    let config = config.to_str().unwrap();
    let (code, list, err) = run_cli(&["dlq", "--config", config, "list"]).await;
    assert_eq!(code, 0, "{err}");
    println!("$ scriptsync dlq list\n{list}");
    let header = list.lines().next().unwrap();
    let at = header.find(" OP ").expect("an OP column") + 1;
    assert!(header[..at].trim_end().ends_with("VERSION"), "{header}");
    let op_of = |id: &str| -> String {
        let row = list.lines().find(|l| l.starts_with(id)).unwrap();
        row[at..].split(' ').next().unwrap().to_owned()
    };
    assert_eq!(op_of("op-00000 "), "upsert");
    assert_eq!(op_of("op-retire "), "retire");
    assert_eq!(op_of("op-garbage "), "-");

    let (code, json, err) = run_cli(&["dlq", "--config", config, "list", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let ops: BTreeMap<String, serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|r| {
            (
                r["message_id"].as_str().unwrap().to_owned(),
                r["op"].clone(),
            )
        })
        .collect();
    assert_eq!(ops["op-00000"], "upsert");
    assert_eq!(ops["op-retire"], "retire");
    assert_eq!(ops["op-garbage"], serde_json::Value::Null);
    app.stop().await;
}
