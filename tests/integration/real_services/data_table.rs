//! The data table's and the day's limits: a daily limit is waited out, never dead-lettered;
//! a full table dead-letters new scripts as `datatable_full`; a duplicate row answered 400 is
//! taken as existing and updated.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_limit_is_waited_out_never_dead_lettered() {
    const T: &str = "daily";
    // A "day" of 8 s allowing 4 requests (the limits read and the listing among them).
    let sim = SimConfig {
        genesys_daily_limit: Some(4),
        genesys_day: Duration::from_secs(8),
        ..SimConfig::default()
    };
    let app = spawn_app_with_sim(&[T], sim, |s| {
        s.retry.max_elapsed = Duration::from_secs(2);
    })
    .await;
    for i in 0..5 {
        app.publish(&genesys_only(T, &format!("s{i}"), 1)).await;
    }
    app.wait_settled(T, 5).await;
    let g = app.sim_state().tenant(T).genesys;
    assert_eq!(g.held.len(), 5, "all delivered, after the day ended");
    assert!(g.answered(429) >= 1);
    assert_eq!(g.violations, 0);
    assert_eq!(
        app.depth(&app.names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_data_table_dead_letters_new_scripts_as_datatable_full() {
    const T: &str = "full";
    let sim = SimConfig {
        genesys_max_rows_per_table: 3,
        ..SimConfig::default()
    };
    let app = spawn_app_with_sim(&[T], sim, |s| {
        s.tenants[0].genesys.as_mut().unwrap().max_rows = 3;
    })
    .await;
    for i in 0..5 {
        app.publish(&change(T, &format!("s{i}"), 1)).await;
    }
    app.wait_settled(T, 5).await;
    app.wait_dlq(2).await;
    let dead = app.drain_dlq().await;
    assert_eq!(dead.len(), 2);
    for d in &dead {
        assert_eq!(
            d.header("x-scriptsync-reason").as_deref(),
            Some("datatable_full")
        );
        assert_eq!(d.header("x-scriptsync-targets").as_deref(), Some("genesys"));
    }
    let state = app.sim_state().tenant(T);
    assert_eq!(state.genesys.held.len(), 3);
    assert_eq!(
        state.servicenow.held.len(),
        5,
        "ServiceNow took all of them"
    );
    assert_eq!(app.status(T).datatable_rows, Some(3));
    // Rows that exist still take their changes.
    let kept = state.genesys.held.keys().next().unwrap().clone();
    app.publish(&change(T, &kept, 2)).await;
    app.wait_settled(T, 6).await;
    assert_eq!(app.sim_state().tenant(T).genesys.held[&kept].version, 2);
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    app.stop().await;
}

/// An access token of `client` for the simulator's Genesys side.
async fn genesys_token(app: &TestApp, client: &str) -> String {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/oauth/token", app.sim.base_url()))
        .basic_auth(client, Some(SIM_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_row_answered_400_is_taken_as_exists_and_updated() {
    const T: &str = "dup-400";
    let sim = SimConfig {
        genesys_duplicate_row_status: 400,
        ..SimConfig::default()
    };
    let app = spawn_app_with_sim(&[T], sim, |_| {}).await;
    // The lane lists the (empty) table with its first change.
    app.publish(&genesys_only(T, "first", 1)).await;
    app.wait_settled(T, 1).await;
    // Another writer creates "s" behind the worker's back.
    let token = genesys_token(&app, T).await;
    let url = format!(
        "{}/api/v2/flows/datatables/{SIM_DATATABLE}/rows",
        app.sim.base_url()
    );
    let created = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token)
        .json(&serde_json::json!({"key": "s", "version": 1, "versionHash": "other"}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    // The worker believes "s" is new: POST → 400 (exists, by its code) → PUT.
    app.publish(&genesys_only(T, "s", 2)).await;
    app.wait_settled(T, 2).await;
    let g = app.sim_state().tenant(T).genesys;
    assert_eq!(g.answered(400), 1);
    assert_eq!(g.held["s"].version, 2);
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    app.stop().await;
}
