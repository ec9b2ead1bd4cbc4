//! Every field of the change schema at its limits: cases generated from the schema's own
//! rules (lengths, patterns, formats, enums, ranges), each judged the same by the schema and
//! the decoder.

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
