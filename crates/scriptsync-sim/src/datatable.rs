//! Genesys Architect data-table rows: the store behind the row endpoints (the listing is
//! [`super::rows_page`]).
//!
//! Rows are kept per (principal, datatable id), so two Genesys orgs never see each other's
//! rows. Writes are applied like the real table: last write wins, whatever its `version` (a
//! lower version is counted in `older_writes`). The snapshot's `held` shows rows by key.
//!
//! The table's rules ([`RowRules`]), checked in this order on the body, parsed once: a JSON
//! object (else 400) that fits the table's schema ([`super::table_defs::check_row`]); a
//! non-empty key of at most [`GENESYS_MAX_ROW_KEY_CHARS`] characters (else 400
//! [`GENESYS_SCHEMA_CODE`]); for `PUT` a key equal to the path's and an existing row (404); an
//! integer `version`; for `POST` a key not held yet (`genesys_duplicate_row_status`,
//! [`GENESYS_ROW_EXISTS_CODE`]) and room for one more row (`genesys_max_rows_per_table`, else
//! [`GENESYS_MAX_ROWS_STATUS`] / [`GENESYS_MAX_ROWS_CODE`]). A delete removes the row, and its
//! `held` entry unless another table of the principal holds the same key.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::codes::{
    GENESYS_MAX_ROW_KEY_CHARS, GENESYS_MAX_ROWS_CODE, GENESYS_MAX_ROWS_STATUS,
    GENESYS_ROW_EXISTS_CODE, GENESYS_ROW_NOT_FOUND_CODE, GENESYS_SCHEMA_CODE, GenesysError,
};
use super::table_defs;
use super::world::{TableKey, World};
use super::{HeldRecord, SimConfig, SimTarget};

/// Where a table's rows are kept: the data table `table` of the client `principal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableAddress<'a> {
    pub(crate) principal: &'a str,
    pub(crate) table: &'a str,
}

impl TableAddress<'_> {
    /// The key of the table's rows in [`World::tables`].
    pub(crate) fn key(self) -> TableKey {
        (self.principal.to_owned(), self.table.to_owned())
    }
}

/// The rules a table holds its rows to: its own schema, and the limits configured for every
/// table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RowRules<'a> {
    /// The table's JSON schema ([`super::table_defs::DataTableSpec::schema`]).
    pub(crate) schema: &'a Value,
    pub(crate) max_rows: usize,
    pub(crate) duplicate_status: u16,
    /// The table counts as full whatever it holds (the `table_full` fault).
    pub(crate) full: bool,
}

impl<'a> RowRules<'a> {
    /// The rules of the table whose schema is `schema`, with `config`'s limits.
    pub(crate) fn of(config: &SimConfig, schema: &'a Value) -> Self {
        Self {
            schema,
            max_rows: config.genesys_max_rows_per_table,
            duplicate_status: config.genesys_duplicate_row_status,
            full: false,
        }
    }

    /// These rules, with the table counted as full when `full` (the `table_full` fault).
    pub(crate) fn full_now(self, full: bool) -> Self {
        Self { full, ..self }
    }
}

/// Applies a row write to the table at `at`; returns the stored row. With a `path_key`
/// (`PUT …/rows/{key}`) the row must exist; without (`POST …/rows`) it must not.
pub(crate) fn write_row(
    world: &mut World,
    at: TableAddress,
    path_key: Option<&str>,
    body: &[u8],
    record_errors: &BTreeSet<String>,
    rules: RowRules,
) -> Result<Value, GenesysError> {
    let row = parse_row(body)?;
    table_defs::check_row(rules.schema, &row)?;
    let key = text(&row, "key");
    check_key(&key)?;
    if path_key.is_some_and(|p| p != key) {
        return Err(GenesysError::bad_request(format!(
            "The row key '{key}' does not match the row id in the path"
        )));
    }
    let Some(version) = row.get("version").and_then(Value::as_u64) else {
        return Err(GenesysError::schema(
            "Property \"version\" must be an integer",
        ));
    };
    if record_errors.contains(&key) {
        return Err(GenesysError::schema(format!(
            "simulated row error for '{key}'"
        )));
    }
    let rows = world.tables.entry(at.key()).or_default();
    match (path_key.is_some(), rows.contains_key(&key)) {
        (true, false) => return Err(not_found(at.table, &key)),
        (false, true) => {
            return Err(GenesysError::new(
                rules.duplicate_status,
                GENESYS_ROW_EXISTS_CODE,
                format!("A row with key '{key}' already exists"),
            ));
        }
        (false, false) if rules.full || rows.len() >= rules.max_rows => {
            return Err(GenesysError::new(
                GENESYS_MAX_ROWS_STATUS,
                GENESYS_MAX_ROWS_CODE,
                format!(
                    "The datatable '{}' already holds the maximum of {} rows",
                    at.table, rules.max_rows
                ),
            ));
        }
        _ => {}
    }
    rows.insert(key.clone(), row.clone());

    let principal = at.principal;
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
        retired: false,
    };
    world.applied(principal, SimTarget::Genesys, &key, version);
    Ok(Value::Object(row))
}

/// Deletes the row `key` of the table at `at`; returns the version it held, or 404.
pub(crate) fn delete_row(
    world: &mut World,
    at: TableAddress,
    key: &str,
) -> Result<u64, GenesysError> {
    let rows = world.tables.get_mut(&at.key());
    let Some(row) = rows.and_then(|rows| rows.remove(key)) else {
        return Err(not_found(at.table, key));
    };
    let principal = at.principal;
    let held_elsewhere = world
        .tables
        .iter()
        .any(|((p, _), rows)| p == principal && rows.contains_key(key));
    let state = world.target(principal, SimTarget::Genesys);
    let held = (!held_elsewhere).then(|| state.held.remove(key)).flatten();
    let version = row
        .get("version")
        .and_then(Value::as_u64)
        .or(held.map(|h| h.version))
        .unwrap_or_default();
    state.deletes += 1;
    state.tokens_seen.insert(principal.to_string());
    world.deleted(principal, SimTarget::Genesys, key, version);
    Ok(version)
}

/// The row `key` of the table at `at` as stored, or 404.
pub(crate) fn read_row(world: &World, at: TableAddress, key: &str) -> Result<Value, GenesysError> {
    world
        .tables
        .get(&at.key())
        .and_then(|rows| rows.get(key))
        .cloned()
        .map(Value::Object)
        .ok_or_else(|| not_found(at.table, key))
}

/// A key the table accepts: present and not too long.
fn check_key(key: &str) -> Result<(), GenesysError> {
    if key.is_empty() {
        return Err(GenesysError::schema(
            "The row needs a string property \"key\"",
        ));
    }
    let chars = key.chars().count();
    if chars > GENESYS_MAX_ROW_KEY_CHARS {
        return Err(GenesysError::new(
            400,
            GENESYS_SCHEMA_CODE,
            format!(
                "The row key is {chars} characters long; a key may have at most \
                 {GENESYS_MAX_ROW_KEY_CHARS} characters"
            ),
        ));
    }
    Ok(())
}

fn not_found(table: &str, key: &str) -> GenesysError {
    GenesysError::new(
        404,
        GENESYS_ROW_NOT_FOUND_CODE,
        format!("Row '{key}' not found in datatable '{table}'"),
    )
}

fn parse_row(body: &[u8]) -> Result<Map<String, Value>, GenesysError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(row)) => Ok(row),
        _ => Err(GenesysError::bad_request(
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
#[path = "datatable_tests.rs"]
mod tests;
