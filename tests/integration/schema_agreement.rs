//! `schemas/script-change.v1.json` and `scriptsync::change::decode` accept exactly the same
//! messages (DESIGN §3).
//!
//! Every file under `tests/data/changes/valid/` must pass both, every file under
//! `tests/data/changes/invalid/` must fail both. The schema runs as draft 2020-12 with format
//! validation on (`date-time`, `uuid`), as a publisher's validator would. The rules only
//! `decode` can check (routing key, body size, UTF-8, duplicate keys) are tested on their own
//! below. The Genesys data table schema is checked against the row scriptsync writes.
//!
//! Field by field (`every_schema_field_agrees_with_decode_at_its_limits`): the cases are made
//! *from the schema* (each length, range, pattern, enum, const, format and size keyword: a
//! value at the limit and one past it, `null`, absence), so a change to either side that the
//! other does not follow fails here. A keyword the generator does not know fails too, so a
//! new field or rule cannot slip past.
//!
//! `script-retire/v1` (`schemas/script-retire.v1.json`) is held to the same tests, with its own
//! corpus (`tests/data/retires/`), in [`retire`]; that module also checks that `decode`
//! dispatches on `schema`: it accepts a body exactly when one of the two schemas does.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use jsonschema::Validator;
use scriptsync::change::{MAX_VERSION, ScriptChange, decode};
use serde_json::{Value, json};

/// DESIGN §3: the default body limit; every valid corpus file must fit in it.
const MAX_BYTES: usize = 64 * 1024;
/// Routing key used when a file's `tenant` is not a string.
const FALLBACK_ROUTING_KEY: &str = "t";

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read_json(relative: &str) -> Value {
    let path = repo_path(relative);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn change_schema() -> Value {
    read_json("schemas/script-change.v1.json")
}

fn change_validator() -> Validator {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&change_schema())
        .expect("script-change.v1.json compiles")
}

/// `(file name, bytes)` of every `*.json` in `tests/data/changes/<kind>/`, sorted by name.
fn corpus(kind: &str) -> Vec<(String, Vec<u8>)> {
    corpus_in("changes", kind)
}

/// `(file name, bytes)` of every `*.json` in `tests/data/<messages>/<kind>/`, sorted by name.
fn corpus_in(messages: &str, kind: &str) -> Vec<(String, Vec<u8>)> {
    let dir = repo_path(&format!("tests/data/{messages}/{kind}"));
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).expect("corpus file is readable"))
        })
        .collect();
    files.sort();
    files
}

/// The schema's verdict; a body that is not JSON at all fails it.
fn schema_verdict(validator: &Validator, body: &[u8]) -> Result<(), String> {
    let instance: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// The routing key a well-behaved publisher would use: the `tenant` field when it is a string.
fn routing_key(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("tenant").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| FALLBACK_ROUTING_KEY.to_owned())
}

fn decode_verdict(body: &[u8]) -> Result<ScriptChange, String> {
    decode(body, &routing_key(body), MAX_BYTES).map_err(|e| e.to_string())
}

