//! What an org or instance is set up with, over HTTP: Genesys data tables (read with their
//! schema, searched by name, created; rows checked against the schema; unknown ids 404),
//! the OAuth client's permissions (a 403 that names the missing one), and ServiceNow staging
//! tables (an unknown one is an invalid table on every import path).

use super::*;
use scriptsync_sim::{
    DataTableSpec, GENESYS_DATATABLE_NOT_FOUND_CODE, GENESYS_MISSING_ANY_PERMISSIONS_CODE,
    permissions,
};

#[tokio::test]
async fn data_tables_have_schemas_rows_follow_them_and_unknown_ids_are_404() {
    let tables = HashMap::from([(
        TABLE.to_owned(),
        DataTableSpec::scriptsync("scripts").without("disclaimer"),
    )]);
    let config = SimConfig {
        genesys_datatables: Some(tables),
        ..SimConfig::default()
    };
    let (sim, client) = start(config).await;
    let token = genesys_login(&sim, &client, "acme").await;
    let api = |path: &str| format!("{}/api/v2/flows/datatables{path}", sim.base_url());
    let (status, _, table) = send(
        client
            .get(api(&format!("/{TABLE}?expand=schema")))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(table["name"], "scripts");
    assert!(table["schema"]["properties"].get("disclaimer").is_none());
    let (_, _, brief) = send(client.get(api(&format!("/{TABLE}"))).bearer_auth(&token)).await;
    assert!(
        brief.get("schema").is_none(),
        "the schema only with expand=schema"
    );

    let row = json!({"key": "s1", "version": 1, "disclaimer": "recorded"});
    let (status, _, body) = send(
        client
            .post(api(&format!("/{TABLE}/rows")))
            .bearer_auth(&token)
            .json(&row),
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(GENESYS_SCHEMA_CODE))
    );
    let fits = json!({"key": "s1", "version": 1});
    let (status, _, _) = send(
        client
            .post(api(&format!("/{TABLE}/rows")))
            .bearer_auth(&token)
            .json(&fits),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, _, body) = send(client.get(api("/nope/rows")).bearer_auth(&token)).await;
    assert_eq!(
        (status, body["code"].clone()),
        (
            StatusCode::NOT_FOUND,
            json!(GENESYS_DATATABLE_NOT_FOUND_CODE)
        )
    );

    let create = json!({"name": "made", "schema": scriptsync_sim::table_defs::scriptsync_schema()});
    let (status, _, made) = send(client.post(api("")).bearer_auth(&token).json(&create)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, found) = send(client.get(api("?name=made")).bearer_auth(&token)).await;
    assert_eq!(found["entities"][0]["id"], made["id"]);
    let (status, _, _) = send(client.post(api("")).bearer_auth(&token).json(&create)).await;
    assert_eq!(status, StatusCode::CONFLICT, "names are unique in an org");
    stop(sim).await;
}

#[tokio::test]
async fn a_client_without_a_permission_is_told_which() {
    let config = SimConfig {
        genesys_permissions: Some(HashMap::from([(
            "acme".to_owned(),
            vec![permissions::ROW_VIEW.to_owned()],
        )])),
        ..SimConfig::default()
    };
    let (sim, client) = start(config).await;
    let token = genesys_login(&sim, &client, "acme").await;
    let rows = format!("{}/api/v2/flows/datatables/{TABLE}/rows", sim.base_url());
    let (status, _, _) = send(client.get(&rows).bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = send(
        client
            .post(&rows)
            .bearer_auth(&token)
            .json(&json!({"key": "s", "version": 1})),
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (
            StatusCode::FORBIDDEN,
            json!(GENESYS_MISSING_ANY_PERMISSIONS_CODE)
        )
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .ends_with("[architect:datatable:add, architect:datatableRow:add]")
    );
    let publish = format!("{}/api/v2/scripts/published", sim.base_url());
    let (status, _, _) = send(client.post(&publish).bearer_auth(&token).json(&json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let other = genesys_login(&sim, &client, "globex").await;
    let (status, _, _) = send(client.post(&publish).bearer_auth(&other).json(&json!({}))).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an unlisted client has every permission"
    );
    stop(sim).await;
}

#[tokio::test]
async fn an_unknown_staging_table_is_invalid_on_every_import_path() {
    let config = SimConfig {
        servicenow_staging_tables: Some(vec!["u_stage".to_owned()]),
        ..SimConfig::default()
    };
    let (sim, client) = start(config).await;
    let token = sn_token(&sim, &client, "acme").await;
    let import = |path: &str| format!("{}/api/now/import/{path}", sim.base_url());
    let zero = "0".repeat(32);
    let (status, _, body) = send(
        client
            .get(import(&format!("u_stage/{zero}")))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(
        (status, body["error"]["message"].clone()),
        (StatusCode::NOT_FOUND, json!("No Record found"))
    );
    let (status, _, body) = send(
        client
            .get(import(&format!("u_other/{zero}")))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(
        (status, body["error"]["message"].clone()),
        (StatusCode::BAD_REQUEST, json!("Invalid table u_other"))
    );
    let record = json!({"u_tenant": "acme", "u_script_id": "s1", "u_version": 1});
    let (status, _, _) = send(
        client
            .post(import("u_other"))
            .bearer_auth(&token)
            .json(&record),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = send(
        client
            .post(import("u_other/insertMultiple"))
            .bearer_auth(&token)
            .json(&json!({"records": [record]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        sim.state()
            .tenants
            .get("acme")
            .is_none_or(|t| t.servicenow.held.is_empty()),
        "nothing applied"
    );
    stop(sim).await;
}
