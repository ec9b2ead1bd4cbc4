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

/// The row the Genesys target writes for a change (`PUT`/`POST …/rows`).
fn datatable_row(change: &ScriptChange) -> Value {
    scriptsync::targets::genesys::row_body(change)
}

#[test]
fn genesys_datatable_schema_has_the_shape_genesys_expects() {
    let schema = read_json("schemas/genesys-datatable.json");
    assert!(jsonschema::draft4::meta::is_valid(&schema));
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["required"], json!(["key"]));
    assert_eq!(schema["properties"]["key"]["type"], "string");

    let properties = schema["properties"].as_object().unwrap();
    let mut orders = Vec::new();
    for (name, property) in properties {
        assert_eq!(property["$id"], format!("/properties/{name}"), "{name}");
        assert!(property["title"].is_string(), "{name} has no title");
        assert!(property["type"].is_string(), "{name} has no type");
        orders.push(property["displayOrder"].as_u64().expect("displayOrder"));
    }
    orders.sort_unstable();
    assert_eq!(orders, (0..properties.len() as u64).collect::<Vec<_>>());

    let expected = [
        "key",
        "version",
        "versionHash",
        "disclaimer",
        "campaignId",
        "changeId",
        "publishedAt",
    ];
    let names: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
    assert_eq!(names, expected.into_iter().collect());
}

