//! ServiceNow's staging tables as the simulator has them (`servicenow_staging_tables`): the
//! read of one staging record (Import Set API) and the Table API's read of a staging table.
//! The simulator keeps no staging rows. A table the instance does not have is answered
//! "Invalid table" ([`super::servicenow_api::on_staging_table`]).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::request_head::TableRequest;
use super::respond::json_response;
use super::servicenow_api::{Endpoint, error, on_staging_table};

/// `GET /api/now/import/{table}/{sys_id}`: the simulator keeps no staging rows, so a table
/// that exists answers "No Record found" (404) for any sys_id, like an instance asked for a
/// record it does not have; an unknown table answers "Invalid table".
pub(crate) async fn read_staging_record(request: TableRequest) -> Response {
    on_staging_table(&request, Endpoint::Import, |_, _| {
        error(
            StatusCode::NOT_FOUND,
            "No Record found",
            "Record doesn't exist or ACL restricts the record retrieval",
        )
    })
    .await
}

/// `GET /api/now/table/{table}` (Table API), for the staging tables only: the simulator keeps
/// no staging rows, so a table it has answers an empty `result`; any other table answers 400
/// "Invalid table", as the Table API does for a table the instance does not have.
pub(crate) async fn read_table(request: TableRequest) -> Response {
    on_staging_table(&request, Endpoint::Import, |_, _| {
        json_response(StatusCode::OK, json!({"result": []}))
    })
    .await
}
