//! `schemas/script-retire.v1.json` and `scriptsync::change::decode` accept exactly the same
//! retires, in the same style as `script-change/v1` above: a corpus (`tests/data/retires/`),
//! the cases made from the schema's own keywords, the round trip, the rules only `decode`
//! can check. Then the two schemas together: the fields a retire shares with a change have
//! exactly the change's rules, and `decode` accepts a body exactly when one of the two
//! schemas does, as the operation that schema names.

use std::collections::BTreeSet;

use jsonschema::Validator;
use scriptsync::change::{MAX_VERSION, Operation, SCHEMA_RETIRE_V1, decode};
use serde_json::{Value, json};

use super::{
    Case, MAX_BYTES, assert_cases_agree, base_change, change_schema, change_validator, corpus,
    corpus_in, decode_verdict, read_json, schema_cases, schema_verdict,
};

/// The fields only a change has: a retire carries no content.
const CONTENT_FIELDS: [&str; 5] = [
    "version_hash",
    "disclaimer",
    "campaign_id",
    "genesys_version_id",
    "attributes",
];

fn retire_schema() -> Value {
    read_json("schemas/script-retire.v1.json")
}

fn retire_validator() -> Validator {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&retire_schema())
        .expect("script-retire.v1.json compiles")
}

fn base_retire() -> Value {
    read_json("tests/data/retires/valid/minimal.json")
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

fn strings(value: &Value) -> BTreeSet<String> {
    let items = value.as_array().unwrap().iter();
    items.map(|v| v.as_str().unwrap().to_owned()).collect()
}

/// A property's rule without its description (which says "retire" where a change's says
/// "change").
fn rule(property: &Value) -> Value {
    let mut rule = property.clone();
    rule.as_object_mut().unwrap().remove("description");
    rule
}

#[test]
fn retire_schema_is_a_closed_2020_12_schema_naming_script_retire_v1() {
    let schema = retire_schema();
    assert!(jsonschema::draft202012::meta::is_valid(&schema));
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["additionalProperties"], false, "closed");
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["properties"]["schema"]["const"], SCHEMA_RETIRE_V1);
    for (name, property) in schema["properties"].as_object().unwrap() {
        assert!(
            property["description"].is_string(),
            "{name} has no description"
        );
    }
    assert_eq!(
        schema["properties"]["version"]["maximum"],
        json!(MAX_VERSION)
    );
}

#[test]
fn a_retire_has_the_change_s_fields_but_content_with_exactly_their_rules() {
    let (retire, change) = (retire_schema(), change_schema());
    let content: BTreeSet<String> = CONTENT_FIELDS.iter().map(|f| f.to_string()).collect();
    let shared: BTreeSet<String> = keys(&change["properties"])
        .difference(&content)
        .cloned()
        .collect();
    assert_eq!(keys(&retire["properties"]), shared);
    let required: BTreeSet<String> = strings(&change["required"])
        .difference(&content)
        .cloned()
        .collect();
    assert_eq!(strings(&retire["required"]), required);
    for field in shared.iter().filter(|f| *f != "schema") {
        assert_eq!(
            rule(&retire["properties"][field]),
            rule(&change["properties"][field]),
            "{field}: a retire's rule differs from a change's"
        );
    }
}

#[test]
fn retire_corpus_covers_enough_cases() {
    let valid = corpus_in("retires", "valid");
    let invalid = corpus_in("retires", "invalid");
    assert!(valid.len() >= 10, "only {} valid files", valid.len());
    assert!(invalid.len() >= 30, "only {} invalid files", invalid.len());
}