fn decode_file(kind: &str, name: &str) -> ScriptChange {
    let body = fs::read(repo_path(&format!("tests/data/changes/{kind}/{name}"))).unwrap();
    decode_verdict(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn schema_is_a_valid_2020_12_schema() {
    let schema = change_schema();
    assert!(jsonschema::draft202012::meta::is_valid(&schema));
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(
        schema["additionalProperties"], false,
        "the schema must be closed"
    );
    for (name, property) in schema["properties"].as_object().unwrap() {
        assert!(
            property["description"].is_string(),
            "{name} has no description"
        );
    }
}

#[test]
fn corpus_covers_enough_cases() {
    let valid = corpus("valid");
    let invalid = corpus("invalid");
    assert!(valid.len() >= 12, "only {} valid files", valid.len());
    assert!(invalid.len() >= 30, "only {} invalid files", invalid.len());
}

#[test]
fn schema_and_decode_agree_on_every_corpus_file() {
    let validator = change_validator();
    let mut disagreements = Vec::new();
    for (kind, expect_valid) in [("valid", true), ("invalid", false)] {
        for (name, body) in corpus(kind) {
            let schema = schema_verdict(&validator, &body);
            let decoded = decode_verdict(&body).map(drop);
            if schema.is_ok() != expect_valid || decoded.is_ok() != expect_valid {
                disagreements.push(format!(
                    "{kind}/{name}: schema {schema:?}, decode {decoded:?}"
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} file(s) judged wrongly:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

#[test]
fn decoded_changes_serialize_back_to_schema_valid_json() {
    let validator = change_validator();
    for (name, body) in corpus("valid") {
        let change = decode_verdict(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        let value = serde_json::to_value(&change).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{name} re-serialized fails the schema: {errors:?}"
        );

        let again = serde_json::to_vec(&change).unwrap();
        let round_trip = decode(&again, change.tenant(), MAX_BYTES)
            .unwrap_or_else(|e| panic!("{name} re-serialized fails decode: {e}"));
        assert_eq!(round_trip, change, "{name} changes on a round trip");
    }
}

#[test]
fn schema_properties_match_the_rust_type() {
    let schema = change_schema();
    let declared: BTreeSet<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();

    // `full.json` sets every field, `minimal.json` only the required ones.
    let full = serde_json::to_value(decode_file("valid", "full.json")).unwrap();
    let all_fields: BTreeSet<&str> = full
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(all_fields, declared);

    let minimal = serde_json::to_value(decode_file("valid", "minimal.json")).unwrap();
    let required_fields: BTreeSet<&str> = minimal
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(required_fields, required);
}

#[test]
fn routing_key_must_equal_tenant() {
    let body = fs::read(repo_path("tests/data/changes/valid/minimal.json")).unwrap();
    let instance: Value = serde_json::from_slice(&body).unwrap();
    assert!(change_validator().is_valid(&instance));

    assert!(decode(&body, "acme", MAX_BYTES).is_ok());
    for other in ["globex", "ACME", "acme ", ""] {
        let err = decode(&body, other, MAX_BYTES)
            .expect_err(other)
            .to_string();
        assert!(err.contains("routing key"), "{other:?}: {err}");
    }
}

#[test]
fn body_over_the_limit_is_rejected_before_parsing() {
    let body = fs::read(repo_path("tests/data/changes/valid/attributes-max.json")).unwrap();
    assert!(decode(&body, "acme", MAX_BYTES).is_ok());
    let err = decode(&body, "acme", body.len() - 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("limit"), "{err}");
    assert!(
        decode(&body, "acme", body.len()).is_ok(),
        "the limit is inclusive"
    );
}

#[test]
fn body_that_is_not_utf8_is_rejected() {
    let mut body = fs::read(repo_path("tests/data/changes/valid/minimal.json")).unwrap();
    let at = body.windows(4).position(|w| w == b"acme").unwrap();
    body[at] = 0xff;
    let err = decode(&body, "acme", MAX_BYTES).unwrap_err().to_string();
    assert!(err.contains("UTF-8"), "{err}");
}

#[test]
fn duplicate_top_level_key_is_rejected_by_decode() {
    // A JSON Schema validator sees the parsed value, where the last `id` silently wins;
    // `decode` refuses the ambiguity.
    let body = br#"{"schema":"script-change/v1","id":"a","id":"b","tenant":"acme",
        "script_id":"s","version":1,"version_hash":"h","published_at":"2025-03-01T12:00:00Z"}"#;
    let err = decode(body, "acme", MAX_BYTES).unwrap_err().to_string();
    assert!(err.contains("duplicate field"), "{err}");
}

#[test]
fn published_at_time_parses_for_every_valid_file() {
    for (name, body) in corpus("valid") {
        let change = decode_verdict(&body).unwrap();
        assert!(change.published_at_time().is_some(), "{name}");
    }
    let leap = decode_file("valid", "published-at-leap-second-mid-month.json");
    let at = leap.published_at_time().unwrap();
    assert_eq!((at.hour(), at.minute(), at.second()), (23, 59, 59));
}

mod datatable;
mod limits;
mod retire;
mod string_limits;

use limits::{Case, assert_cases_agree, base_change, schema_cases};
