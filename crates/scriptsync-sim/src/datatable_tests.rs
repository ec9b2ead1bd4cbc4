//! Unit tests of [`super`]: the row store's rules on an in-memory world.

use std::sync::LazyLock;

use super::*;
use crate::codes::GENESYS_ROW_NOT_FOUND_CODE;
use crate::table_defs::scriptsync_schema;
use serde_json::json;

static SCHEMA: LazyLock<Value> = LazyLock::new(scriptsync_schema);

/// A table with the scriptsync schema and room for 5,000 rows; a duplicate is 409.
static RULES: LazyLock<RowRules<'static>> = LazyLock::new(|| RowRules {
    schema: &SCHEMA,
    max_rows: 5_000,
    duplicate_status: 409,
    full: false,
});

fn body(key: &str, version: u64) -> Vec<u8> {
    json!({"key": key, "version": version, "versionHash": "h", "changeId": "c"})
        .to_string()
        .into_bytes()
}

/// The table `table` of the client `principal`.
fn at<'a>(principal: &'a str, table: &'a str) -> TableAddress<'a> {
    TableAddress { principal, table }
}

fn post(w: &mut World, table: &str, key: &str, rules: RowRules) -> Result<Value, GenesysError> {
    write_row(
        w,
        at("p", table),
        None,
        &body(key, 1),
        &BTreeSet::new(),
        rules,
    )
}

#[test]
fn update_needs_the_row_create_refuses_a_duplicate_and_older_overwrites() {
    let mut w = World::default();
    let none = BTreeSet::new();
    let put =
        |w: &mut World, v| write_row(w, at("p", "t"), Some("s1"), &body("s1", v), &none, *RULES);
    assert_eq!(put(&mut w, 2).unwrap_err().status, 404);
    write_row(&mut w, at("p", "t"), None, &body("s1", 2), &none, *RULES).unwrap();
    let dup = write_row(&mut w, at("p", "t"), None, &body("s1", 3), &none, *RULES);
    assert_eq!(dup.unwrap_err().status, 409);
    put(&mut w, 1).unwrap();
    let state = &w.tenants["p"].genesys;
    assert_eq!((state.writes, state.older_writes), (2, 1));
    assert_eq!(state.held["s1"].version, 1);
    assert_eq!(state.held["s1"].writes, 2);
    assert_eq!(read_row(&w, at("p", "t"), "s1").unwrap()["version"], 1);
    assert_eq!(
        read_row(&w, at("other", "t"), "s1").unwrap_err().status,
        404
    );
}

#[test]
fn bad_rows_are_400() {
    let mut w = World::default();
    let errors = BTreeSet::from(["bad".to_string()]);
    let mismatch = write_row(
        &mut w,
        at("p", "t"),
        Some("x"),
        &body("s1", 1),
        &errors,
        *RULES,
    );
    assert_eq!(mismatch.unwrap_err().status, 400);
    let no_version = write_row(
        &mut w,
        at("p", "t"),
        None,
        br#"{"key":"s1"}"#,
        &errors,
        *RULES,
    );
    assert_eq!(no_version.unwrap_err().status, 400);
    let flagged = write_row(&mut w, at("p", "t"), None, &body("bad", 1), &errors, *RULES);
    assert_eq!(flagged.unwrap_err().code, GENESYS_SCHEMA_CODE);
    assert!(w.tables.values().all(|rows| rows.is_empty()));
}

#[test]
fn a_row_must_fit_the_tables_schema() {
    let mut w = World::default();
    let none = BTreeSet::new();
    let unknown = br#"{"key":"s1","version":1,"colour":"red"}"#;
    let refused = write_row(&mut w, at("p", "t"), None, unknown, &none, *RULES).unwrap_err();
    assert_eq!((refused.status, refused.code), (400, GENESYS_SCHEMA_CODE));
    assert!(refused.message.contains("colour"), "{}", refused.message);
    let mistyped = br#"{"key":"s1","version":"1"}"#;
    let refused = write_row(&mut w, at("p", "t"), None, mistyped, &none, *RULES).unwrap_err();
    assert_eq!(refused.code, GENESYS_SCHEMA_CODE);
    assert!(w.tables.values().all(|rows| rows.is_empty()));
}

