//! Genesys data tables themselves over HTTP: `GET /api/v2/flows/datatables/{id}` (with
//! `?expand=schema`), `GET /api/v2/flows/datatables?name=…`, `POST /api/v2/flows/datatables`.
//! The tables and their schemas are [`super::table_defs`]'s; each call needs its permission
//! ([`super::permissions`]) and runs inside the common path of [`super::genesys_api::api`].

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::json;

use super::genesys_api::{Reply, api};
use super::request_head::RequestHead;
use super::world::Sim;
use super::{permissions, table_defs};

/// `GET /api/v2/flows/datatables/{id}?expand=schema`: the table, with its schema when asked.
pub(crate) async fn read_table(
    State(sim): State<Sim>,
    Path(table): Path<String>,
    head: RequestHead,
) -> Response {
    let with_schema = head
        .query()
        .get("expand")
        .is_some_and(|e| e.split(',').any(|part| part.trim() == "schema"));
    api(&sim, &head, |world, caller| {
        caller.require(permissions::READ_TABLE)?;
        let spec = caller.table(world, &table)?;
        Ok(Reply::Json(table_defs::entity(&table, &spec, with_schema)))
    })
    .await
}

/// `GET /api/v2/flows/datatables?name=…`: the tables of that name, one page.
pub(crate) async fn find_tables(State(sim): State<Sim>, head: RequestHead) -> Response {
    let name = head.query().remove("name").unwrap_or_default();
    api(&sim, &head, |world, caller| {
        caller.require(permissions::READ_TABLE)?;
        let configured = caller.configured_tables();
        let entities = table_defs::named(world, configured, caller.principal, &name);
        let total = entities.len();
        Ok(Reply::Json(json!({
            "entities": entities, "pageNumber": 1, "pageSize": 25, "total": total,
            "pageCount": usize::from(total > 0),
        })))
    })
    .await
}

/// `POST /api/v2/flows/datatables` with `{name, schema}`.
pub(crate) async fn create_table(
    State(sim): State<Sim>,
    head: RequestHead,
    body: Bytes,
) -> Response {
    api(&sim, &head, |world, caller| {
        caller.require(permissions::CREATE_TABLE)?;
        let configured = caller.configured_tables();
        table_defs::create(world, configured, caller.principal, &body).map(Reply::Json)
    })
    .await
}