#[test]
fn retire_schema_and_decode_agree_on_every_retire_corpus_file() {
    let validator = retire_validator();
    let mut disagreements = Vec::new();
    for (kind, expect_valid) in [("valid", true), ("invalid", false)] {
        for (name, body) in corpus_in("retires", kind) {
            let schema = schema_verdict(&validator, &body);
            let decoded = decode_verdict(&body).map(|c| c.operation());
            let decoded_ok = decoded.as_ref().is_ok_and(|op| *op == Operation::Retire);
            if schema.is_ok() != expect_valid || decoded_ok != expect_valid {
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
fn decoded_retires_serialize_back_to_exactly_the_retire_shape() {
    let validator = retire_validator();
    for (name, body) in corpus_in("retires", "valid") {
        let retire = decode_verdict(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        let value = serde_json::to_value(&retire).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name} re-serialized: {errors:?}");
        let again = serde_json::to_vec(&retire).unwrap();
        let round_trip = decode(&again, retire.tenant(), MAX_BYTES).unwrap();
        assert_eq!(round_trip, retire, "{name} changes on a round trip");
    }
    let schema = retire_schema();
    let full = decode_verdict(&std::fs::read(retire_file("full.json")).unwrap()).unwrap();
    assert_eq!(
        keys(&serde_json::to_value(full).unwrap()),
        keys(&schema["properties"])
    );
    let minimal = decode_verdict(&std::fs::read(retire_file("minimal.json")).unwrap()).unwrap();
    assert_eq!(
        keys(&serde_json::to_value(minimal).unwrap()),
        strings(&schema["required"])
    );
}

fn retire_file(name: &str) -> std::path::PathBuf {
    super::repo_path(&format!("tests/data/retires/valid/{name}"))
}

#[test]
fn every_retire_field_agrees_with_decode_at_its_limits() {
    let base = base_retire();
    let mut cases = schema_cases(&retire_schema(), &base);
    // A change's content in a retire: valid values for a change, never for a retire.
    let full_change = read_json("tests/data/changes/valid/full.json");
    for field in CONTENT_FIELDS {
        let mut with = base.clone();
        with[field] = full_change[field].clone();
        cases.push(Case {
            what: format!("a retire with {field}"),
            change: with,
            expect: Some(false),
        });
    }
    assert!(cases.len() > 80, "only {} cases", cases.len());
    assert_cases_agree(&cases, &retire_validator());
}

/// Every body the tests know (both corpora, the cases of both schemas): `decode` accepts it
/// exactly when one schema does, and then as that schema's operation.
#[test]
fn decode_accepts_a_body_exactly_when_one_of_the_two_schemas_does() {
    let (change, retire) = (change_validator(), retire_validator());
    let mut bodies: Vec<(String, Vec<u8>)> = Vec::new();
    for messages in ["changes", "retires"] {
        for kind in ["valid", "invalid"] {
            for (name, body) in corpus_in(messages, kind) {
                bodies.push((format!("{messages}/{kind}/{name}"), body));
            }
        }
    }
    let cases = schema_cases(&change_schema(), &base_change())
        .into_iter()
        .chain(schema_cases(&retire_schema(), &base_retire()));
    for case in cases {
        bodies.push((case.what, serde_json::to_vec(&case.change).unwrap()));
    }
    assert!(bodies.len() > corpus("valid").len() + 300);
    let mut wrong = Vec::new();
    for (what, body) in &bodies {
        let as_change = schema_verdict(&change, body).is_ok();
        let as_retire = schema_verdict(&retire, body).is_ok();
        assert!(!(as_change && as_retire), "{what}: both schemas accept it");
        let expected = match (as_change, as_retire) {
            (true, _) => Some(Operation::Upsert),
            (_, true) => Some(Operation::Retire),
            _ => None,
        };
        let decoded = decode(body, &super::routing_key(body), usize::MAX);
        let got = decoded.as_ref().ok().map(|c| c.operation());
        if got != expected {
            wrong.push(format!(
                "{what}: schemas say {expected:?}, decode {decoded:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} bodies:\n{}",
        wrong.len(),
        bodies.len(),
        wrong.join("\n")
    );
}

#[test]
fn a_retire_s_tenant_must_equal_the_routing_key_and_keys_be_unique() {
    let body = std::fs::read(retire_file("minimal.json")).unwrap();
    assert!(decode(&body, "acme", MAX_BYTES).is_ok());
    for other in ["globex", "ACME", ""] {
        let err = decode(&body, other, MAX_BYTES).unwrap_err().to_string();
        assert!(err.contains("routing key"), "{other:?}: {err}");
    }
    let err = decode(&body, "acme", body.len() - 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("limit"), "{err}");
    let duplicate = br#"{"schema":"script-retire/v1","id":"a","id":"b","tenant":"acme",
        "script_id":"s","version":1,"published_at":"2025-03-01T12:00:00Z"}"#;
    let err = decode(duplicate, "acme", MAX_BYTES)
        .unwrap_err()
        .to_string();
    assert!(err.contains("duplicate field"), "{err}");
}

#[test]
fn an_unknown_schema_is_refused_naming_both() {
    for schema in ["script-retire/v2", "script-change/v2", "retire"] {
        let mut body = base_retire();
        body["schema"] = json!(schema);
        let err = decode(&serde_json::to_vec(&body).unwrap(), "acme", MAX_BYTES)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"script-change/v1\" or \"script-retire/v1\"") && !err.contains('\n'),
            "{schema}: {err}"
        );
    }
}
