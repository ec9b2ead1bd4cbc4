//! What `dlq list` shows of each letter beyond its envelope: copies of one change marked
//! `×2` (and which copy followed a redelivery), and a retire told from an upsert (the OP
//! column, `op` in `--json`).

use std::collections::BTreeMap;

use crate::common::{change, run_cli, spawn_app};
use scriptsync::change::ScriptChange;

use super::fill_dlq;

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
