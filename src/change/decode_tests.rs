//! Unit tests of the decoder's dispatch on `schema`: each schema is held to its own shape,
//! an unknown one is named, and the error texts a change always got stay as they were.

use super::*;
use crate::change::{SCHEMA_RETIRE_V1, SCHEMA_V1};

const LIMIT: usize = 65_536;

const RETIRE: &str = r#"{"schema":"script-retire/v1","id":"r-1","tenant":"acme","script_id":"welcome","version":9,"published_at":"2026-01-01T00:00:00Z"}"#;
const CHANGE: &str = r#"{"schema":"script-change/v1","id":"c-1","tenant":"acme","script_id":"welcome","version":8,"version_hash":"h8","published_at":"2026-01-01T00:00:00Z"}"#;

fn error(body: &str) -> String {
    decode(body.as_bytes(), "acme", LIMIT).unwrap_err().0
}

#[test]
fn each_schema_decodes_to_its_operation_and_writes_back_byte_for_byte() {
    for (body, op) in [(CHANGE, Operation::Upsert), (RETIRE, Operation::Retire)] {
        let change = decode(body.as_bytes(), "acme", LIMIT).unwrap();
        assert_eq!(change.operation(), op);
        assert_eq!(change.schema(), op.schema());
        assert_eq!(serde_json::to_string(&change).unwrap(), body);
    }
    let retire = decode(RETIRE.as_bytes(), "acme", LIMIT).unwrap();
    assert_eq!((retire.script_id(), retire.version()), ("welcome", 9));
    assert_eq!(retire.version_hash(), "");
    let err = decode(RETIRE.as_bytes(), "globex", LIMIT).unwrap_err().0;
    assert!(err.contains("routing key"), "{err}");
}

/// (what, body, the whole error text).
const REFUSED: &[(&str, &str, &str)] = &[
    (
        "a retire with a content field",
        r#"{"schema":"script-retire/v1","id":"r","tenant":"acme","script_id":"s","version":1,"version_hash":"h","published_at":"2026-01-01T00:00:00Z"}"#,
        "not a valid script change: version_hash: unknown field `version_hash`, expected one of `schema`, `id`, `tenant`, `script_id`, `version`, `published_at`, `targets`, `priority`",
    ),
    (
        "a retire without a version",
        r#"{"schema":"script-retire/v1","id":"r","tenant":"acme","script_id":"s","published_at":"2026-01-01T00:00:00Z"}"#,
        "not a valid script change: missing field `version`",
    ),
    (
        "a retire with version 0",
        r#"{"schema":"script-retire/v1","id":"r","tenant":"acme","script_id":"s","version":0,"published_at":"2026-01-01T00:00:00Z"}"#,
        "not a valid script change: version must be between 1 and 9007199254740991",
    ),
    (
        "a retire with a string version",
        r#"{"schema":"script-retire/v1","id":"r","tenant":"acme","script_id":"s","version":"1","published_at":"2026-01-01T00:00:00Z"}"#,
        "not a valid script change: version: invalid type: string \"1\", expected a JSON number",
    ),
    (
        "a retire's shape under the change schema",
        r#"{"schema":"script-change/v1","id":"r","tenant":"acme","script_id":"s","version":1,"published_at":"2026-01-01T00:00:00Z"}"#,
        "not a valid script change: missing field `version_hash`",
    ),
    (
        "an unknown schema, change-shaped",
        r#"{"schema":"script-change/v2","id":"c","tenant":"acme","script_id":"s","version":1,"version_hash":"h","published_at":"2026-01-01T00:00:00Z"}"#,
        "not a valid script change: schema must be \"script-change/v1\" or \"script-retire/v1\", got \"script-change/v2\"",
    ),
    (
        "an unknown schema, retire-shaped",
        r#"{"schema":"script-retire/v2","id":"r","tenant":"acme","script_id":"s","version":1,"published_at":"2026-01-01T00:00:00Z"}"#,
        "not a valid script change: schema must be \"script-change/v1\" or \"script-retire/v1\", got \"script-retire/v2\"",
    ),
    (
        "no schema",
        r#"{"id":"c","tenant":"acme","script_id":"s","version":1,"version_hash":"h","published_at":"2026-01-01T00:00:00Z"}"#,
        "not a valid script change: missing field `schema`",
    ),
    (
        "a schema that is not a string",
        r#"{"schema":1,"id":"c","tenant":"acme","script_id":"s","version":1,"version_hash":"h","published_at":"2026-01-01T00:00:00Z"}"#,
        "not a valid script change: schema: invalid type: integer `1`, expected a string",
    ),
    (
        "a duplicate schema",
        r#"{"schema":"script-retire/v1","schema":"script-change/v1","id":"r","tenant":"acme","script_id":"s","version":1,"published_at":"2026-01-01T00:00:00Z"}"#,
        "not a valid script change: duplicate field `schema`",
    ),
    (
        "a retire cut short",
        r#"{"schema":"script-retire/v1","id":"r","#,
        "not valid JSON: EOF while parsing a value at line 1 column 38",
    ),
];

#[test]
fn refused_bodies_say_why_in_one_line() {
    for (what, body, expected) in REFUSED {
        assert_eq!(error(body), *expected, "{what}");
    }
}

#[test]
fn the_schema_constants_are_the_schema_files_consts() {
    for (file, constant) in [
        ("script-change.v1.json", SCHEMA_V1),
        ("script-retire.v1.json", SCHEMA_RETIRE_V1),
    ] {
        let path = format!("{}/schemas/{file}", env!("CARGO_MANIFEST_DIR"));
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(schema["properties"]["schema"]["const"], constant, "{file}");
    }
}
