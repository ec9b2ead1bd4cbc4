//! ServiceNow's staging tables as the simulator has them (`servicenow_staging_tables`): the
//! read of one staging record (Import Set API), the Table API's read of a staging table, and
//! the answer for a table the instance does not have. The simulator keeps no staging rows.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::request_head::RequestHead;
use super::respond::json_response;
use super::servicenow::{Endpoint, api, error};
use super::world::Sim;

/// `GET /api/now/import/{table}/{sys_id}`: the simulator keeps no staging rows, so a table
/// that exists answers "No Record found" (404) for any sys_id, like an instance asked for a
/// record it does not have; an unknown table answers "Invalid table".
pub(crate) async fn read_staging_record(
    State(sim): State<Sim>,
    Path((table, _sys_id)): Path<(String, String)>,
    head: RequestHead,
) -> Response {
    let no_record = || {
        error(
            StatusCode::NOT_FOUND,
            "No Record found",
            "Record doesn't exist or ACL restricts the record retrieval",
        )
    };
    read(sim, table, head, no_record).await
}

/// `GET /api/now/table/{table}` (Table API), for the staging tables only: the simulator keeps
/// no staging rows, so a table it has answers an empty `result`; any other table answers 400
/// "Invalid table", as the Table API does for a table the instance does not have.
pub(crate) async fn read_table(
    State(sim): State<Sim>,
    Path(table): Path<String>,
    head: RequestHead,
) -> Response {
    let empty = || json_response(StatusCode::OK, json!({"result": []}));
    read(sim, table, head, empty).await
}

/// A read of staging table `table` through the common path: `found` when the instance has
/// the table, else "Invalid table".
async fn read(sim: Sim, table: String, head: RequestHead, found: fn() -> Response) -> Response {
    api(
        &sim,
        &head,
        Endpoint::Import,
        move |_, importer| match importer.config.has_staging_table(&table) {
            true => found(),
            false => invalid_table(&table),
        },
    )
    .await
}

/// The answer for a staging table the instance does not have.
pub(crate) fn invalid_table(table: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"error": {"message": format!("Invalid table {table}"), "detail": null}, "status": "failure"}),
    )
}
