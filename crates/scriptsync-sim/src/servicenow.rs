//! ServiceNow on loopback: the routes and their handlers.
//!
//! - the Import Set API: one record, `POST /api/now/import/{table}`, and many,
//!   `POST …/{table}/insertMultiple` (the transform's records in [`super::transform`]);
//! - the Batch API, `POST /api/now/v1/batch` (sub-requests judged in [`super::batch`]);
//! - the reads of staging tables and records in [`super::staging`];
//! - the login, `POST /oauth_token.do`, is in [`super::oauth`].
//!
//! Each handler runs inside the common path of [`super::servicenow_api::api`] (auth,
//! admission, accounting, rate-limit headers, transaction id); those on one staging table
//! through [`on_staging_table`], which answers "Invalid table" for a table the instance does
//! not have, so each says only what it does with the records.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::batch;
use super::oauth::servicenow_login;
use super::request_head::{RequestHead, TableRequest};
use super::respond::json_response;
use super::servicenow_api::{Endpoint, api, error, on_staging_table};
use super::staging;
use super::world::Sim;

pub(crate) fn routes() -> Router<Sim> {
    Router::new()
        .route("/oauth_token.do", post(servicenow_login))
        .route("/api/now/import/{table}", post(import_one))
        .route(
            "/api/now/import/{table}/{sys_id}",
            get(staging::read_staging_record),
        )
        .route("/api/now/table/{table}", get(staging::read_table))
        .route(
            "/api/now/import/{table}/insertMultiple",
            post(insert_multiple),
        )
        .route("/api/now/v1/batch", post(batch_call))
}

/// `POST /api/now/import/{table}`: one record, through the transform (201).
async fn import_one(request: TableRequest, body: Bytes) -> Response {
    on_staging_table(&request, Endpoint::Import, |world, importer| {
        let Ok(record @ Value::Object(_)) = serde_json::from_slice::<Value>(&body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "Invalid request body",
                "expected one JSON object",
            );
        };
        let answer = importer.import(world, &request.table, &record);
        json_response(StatusCode::CREATED, answer)
    })
    .await
}

/// `POST /api/now/import/{table}/insertMultiple` with `{"records": […]}`: each through the
/// transform (201 with the import set ids).
async fn insert_multiple(request: TableRequest, body: Bytes) -> Response {
    on_staging_table(&request, Endpoint::InsertMultiple, |world, importer| {
        let sent: Value = serde_json::from_slice(&body).unwrap_or_default();
        let Some(records) = sent.get("records").and_then(Value::as_array) else {
            return error(
                StatusCode::BAD_REQUEST,
                "Invalid request body",
                "expected {\"records\":[...]}",
            );
        };
        for record in records {
            importer.apply(world, record);
        }
        let import_set_id = uuid::Uuid::new_v4().simple().to_string();
        let multi_import_set_id = uuid::Uuid::new_v4().simple().to_string();
        let body =
            json!({"import_set_id": import_set_id, "multi_import_set_id": multi_import_set_id});
        json_response(StatusCode::CREATED, body)
    })
    .await
}

/// `POST /api/now/v1/batch`: the sub-requests, judged in [`batch::run`].
async fn batch_call(State(sim): State<Sim>, head: RequestHead, body: Bytes) -> Response {
    api(&sim, &head, Endpoint::Batch, |world, importer| {
        batch::run(world, importer, &body)
    })
    .await
}
