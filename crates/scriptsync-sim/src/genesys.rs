//! Genesys Cloud on loopback: the routes and their handlers.
//!
//! - data-table rows: `POST …/rows` (create), `GET …/rows` (list), `GET`, `PUT` and `DELETE
//!   …/rows/{key}` (read, update, delete: 204), with the store in [`super::datatable`] and the
//!   listing in [`super::rows_page`];
//! - the tables themselves (read, search by name, create) in [`super::genesys_tables`];
//! - `POST /api/v2/scripts/published`;
//! - `GET /api/v2/organizations/limits/namespaces/{namespace}` ([`super::limits`]);
//! - the login, `POST /oauth/token`, is in [`super::oauth`].
//!
//! Each handler runs inside the common path of [`super::genesys_api::api`] (auth, admission,
//! accounting, correlation id); the row handlers through `on_rows`, which first checks the
//! call's permission and finds the table, so each says only what it does to the rows.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use super::codes::GenesysError;
use super::datatable::{self, RowRules, TableAddress};
use super::gate::Admitted;
use super::genesys_api::{Reply, api};
use super::genesys_tables;
use super::oauth::genesys_login;
use super::request_head::{RequestHead, TableRequest};
use super::respond::rfc3339_now;
use super::rows_page::Page;
use super::world::{Sim, World};
use super::{PublishedScript, SimTarget, limits, permissions, rows_page};

pub(crate) fn routes() -> Router<Sim> {
    Router::new()
        .route("/oauth/token", post(genesys_login))
        .route(
            "/api/v2/flows/datatables/{table}/rows",
            post(create_row).get(list_rows),
        )
        .route(
            "/api/v2/flows/datatables/{table}/rows/{row}",
            put(update_row).get(get_row).delete(delete_row),
        )
        .route(
            "/api/v2/flows/datatables",
            get(genesys_tables::find_tables).post(genesys_tables::create_table),
        )
        .route(
            "/api/v2/flows/datatables/{table}",
            get(genesys_tables::read_table),
        )
        .route("/api/v2/scripts/published", post(publish))
        .route(
            "/api/v2/organizations/limits/namespaces/{namespace}",
            get(org_limits),
        )
}

/// The path of one row: (datatable id, row key).
type RowPath = Path<(String, String)>;

/// A call on one table's rows, once allowed: where the rows are, the rules they keep, and what
/// admission decided for the call.
struct RowsCall<'a> {
    at: TableAddress<'a>,
    rules: RowRules<'a>,
    admitted: &'a Admitted,
}

/// The common shape of the row handlers: inside [`api`], the client holds one of `needed` and
/// the request's table exists; then `handle` works on its rows.
async fn on_rows<F>(request: &TableRequest, needed: &[&str], handle: F) -> Response
where
    F: FnOnce(&mut World, &RowsCall) -> Result<Reply, GenesysError>,
{
    let table = request.table.as_str();
    api(&request.sim, &request.head, |world, caller| {
        caller.require(needed)?;
        let spec = caller.table(world, table)?;
        let call = RowsCall {
            at: TableAddress {
                principal: caller.principal,
                table,
            },
            rules: RowRules::of(caller.config, &spec.schema),
            admitted: caller.admitted,
        };
        handle(world, &call)
    })
    .await
}

/// `PUT …/rows/{key}` (`path_key` set) or `POST …/rows`.
async fn write_row(request: &TableRequest, path_key: Option<&str>, body: &[u8]) -> Response {
    let needed = match path_key {
        Some(_) => permissions::EDIT_ROW,
        None => permissions::ADD_ROW,
    };
    on_rows(request, needed, |world, call| {
        let errors = &call.admitted.record_errors;
        let rules = call.rules.full_now(call.admitted.table_full);
        datatable::write_row(world, call.at, path_key, body, errors, rules).map(Reply::from)
    })
    .await
}

/// `POST …/rows`: a new row.
async fn create_row(request: TableRequest, body: Bytes) -> Response {
    write_row(&request, None, &body).await
}

/// `PUT …/rows/{key}`: the row replaced.
async fn update_row(request: TableRequest, Path((_, key)): RowPath, body: Bytes) -> Response {
    write_row(&request, Some(&key), &body).await
}

/// `DELETE …/rows/{key}`: 204.
async fn delete_row(request: TableRequest, Path((_, key)): RowPath) -> Response {
    on_rows(&request, permissions::DELETE_ROW, |world, call| {
        datatable::delete_row(world, call.at, &key).map(|_| Reply::NoContent)
    })
    .await
}

/// `GET …/rows?pageNumber=&pageSize=&showbrief=`: defaults 1, 25 and `true`, like Genesys.
async fn list_rows(request: TableRequest) -> Response {
    let query = request.head.query();
    let page = Page::asked(&query);
    let brief = query.get("showbrief").is_none_or(|v| v != "false");
    on_rows(&request, permissions::READ_ROWS, |world, call| {
        rows_page::list_rows(world, call.at, page, brief).map(Reply::from)
    })
    .await
}

/// `GET …/rows/{key}`: the row as stored.
async fn get_row(request: TableRequest, Path((_, key)): RowPath) -> Response {
    on_rows(&request, permissions::READ_ROWS, |world, call| {
        datatable::read_row(world, call.at, &key).map(Reply::from)
    })
    .await
}

/// `GET /api/v2/organizations/limits/namespaces/{namespace}`.
async fn org_limits(
    State(sim): State<Sim>,
    Path(namespace): Path<String>,
    head: RequestHead,
) -> Response {
    api(&sim, &head, |_, caller| {
        let per_window = caller.config.genesys_requests_per_minute;
        let refused = caller.admitted.limits_refused;
        limits::namespace_limits(&namespace, per_window, refused).map(Reply::from)
    })
    .await
}

/// `POST /api/v2/scripts/published` with `{scriptId, versionId}`.
async fn publish(State(sim): State<Sim>, head: RequestHead, body: Bytes) -> Response {
    api(&sim, &head, |world, caller| {
        caller.require(permissions::PUBLISH)?;
        let request: Value = serde_json::from_slice(&body).unwrap_or_default();
        let field = |name| {
            request
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let (Some(script_id), Some(version_id)) = (field("scriptId"), field("versionId")) else {
            return Err(GenesysError::bad_request(
                "scriptId and versionId are required",
            ));
        };
        let published = PublishedScript {
            script_id: script_id.into(),
            version_id: version_id.into(),
        };
        world
            .target(caller.principal, SimTarget::Genesys)
            .published
            .push(published);
        let answer =
            json!({"id": script_id, "versionId": version_id, "publishedDate": rfc3339_now()});
        Ok(Reply::Json(answer))
    })
    .await
}
