//! Every field of the change schema at its limits: cases generated from the schema's own
//! rules (lengths, patterns, formats, enums, ranges), each judged the same by the schema and
//! the decoder.

use super::string_limits::string_cases;
use super::*;

/// One generated case: the change (as JSON) and whether the schema means it to be valid.
pub(super) struct Case {
    pub(super) what: String,
    pub(super) change: Value,
    /// `Some(expected)` for a value at or past a limit; `None` for a probe where only
    /// agreement matters (patterns and formats, whose exact language is not re-derived).
    pub(super) expect: Option<bool>,
}

pub(super) fn base_change() -> Value {
    read_json("tests/data/changes/valid/minimal.json")
}

/// `base` with `field` set to `value`.
fn set_field(base: &Value, field: &str, value: Value) -> Value {
    let mut change = base.clone();
    change[field] = value;
    change
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

/// Every case the schema's properties imply, each a change to `base` (a valid message of
/// that schema with only its required fields).
pub(super) fn schema_cases(schema: &Value, base: &Value) -> Vec<Case> {
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
pub(super) fn assert_cases_agree(cases: &[Case], validator: &Validator) {
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
