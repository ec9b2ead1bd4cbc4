//! Genesys Architect data-table rows: the store behind the row endpoints.
//!
//! Rows are keyed by (principal, datatable id, key), so two Genesys orgs never see each other's
//! rows. Writes are applied like the real table: last write wins, whatever its `version` (a
//! lower version is counted in `older_writes`). The snapshot's `held` shows rows by key. The
//! listing pages through one table's rows, keys ascending.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::world::World;
use super::{HeldRecord, SimTarget};

/// A Genesys error to render: HTTP status, `code`, `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl RowError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

/// Applies a row write for `principal`; returns the stored row. With a `path_key`
/// (`PUT …/rows/{key}`) the row must exist; without (`POST …/rows`) it must not.
pub(crate) fn write_row(
    world: &mut World,
    principal: &str,
    table: &str,
    path_key: Option<&str>,
    body: &[u8],
    record_errors: &BTreeSet<String>,
) -> Result<Value, RowError> {
    let row = parse_row(body)?;
    let key = row
        .get("key")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if key.is_empty() {
        return Err(RowError::new(
            400,
            "flows.datatables.schema.exception",
            "The row needs a string property \"key\"",
        ));
    }
    if path_key.is_some_and(|p| p != key) {
        return Err(RowError::new(
            400,
            "bad.request",
            format!("The row key '{key}' does not match the row id in the path"),
        ));
    }
    let Some(version) = row.get("version").and_then(Value::as_u64) else {
        return Err(RowError::new(
            400,
            "flows.datatables.schema.exception",
            "Property \"version\" must be an integer",
        ));
    };
    if record_errors.contains(&key) {
        return Err(RowError::new(
            400,
            "flows.datatables.schema.exception",
            format!("simulated row error for '{key}'"),
        ));
    }
    let id = (principal.to_string(), table.to_string(), key.clone());
    match (path_key.is_some(), world.rows.contains_key(&id)) {
        (true, false) => return Err(not_found(table, &key)),
        (false, true) => {
            return Err(RowError::new(
                409,
                "flows.datatables.row.already.exists",
                format!("A row with key '{key}' already exists"),
            ));
        }
        _ => {}
    }
    world.rows.insert(id, row.clone());

    let state = world.target(principal, SimTarget::Genesys);
    state.writes += 1;
    state.tokens_seen.insert(principal.to_string());
    let held = state.held.entry(key.clone()).or_default();
    if held.writes > 0 && version < held.version {
        state.older_writes += 1;
    }
    *held = HeldRecord {
        version,
        version_hash: text(&row, "versionHash"),
        change_id: text(&row, "changeId"),
        disclaimer: row
            .get("disclaimer")
            .and_then(Value::as_str)
            .map(str::to_string),
        writes: held.writes + 1,
    };
    world.applied(principal, SimTarget::Genesys, &key, version);
    Ok(Value::Object(row))
}

/// The stored row, or 404.
pub(crate) fn read_row(
    world: &World,
    principal: &str,
    table: &str,
    key: &str,
) -> Result<Value, RowError> {
    let id = (principal.to_string(), table.to_string(), key.to_string());
    world
        .rows
        .get(&id)
        .cloned()
        .map(Value::Object)
        .ok_or_else(|| not_found(table, key))
}

/// Largest `pageSize` the row listing accepts.
pub(crate) const MAX_PAGE_SIZE: usize = 500;

/// One page of the table's rows, keys ascending, in Genesys's entity-listing shape:
/// `{"entities", "pageNumber", "pageSize", "total", "pageCount"}`. With `brief` each entity
/// is `{"key"}` only (Genesys's `showbrief=true`, its default).
pub(crate) fn list_rows(
    world: &World,
    principal: &str,
    table: &str,
    (page_number, page_size): (usize, usize),
    brief: bool,
) -> Result<Value, RowError> {
    if page_number == 0 || page_size == 0 || page_size > MAX_PAGE_SIZE {
        return Err(RowError::new(
            400,
            "bad.request",
            format!("pageNumber must be ≥ 1 and pageSize 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    let mut rows: Vec<(&String, &Map<String, Value>)> = world
        .rows
        .iter()
        .filter(|((p, t, _), _)| p == principal && t == table)
        .map(|((_, _, key), row)| (key, row))
        .collect();
    rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let total = rows.len();
    let entities: Vec<Value> = rows
        .into_iter()
        .skip((page_number - 1).saturating_mul(page_size))
        .take(page_size)
        .map(|(key, row)| {
            if brief {
                serde_json::json!({ "key": key })
            } else {
                Value::Object(row.clone())
            }
        })
        .collect();
    Ok(serde_json::json!({
        "entities": entities,
        "pageNumber": page_number,
        "pageSize": page_size,
        "total": total,
        "pageCount": total.div_ceil(page_size),
    }))
}

fn not_found(table: &str, key: &str) -> RowError {
    RowError::new(
        404,
        "flows.datatables.row.not.found",
        format!("Row '{key}' not found in datatable '{table}'"),
    )
}

fn parse_row(body: &[u8]) -> Result<Map<String, Value>, RowError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(row)) => Ok(row),
        _ => Err(RowError::new(
            400,
            "bad.request",
            "The request body must be a JSON object",
        )),
    }
}

fn text(row: &Map<String, Value>, field: &str) -> String {
    row.get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(key: &str, version: u64) -> Vec<u8> {
        json!({"key": key, "version": version, "versionHash": "h", "changeId": "c"})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn update_needs_the_row_create_refuses_a_duplicate_and_older_overwrites() {
        let mut w = World::default();
        let none = BTreeSet::new();
        let put = |w: &mut World, v| write_row(w, "p", "t", Some("s1"), &body("s1", v), &none);
        assert_eq!(put(&mut w, 2).unwrap_err().status, 404);
        write_row(&mut w, "p", "t", None, &body("s1", 2), &none).unwrap();
        let dup = write_row(&mut w, "p", "t", None, &body("s1", 3), &none);
        assert_eq!(dup.unwrap_err().status, 409);
        put(&mut w, 1).unwrap();
        let state = &w.tenants["p"].genesys;
        assert_eq!((state.writes, state.older_writes), (2, 1));
        assert_eq!(state.held["s1"].version, 1);
        assert_eq!(state.held["s1"].writes, 2);
        assert_eq!(read_row(&w, "p", "t", "s1").unwrap()["version"], 1);
        assert_eq!(read_row(&w, "other", "t", "s1").unwrap_err().status, 404);
    }

    #[test]
    fn bad_rows_are_400() {
        let mut w = World::default();
        let errors = BTreeSet::from(["bad".to_string()]);
        let mismatch = write_row(&mut w, "p", "t", Some("x"), &body("s1", 1), &errors);
        assert_eq!(mismatch.unwrap_err().status, 400);
        let no_version = write_row(&mut w, "p", "t", None, br#"{"key":"s1"}"#, &errors);
        assert_eq!(no_version.unwrap_err().status, 400);
        let flagged = write_row(&mut w, "p", "t", None, &body("bad", 1), &errors);
        assert_eq!(
            flagged.unwrap_err().code,
            "flows.datatables.schema.exception"
        );
        assert!(w.rows.is_empty());
    }
}
