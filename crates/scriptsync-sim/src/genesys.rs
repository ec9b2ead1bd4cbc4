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
//! accounting, correlation id).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use super::codes::GenesysError;
use super::datatable::{self, RowRules, TableAddress};
use super::genesys_api::{Reply, api};
use super::genesys_tables;
use super::oauth::genesys_login;
use super::request_head::RequestHead;
use super::respond::rfc3339_now;
use super::rows_page::Page;
use super::world::{Sim, World};
use super::{PublishedScript, SimConfig, SimTarget, limits, permissions, rows_page, table_defs};

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

type RowPath = Path<(String, String)>;

/// A call on `table`'s rows: the client holds one of `needed` and the table exists.
fn table_access(
    config: &SimConfig,
    world: &mut World,
    principal: &str,
    table: &str,
    needed: &[&str],
) -> Result<(), GenesysError> {
    permissions::require(config, principal, needed)?;
    table_defs::find(world, config.genesys_datatables.as_ref(), principal, table).map(|_| ())
}

/// `PUT …/rows/{key}` (`path_key` set) or `POST …/rows`.
async fn write(
    sim: Sim,
    table: String,
    path_key: Option<String>,
    head: RequestHead,
    body: Bytes,
) -> Response {
    let shared = sim.clone();
    api(&sim, &head, move |world, principal, admitted| {
        let needed = match path_key {
            Some(_) => permissions::EDIT_ROW,
            None => permissions::ADD_ROW,
        };
        let config = &shared.config;
        permissions::require(config, principal, needed)?;
        let configured = config.genesys_datatables.as_ref();
        let spec = table_defs::find(world, configured, principal, &table)?;
        let rules = RowRules::of(config, &spec.schema);
        let errors = &admitted.record_errors;
        let path_key = path_key.as_deref();
        let at = TableAddress {
            principal,
            table: &table,
        };
        datatable::write_row(world, at, path_key, &body, errors, rules).map(Reply::from)
    })
    .await
}

async fn update_row(
    State(sim): State<Sim>,
    Path((table, key)): RowPath,
    head: RequestHead,
    body: Bytes,
) -> Response {
    write(sim, table, Some(key), head, body).await
}

async fn create_row(
    State(sim): State<Sim>,
    Path(table): Path<String>,
    head: RequestHead,
    body: Bytes,
) -> Response {
    write(sim, table, None, head, body).await
}

async fn delete_row(
    State(sim): State<Sim>,
    Path((table, key)): RowPath,
    head: RequestHead,
) -> Response {
    let shared = sim.clone();
    api(&sim, &head, move |world, principal, _| {
        table_access(
            &shared.config,
            world,
            principal,
            &table,
            permissions::DELETE_ROW,
        )?;
        let at = TableAddress {
            principal,
            table: &table,
        };
        datatable::delete_row(world, at, &key).map(|_| Reply::NoContent)
    })
    .await
}

/// `GET …/rows?pageNumber=&pageSize=&showbrief=`: defaults 1, 25 and `true`, like Genesys.
async fn list_rows(
    State(sim): State<Sim>,
    Path(table): Path<String>,
    head: RequestHead,
) -> Response {
    let query = head.query();
    let page = Page::asked(&query);
    let brief = query.get("showbrief").is_none_or(|v| v != "false");
    let shared = sim.clone();
    api(&sim, &head, move |world, principal, _| {
        table_access(
            &shared.config,
            world,
            principal,
            &table,
            permissions::READ_ROWS,
        )?;
        let at = TableAddress {
            principal,
            table: &table,
        };
        rows_page::list_rows(world, at, page, brief).map(Reply::from)
    })
    .await
}

async fn get_row(
    State(sim): State<Sim>,
    Path((table, key)): RowPath,
    head: RequestHead,
) -> Response {
    let shared = sim.clone();
    api(&sim, &head, move |world, principal, _| {
        table_access(
            &shared.config,
            world,
            principal,
            &table,
            permissions::READ_ROWS,
        )?;
        let at = TableAddress {
            principal,
            table: &table,
        };
        datatable::read_row(world, at, &key).map(Reply::from)
    })
    .await
}

async fn org_limits(
    State(sim): State<Sim>,
    Path(namespace): Path<String>,
    head: RequestHead,
) -> Response {
    let per_window = sim.config.genesys_requests_per_minute;
    api(&sim, &head, move |_, _, admitted| {
        limits::namespace_limits(&namespace, per_window, admitted.limits_refused).map(Reply::from)
    })
    .await
}

async fn publish(State(sim): State<Sim>, head: RequestHead, body: Bytes) -> Response {
    let shared = sim.clone();
    api(&sim, &head, move |world, principal, _| {
        permissions::require(&shared.config, principal, permissions::PUBLISH)?;
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
            .target(principal, SimTarget::Genesys)
            .published
            .push(published);
        let answer =
            json!({"id": script_id, "versionId": version_id, "publishedDate": rfc3339_now()});
        Ok(Reply::Json(answer))
    })
    .await
}