#[test]
fn keys_longer_than_the_limit_are_refused_in_characters() {
    let mut w = World::default();
    let longest = "é".repeat(GENESYS_MAX_ROW_KEY_CHARS);
    post(&mut w, "t", &longest, *RULES).expect("256 characters (512 bytes) fit");
    let too_long = format!("{longest}x");
    let error = post(&mut w, "t", &too_long, *RULES).unwrap_err();
    assert_eq!((error.status, error.code), (400, GENESYS_SCHEMA_CODE));
    assert!(
        error.message.contains("257 characters"),
        "{}",
        error.message
    );
}

#[test]
fn the_row_cap_refuses_only_new_rows_of_a_full_table() {
    let mut w = World::default();
    let rules = RowRules {
        max_rows: 2,
        ..*RULES
    };
    post(&mut w, "t", "a", rules).unwrap();
    post(&mut w, "t", "b", rules).unwrap();
    let full = post(&mut w, "t", "c", rules).unwrap_err();
    assert_eq!(
        (full.status, full.code),
        (GENESYS_MAX_ROWS_STATUS, GENESYS_MAX_ROWS_CODE)
    );
    let dup = post(&mut w, "t", "a", rules).unwrap_err();
    assert_eq!(
        dup.code, GENESYS_ROW_EXISTS_CODE,
        "a duplicate is reported as such"
    );
    let none = BTreeSet::new();
    write_row(&mut w, at("p", "t"), Some("b"), &body("b", 2), &none, rules).expect("PUT works");
    post(&mut w, "other-table", "c", rules).expect("the cap is per table");
    delete_row(&mut w, at("p", "t"), "a").unwrap();
    post(&mut w, "t", "c", rules).expect("a delete makes room");
}

#[test]
fn a_table_full_fault_refuses_new_rows_and_lets_updates_through() {
    let mut w = World::default();
    post(&mut w, "t", "a", *RULES).unwrap();
    let full = RULES.full_now(true);
    let refused = post(&mut w, "t", "b", full).unwrap_err();
    assert_eq!(
        (refused.status, refused.code),
        (GENESYS_MAX_ROWS_STATUS, GENESYS_MAX_ROWS_CODE)
    );
    let none = BTreeSet::new();
    write_row(&mut w, at("p", "t"), Some("a"), &body("a", 2), &none, full).expect("PUT works");
    post(&mut w, "t", "b", *RULES).expect("room again once the fault is lifted");
}

#[test]
fn the_duplicate_status_is_configurable_and_the_code_stays() {
    let mut w = World::default();
    let rules = RowRules {
        duplicate_status: 400,
        ..*RULES
    };
    post(&mut w, "t", "a", rules).unwrap();
    let dup = post(&mut w, "t", "a", rules).unwrap_err();
    assert_eq!((dup.status, dup.code), (400, GENESYS_ROW_EXISTS_CODE));
}

#[test]
fn deletes_remove_the_row_and_its_held_entry_and_are_counted() {
    let mut w = World::default();
    let none = BTreeSet::new();
    write_row(&mut w, at("p", "t"), None, &body("s1", 4), &none, *RULES).unwrap();
    write_row(&mut w, at("p", "u"), None, &body("s2", 1), &none, *RULES).unwrap();
    write_row(&mut w, at("p", "u"), None, &body("s1", 1), &none, *RULES).unwrap();
    assert_eq!(delete_row(&mut w, at("p", "t"), "s1"), Ok(4));
    assert!(
        w.tenants["p"].genesys.held.contains_key("s1"),
        "table u still holds s1"
    );
    assert_eq!(delete_row(&mut w, at("p", "u"), "s1"), Ok(1));
    let gone = delete_row(&mut w, at("p", "u"), "s1").unwrap_err();
    assert_eq!((gone.status, gone.code), (404, GENESYS_ROW_NOT_FOUND_CODE));
    assert_eq!(
        delete_row(&mut w, at("q", "u"), "s2").unwrap_err().status,
        404
    );
    let state = &w.tenants["p"].genesys;
    assert_eq!(state.held.keys().collect::<Vec<_>>(), ["s2"]);
    assert_eq!((state.deletes, state.writes), (2, 3));
    assert_eq!(read_row(&w, at("p", "t"), "s1").unwrap_err().status, 404);
}
