//! A long replay as it runs: `kill -9` in the middle loses nothing (the broker returns the
//! tool's unacked letters; some may exist twice), and `--rate 50` never moves more than
//! about 50 letters a second.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::process::Stdio;
use std::time::Duration;

use crate::common::{DEADLINE, eventually, spawn_app};
use scriptsync::broker::Publisher;
use scriptsync::dlq::replay::{ReplayOptions, replay};

use super::{fill_dlq, tenant};

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
