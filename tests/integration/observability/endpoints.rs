//! `/readyz` and `/healthz` across a broker-side connection close, and `/status` during a
//! forced pause.

use super::*;
use crate::common::broker_connection_pid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_broker_connection_and_healthz_stays_up() {
    let app = spawn_app_with_admin(&["ready"], SimConfig::default(), |_| {}).await;
    let addr = admin(&app);
    eventually("/readyz is 200", || async {
        get(addr, "/readyz").await.0 == 200
    })
    .await;
    assert_eq!(get(addr, "/healthz").await.0, 200);

    // Watch /readyz and /healthz closely from another task while the broker closes our
    // worker's connection (and only ours: it is found by its unique connection name).
    let seen = Arc::new(Mutex::new(Vec::<(u16, u16)>::new()));
    let watcher = {
        let seen = seen.clone();
        tokio::spawn(async move {
            loop {
                let ready = get(addr, "/readyz").await.0;
                let health = get(addr, "/healthz").await.0;
                seen.lock().unwrap().push((ready, health));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let mut pid = None;
    eventually("the worker's connection is listed", || {
        pid = broker_connection_pid(&app.connection_name);
        let found = pid.is_some();
        async move { found }
    })
    .await;
    let pid = pid.unwrap();
    let closed = std::process::Command::new("rabbitmqctl")
        .args(["close_connection", &pid, "observability test"])
        .output()
        .expect("rabbitmqctl runs");
    assert!(closed.status.success(), "{closed:?}");
    eventually("/readyz went 503 and came back to 200", || {
        let seen = seen.lock().unwrap().clone();
        let down = seen.iter().position(|(r, _)| *r == 503);
        let back = down.is_some_and(|i| seen[i..].iter().any(|(r, _)| *r == 200));
        async move { back }
    })
    .await;
    watcher.abort();
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().all(|(_, h)| *h == 200), "/healthz stayed 200");
    // Recovered for real: a new connection under the same name, and changes flow again.
    assert_ne!(broker_connection_pid(&app.connection_name), Some(pid));
    app.publish(&change("ready", "after", 1)).await;
    app.wait_settled("ready", 1).await;
    app.stop().await;
}

// ---- /status ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_paused_until_during_a_forced_pause() {
    let app = spawn_app_with_admin(&["paused", "calm"], SimConfig::default(), |_| {}).await;
    let addr = admin(&app);
    app.sim.set_faults(
        Some("paused"),
        SimTarget::Genesys,
        Faults {
            inject: vec![InjectedResponse::new(429).with_retry_after("120")],
            ..Faults::default()
        },
    );
    let before = time::OffsetDateTime::now_utc();
    app.publish(&change("paused", "s", 1)).await;
    let status_now =
        || async { serde_json::from_str::<Value>(&get(addr, "/status").await.1).unwrap() };
    eventually(
        "/status shows the Genesys gate of 'paused' paused",
        || async { status_now().await["tenants"][1]["targets"][0]["gate"] == "paused" },
    )
    .await;
    // The pause lasts minutes: it is still on when read again.
    let status = status_now().await;
    // Tenants are listed by id.
    let tenant = &status["tenants"][1];
    assert_eq!(tenant["tenant"], "paused");
    let genesys = &tenant["targets"][0];
    assert_eq!(genesys["target"], "genesys");
    let until = genesys["paused_until"].as_str().expect("paused_until");
    let until =
        time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(until > before + time::Duration::seconds(60), "{status:#}");
    assert!(genesys["rate_per_minute"].as_f64().unwrap() > 0.0);
    assert!(genesys["ceiling_per_minute"].as_f64().unwrap() > 0.0);
    assert!(genesys["in_flight"].is_u64());
    assert_eq!(genesys["last_status"], 429);
    assert!(
        genesys["last_error"].as_str().unwrap().contains("429"),
        "{status:#}"
    );
    // The other target and the other tenant are open.
    assert_eq!(tenant["targets"][1]["target"], "servicenow");
    assert_eq!(tenant["targets"][1]["gate"], "open");
    assert_eq!(status["tenants"][0]["tenant"], "calm");
    assert!(
        status["tenants"][0]["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["gate"] == "open" && t["paused_until"].is_null())
    );
    // The first tenant consumes (and so pauses) before the worker has started every
    // consumer and says it is ready: wait for that rather than race it.
    eventually("/status says ready", || async {
        status_now().await["ready"] == true
    })
    .await;
    // One replica alone: it is the only live one and owns every tenant.
    let me = status["replica"].as_str().expect("replica").to_owned();
    assert_eq!(status["replicas"], serde_json::json!([me]), "{status:#}");
    for t in status["tenants"].as_array().unwrap() {
        assert_eq!(t["owner"], me.as_str(), "{status:#}");
    }
    let text = serde_json::to_string(&status).unwrap();
    assert!(!text.contains(scriptsync_sim::fixtures::SIM_SECRET));
    app.stop().await;
}