#[test]
fn every_valid_change_makes_a_row_the_datatable_accepts() {
    let validator = jsonschema::draft4::new(&read_json("schemas/genesys-datatable.json"))
        .expect("genesys-datatable.json compiles");
    for (name, body) in corpus("valid") {
        let row = datatable_row(&decode_verdict(&body).unwrap());
        let errors: Vec<String> = validator.iter_errors(&row).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

#[test]
fn datatable_columns_match_the_row_the_genesys_target_writes() {
    let schema = read_json("schemas/genesys-datatable.json");
    let properties = schema["properties"].as_object().unwrap();
    // `full.json` sets every optional field the row carries.
    let row = datatable_row(&decode_file("valid", "full.json"));
    let row = row.as_object().unwrap();
    let columns: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
    let written: BTreeSet<&str> = row.keys().map(String::as_str).collect();
    assert_eq!(
        columns, written,
        "genesys-datatable.json columns vs the keys of targets::genesys::row_body"
    );
    for (name, value) in row {
        let declared = properties[name]["type"].as_str().unwrap();
        let actual = match value {
            Value::String(_) => "string",
            Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::Bool(_) => "boolean",
            other => panic!("{name}: the row carries {other}"),
        };
        assert_eq!(declared, actual, "column {name}: declared vs written type");
    }
    // The key column holds a script id: the same length limit on both sides.
    assert_eq!(
        properties["key"]["maxLength"],
        change_schema()["properties"]["script_id"]["maxLength"],
        "data table key vs script_id length"
    );
    // A change without the optional fields writes a row without those columns.
    let minimal = datatable_row(&decode_file("valid", "minimal.json"));
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for column in &required {
        assert!(minimal.get(column).is_some(), "required column {column}");
    }
}

/// One generated case: the change (as JSON) and whether the schema means it to be valid.
struct Case {
    what: String,
    change: Value,
    /// `Some(expected)` for a value at or past a limit; `None` for a probe where only
    /// agreement matters (patterns and formats, whose exact language is not re-derived).
    expect: Option<bool>,
}

fn base_change() -> Value {
    read_json("tests/data/changes/valid/minimal.json")
}

/// `base` with `field` set to `value`.
fn set_field(base: &Value, field: &str, value: Value) -> Value {
    let mut change = base.clone();
    change[field] = value;
    change
}

fn text(n: usize, c: char) -> String {
    std::iter::repeat_n(c, n).collect()
}

/// Keywords the generator below turns into cases; any other keyword in a property fails
/// the test (extend the generator with the new rule).
const HANDLED: &[&str] = &[
    "description",
    "type",
    "const",
    "enum",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "maxProperties",
    "propertyNames",
    "additionalProperties",
    "minItems",
    "uniqueItems",
    "items",
];

/// Cases for a string constrained by `rule` (`minLength`, `maxLength`, `pattern`,
/// `format`, `const`, `enum`), each placed in a change by `place`.
fn string_cases(what: &str, rule: &Value, place: &dyn Fn(String) -> Value, out: &mut Vec<Case>) {
    let case = |out: &mut Vec<Case>, label: String, value: String, expect: Option<bool>| {
        out.push(Case {
            what: format!("{what}: {label}"),
            change: place(value),
            expect,
        });
    };
    let min = rule["minLength"].as_u64().map(|n| n as usize);
    let max = rule["maxLength"].as_u64().map(|n| n as usize);
    if let Some(min) = min.filter(|m| *m > 0) {
        case(
            out,
            format!("{min} chars (minLength)"),
            text(min, 'a'),
            Some(true),
        );
        case(
            out,
            format!("{} chars", min - 1),
            text(min - 1, 'a'),
            Some(false),
        );
    }
    if let Some(max) = max {
        for c in ['a', 'é', '😀'] {
            case(
                out,
                format!("{max} × {c:?} (maxLength)"),
                text(max, c),
                Some(true),
            );
            case(
                out,
                format!("{} × {c:?}", max + 1),
                text(max + 1, c),
                Some(false),
            );
        }
    }
    if let Some(value) = rule["const"].as_str() {
        case(out, "the const".into(), value.into(), Some(true));
        case(out, "const + x".into(), format!("{value}x"), Some(false));
        case(
            out,
            "uppercase const".into(),
            value.to_uppercase(),
            Some(false),
        );
    }
    if let Some(values) = rule["enum"].as_array() {
        for v in values {
            case(
                out,
                format!("enum {v}"),
                v.as_str().unwrap().into(),
                Some(true),
            );
        }
        case(out, "not in enum".into(), "other".into(), Some(false));
        case(
            out,
            "enum, wrong case".into(),
            values[0].as_str().unwrap().to_uppercase(),
            Some(false),
        );
    }
    if rule.get("pattern").is_some() {
        let probes = [
            "a".to_string(),
            "Z9".into(),
            "a.b_c-D9".into(),
            text(64, 'a'),
            text(65, 'a'),
            text(128, 'a'),
            "-a".into(),
            ".a".into(),
            "_a".into(),
            "a b".into(),
            "a/b".into(),
            "a*b".into(),
            "é".into(),
            "a\n".into(),
            String::new(),
        ];
        for p in probes {
            case(out, format!("pattern probe {p:?}"), p, None);
        }
    }
    match rule["format"].as_str() {
        Some("date-time") => {
            for p in [
                "2026-11-27T10:00:00Z",
                "2026-11-27t10:00:00z",
                "2026-11-27T10:00:00.123456+05:30",
                "2026-11-27T10:00:00-00:00",
                "2026-11-27 10:00:00Z",
                "2026-11-27T10:00:00",
                "2026-02-30T10:00:00Z",
                "2026-11-27T24:00:00Z",
                "2026-12-31T23:59:60Z",
                "2026-06-15T12:00:60Z",
                "27/11/2026",
                "",
            ] {
                case(out, format!("date-time probe {p:?}"), p.into(), None);
            }
        }
        Some("uuid") => {
            for p in [
                "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
                "3F2504E0-4F89-41D3-9A0C-0305E82C3301",
                "00000000-0000-0000-0000-000000000000",
                "3f2504e04f8941d39a0c0305e82c3301",
                "{3f2504e0-4f89-41d3-9a0c-0305e82c3301}",
                "urn:uuid:3f2504e0-4f89-41d3-9a0c-0305e82c3301",
                "3f2504e0-4f89-41d3-9a0c-0305e82c330",
                "3f2504e0-4f89-41d3-9a0c-0305e82c33011",
                "g f2504e0-4f89-41d3-9a0c-0305e82c3301",
                "",
            ] {
                case(out, format!("uuid probe {p:?}"), p.into(), None);
            }
        }
        Some(other) => panic!("{what}: format {other:?} has no probes here: add them"),
        None => {}
    }
}

/// Every case the schema's properties imply, each a change to `base` (a valid message of
/// that schema with only its required fields).
fn schema_cases(schema: &Value, base: &Value) -> Vec<Case> {
    let with_field = |field: &str, value: Value| set_field(base, field, value);
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut out = Vec::new();
    for (field, rule) in schema["properties"].as_object().unwrap() {
        for keyword in rule.as_object().unwrap().keys() {
            assert!(
                HANDLED.contains(&keyword.as_str()),
                "{field}: keyword {keyword:?} has no cases in this test: extend schema_cases"
            );
        }
        // Absent: fine exactly when optional. Null: never a value.
        let mut absent = base.clone();
        absent.as_object_mut().unwrap().remove(field);
        out.push(Case {
            what: format!("{field}: absent"),
            change: absent,
            expect: Some(!required.contains(field.as_str())),
        });
        out.push(Case {
            what: format!("{field}: null"),
            change: with_field(field, Value::Null),
            expect: Some(false),
        });
        let f = field.clone();
        match rule["type"].as_str() {
            Some("string") => {
                string_cases(field, rule, &|v| with_field(&f, json!(v)), &mut out);
                out.push(Case {
                    what: format!("{field}: a number"),
                    change: with_field(field, json!(1)),
                    expect: Some(false),
                });
            }
            Some("integer") => {
                let min = rule["minimum"]
                    .as_u64()
                    .expect("integer fields have a minimum");
                let max = rule["maximum"]
                    .as_u64()
                    .expect("integer fields have a maximum");
                for (label, value, ok) in [
                    ("minimum", json!(min), true),
                    ("below minimum", json!(min as i64 - 1), false),
                    ("maximum", json!(max), true),
                    ("above maximum", json!(max + 1), false),
                    ("integral float", json!(min as f64 + 1.0), true),
                    ("fraction", json!(min as f64 + 0.5), false),
                    ("a string", json!(min.to_string()), false),
                ] {
                    out.push(Case {
                        what: format!("{field}: {label} {value}"),
                        change: with_field(field, value),
                        expect: Some(ok),
                    });
                }
            }
            Some("object") => {
                let max = rule["maxProperties"].as_u64().expect("maxProperties") as usize;
                let entries = |n: usize| -> Value {
                    (0..n)
                        .map(|i| (format!("k{i}"), json!("v")))
                        .collect::<serde_json::Map<_, _>>()
                        .into()
                };
                for (n, ok) in [(0, true), (max, true), (max + 1, false)] {
                    out.push(Case {
                        what: format!("{field}: {n} entries"),
                        change: with_field(field, entries(n)),
                        expect: Some(ok),
                    });
                }
                string_cases(
                    &format!("{field} key"),
                    &rule["propertyNames"],
                    &|k| with_field(&f, json!({ k: "v" })),
                    &mut out,
                );
                string_cases(
                    &format!("{field} value"),
                    &rule["additionalProperties"],
                    &|v| with_field(&f, json!({ "k": v })),
                    &mut out,
                );
                out.push(Case {
                    what: format!("{field}: a number value"),
                    change: with_field(field, json!({"k": 1})),
                    expect: Some(false),
                });
            }
            Some("array") => {
                let items: Vec<Value> = rule["items"]["enum"]
                    .as_array()
                    .expect("items enum")
                    .clone();
                let min = rule["minItems"].as_u64().unwrap_or(0) as usize;
                if min > 0 {
                    out.push(Case {
                        what: format!("{field}: {} items", min - 1),
                        change: with_field(field, json!(items[..min - 1])),
                        expect: Some(false),
                    });
                }
                out.push(Case {
                    what: format!("{field}: every item"),
                    change: with_field(field, json!(items)),
                    expect: Some(true),
                });
                for item in &items {
                    out.push(Case {
                        what: format!("{field}: [{item}]"),
                        change: with_field(field, json!([item])),
                        expect: Some(true),
                    });
                }
                if rule["uniqueItems"] == true {
                    out.push(Case {
                        what: format!("{field}: a repeated item"),
                        change: with_field(field, json!([items[0], items[0]])),
                        expect: Some(false),
                    });
                }
                out.push(Case {
                    what: format!("{field}: an unknown item"),
                    change: with_field(field, json!(["elsewhere"])),
                    expect: Some(false),
                });
            }
            other => panic!("{field}: type {other:?} has no cases in this test"),
        }
    }
    let mut unknown = base.clone();
    unknown["not_a_field"] = json!("x");
    out.push(Case {
        what: "an unknown field".into(),
        change: unknown,
        expect: Some(false),
    });
    out
}

#[test]
fn every_schema_field_agrees_with_decode_at_its_limits() {
    let cases = schema_cases(&change_schema(), &base_change());
    assert!(cases.len() > 100, "only {} cases", cases.len());
    assert_cases_agree(&cases, &change_validator());
}

/// Each case judged by the schema (`validator`) and by `decode` as the case expects.
fn assert_cases_agree(cases: &[Case], validator: &Validator) {
    let mut wrong = Vec::new();
    for case in cases {
        let body = serde_json::to_vec(&case.change).unwrap();
        let by_schema = schema_verdict(validator, &body).is_ok();
        // The body limit is a rule of its own (tested above): not in the way here.
        let by_decode = decode(&body, &routing_key(&body), usize::MAX).is_ok();
        let expected = case.expect.unwrap_or(by_schema);
        if by_schema != expected || by_decode != expected {
            wrong.push(format!(
                "{}: expected {}, schema {}, decode {}",
                case.what,
                if expected { "valid" } else { "invalid" },
                by_schema,
                by_decode
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} case(s) disagree:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

#[test]
fn version_limit_is_the_rust_constant() {
    let schema = change_schema();
    assert_eq!(
        schema["properties"]["version"]["maximum"],
        json!(MAX_VERSION)
    );
}

mod retire;
