//! Genesys's data tables over HTTP: rows created, updated, read, listed per principal in pages,
//! deleted (204, watchers told), and the tables' row cap, key checks and duplicate wording.

use super::*;

#[tokio::test]
async fn genesys_rows_are_created_updated_read_and_published() {
    let (sim, client) = start(SimConfig::default()).await;
    let token = genesys_login(&sim, &client, "acme").await;

    let (status, headers, body) = send(
        client
            .put(row_url(&sim, "s1"))
            .bearer_auth(&token)
            .json(&row("s1", 2)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "flows.datatables.row.not.found");
    assert_eq!(body["contextId"], header(&headers, "inin-correlation-id"));

    let create = format!("{}/api/v2/flows/datatables/{TABLE}/rows", sim.base_url());
    let (status, _, body) =
        send(client.post(&create).bearer_auth(&token).json(&row("s1", 2))).await;
    assert_eq!(
        (status, body["version"].clone()),
        (StatusCode::OK, json!(2))
    );
    let (status, _, body) =
        send(client.post(&create).bearer_auth(&token).json(&row("s1", 2))).await;
    assert_eq!(
        (status, body["code"].clone()),
        (
            StatusCode::CONFLICT,
            json!("flows.datatables.row.already.exists")
        )
    );

    let (status, _, _) = send(
        client
            .put(row_url(&sim, "s1"))
            .bearer_auth(&token)
            .json(&row("s1", 3)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(
        client
            .put(row_url(&sim, "s1"))
            .bearer_auth(&token)
            .json(&row("other", 4)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "key must equal the row id");
    let get = client
        .get(row_url(&sim, "s1"))
        .query(&[("showbrief", "false")])
        .bearer_auth(&token);
    let (status, _, body) = send(get).await;
    assert_eq!(
        (status, body["versionHash"].clone()),
        (StatusCode::OK, json!("h3"))
    );

    let publish = json!({"scriptId": "s1", "versionId": "0b8f6f4e-0000-4000-8000-000000000001"});
    let url = format!("{}/api/v2/scripts/published", sim.base_url());
    let (status, _, body) = send(client.post(url).bearer_auth(&token).json(&publish)).await;
    assert_eq!((status, body["id"].clone()), (StatusCode::OK, json!("s1")));

    let genesys = sim.state().tenant("acme").genesys;
    assert_eq!(genesys.held["s1"].version, 3);
    assert_eq!(genesys.held["s1"].change_id, "c3");
    assert_eq!(genesys.held["s1"].writes, 2);
    assert_eq!(
        (genesys.writes, genesys.older_writes, genesys.token_requests),
        (2, 0, 1)
    );
    assert_eq!(
        genesys.requests,
        [(200, 4), (400, 1), (404, 1), (409, 1)].into()
    );
    assert_eq!(genesys.published[0].script_id, "s1");
    assert_eq!(genesys.tokens_seen, BTreeSet::from(["acme".to_string()]));
    stop(sim).await;
}

#[tokio::test]
async fn genesys_rows_are_listed_in_pages_per_principal() {
    let (sim, client) = start(SimConfig::default()).await;
    let token = genesys_login(&sim, &client, "acme").await;
    let other = genesys_login(&sim, &client, "globex").await;
    let create = format!("{}/api/v2/flows/datatables/{TABLE}/rows", sim.base_url());
    for key in ["c", "a", "b"] {
        send(client.post(&create).bearer_auth(&token).json(&row(key, 1))).await;
    }
    send(client.post(&create).bearer_auth(&other).json(&row("z", 1))).await;
    let list = |query: &str| client.get(format!("{create}?{query}")).bearer_auth(&token);
    let (status, _, body) = send(list("pageSize=2")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["entities"], json!([{"key": "a"}, {"key": "b"}]));
    assert_eq!(
        (body["total"].clone(), body["pageCount"].clone()),
        (json!(3), json!(2))
    );
    let (_, _, body) = send(list("pageSize=2&pageNumber=2&showbrief=false")).await;
    assert_eq!(body["entities"][0]["key"], "c");
    assert_eq!(body["entities"][0]["version"], 1);
    let (_, _, body) = send(list("pageNumber=9")).await;
    assert_eq!(body["entities"], json!([]));
    let (status, _, _) = send(list("pageSize=501")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    stop(sim).await;
}

#[tokio::test]
async fn genesys_tables_cap_rows_check_keys_and_word_duplicates_as_configured() {
    let config = SimConfig {
        genesys_max_rows_per_table: 2,
        genesys_duplicate_row_status: 400,
        ..SimConfig::default()
    };
    let (sim, client) = start(config).await;
    let token = genesys_login(&sim, &client, "acme").await;
    let create = |table: &str, key: &str| {
        client
            .post(rows_url(&sim, table))
            .bearer_auth(&token)
            .json(&row(key, 1))
    };
    for key in ["a", "b"] {
        assert_eq!(send(create(TABLE, key)).await.0, StatusCode::OK);
    }
    let (status, _, body) = send(create(TABLE, "c")).await;
    assert_eq!(status.as_u16(), GENESYS_MAX_ROWS_STATUS);
    assert_eq!(body["code"], GENESYS_MAX_ROWS_CODE);
    let (status, _, body) = send(create(TABLE, "a")).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(GENESYS_ROW_EXISTS_CODE))
    );
    let update = client
        .put(row_url(&sim, "b"))
        .bearer_auth(&token)
        .json(&row("b", 2));
    assert_eq!(
        send(update).await.0,
        StatusCode::OK,
        "a full table still updates"
    );

    let longest = "k".repeat(256);
    assert_eq!(send(create("dt-2", &longest)).await.0, StatusCode::OK);
    let (status, _, body) = send(create("dt-2", &format!("{longest}x"))).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(GENESYS_SCHEMA_CODE))
    );
    assert!(body["message"].as_str().unwrap().contains("257 characters"));

    let held = sim.state().tenant("acme").genesys.held;
    assert_eq!(held.len(), 3);
    stop(sim).await;

    let teapot = SimConfig {
        genesys_duplicate_row_status: 418,
        ..SimConfig::default()
    };
    let refused = Simulator::start(teapot, "127.0.0.1:0".parse().unwrap()).await;
    assert!(refused.is_err(), "only 400 or 409 for a duplicate row");
}

#[tokio::test]
async fn genesys_rows_are_deleted_with_204_and_watchers_see_it() {
    let (sim, client) = start(SimConfig::default()).await;
    let mut applied = sim.watch_applied();
    let token = genesys_login(&sim, &client, "acme").await;
    let create = client
        .post(rows_url(&sim, TABLE))
        .bearer_auth(&token)
        .json(&row("s1", 3));
    assert_eq!(send(create).await.0, StatusCode::OK);

    let delete = || client.delete(row_url(&sim, "s1")).bearer_auth(&token);
    let response = delete().send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(!header(response.headers(), "inin-correlation-id").is_empty());
    assert!(response.bytes().await.unwrap().is_empty());
    let (status, _, body) = send(delete()).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::NOT_FOUND, json!(GENESYS_ROW_NOT_FOUND_CODE))
    );
    let read = client.get(row_url(&sim, "s1")).bearer_auth(&token);
    assert_eq!(send(read).await.0, StatusCode::NOT_FOUND);

    let genesys = sim.state().tenant("acme").genesys;
    assert!(genesys.held.is_empty());
    assert_eq!((genesys.writes, genesys.deletes), (1, 1));
    assert_eq!(genesys.requests, [(200, 1), (204, 1), (404, 2)].into());
    let path = format!("DELETE /api/v2/flows/datatables/{TABLE}/rows/s1");
    assert_eq!(genesys.paths[&path], 2);
    let events: Vec<(u64, bool)> = std::iter::from_fn(|| applied.try_recv().ok())
        .map(|e| (e.version, e.deleted))
        .collect();
    assert_eq!(events, [(3, false), (3, true)]);
    stop(sim).await;
}
