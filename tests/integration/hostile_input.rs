//! Hostile input: every body in tests/data/bad/ (plus a 10 MB one) is dead-lettered as
//! `invalid` with a one-line reason, body unchanged, while valid messages interleaved with
//! them are delivered and the worker keeps consuming.

use crate::common;

use std::path::PathBuf;

use common::{change, spawn_app};

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "bin"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    let mut huge = br#"{"schema":"script-change/v1","id":"c","tenant":"hostile","script_id":"s","version":1,"version_hash":"h","published_at":"2026-11-27T10:00:00Z","disclaimer":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    huge.extend(br#""}"#);
    files.push(("generated-10mb-body.json".into(), huge));
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_message_is_dead_lettered_and_good_ones_still_flow() {
    let bad = corpus();
    assert!(bad.len() >= 40, "corpus has {} entries", bad.len());
    let app = spawn_app(&["hostile"], |_| {}).await;
    for (i, (_, body)) in bad.iter().enumerate() {
        app.publish_raw("hostile", body).await;
        app.publish(&change("hostile", &format!("good-{i}"), 1))
            .await;
    }
    let total = bad.len() as u64 * 2;
    app.wait_settled("hostile", total).await;
    app.wait_dlq(bad.len() as u32).await;
    let dead = app.drain_dlq().await;
    assert_eq!(
        dead.len(),
        bad.len(),
        "exactly the bad ones are dead-lettered"
    );
    for (name, body) in &bad {
        let d = dead
            .iter()
            .find(|d| &d.body == body)
            .unwrap_or_else(|| panic!("{name}: not in the DLQ byte for byte"));
        assert_eq!(
            d.header("x-scriptsync-reason").as_deref(),
            Some("invalid"),
            "{name}"
        );
        let reason = d.header("x-scriptsync-error").unwrap_or_default();
        assert!(
            !reason.is_empty() && !reason.contains('\n') && reason.len() <= 1024,
            "{name}: {reason:?}"
        );
        println!("{name}: {reason}");
    }
    let state = app.sim_state();
    for i in 0..bad.len() {
        let script = format!("good-{i}");
        assert_eq!(
            state.tenants["hostile"].genesys.held[&script].version, 1,
            "{script} delivered"
        );
        assert_eq!(
            state.tenants["hostile"].servicenow.held[&script].version, 1,
            "{script} delivered"
        );
    }
    assert_eq!(app.depth(&app.names.tenant_queue("hostile")).await, 0);
    app.stop().await;
}
