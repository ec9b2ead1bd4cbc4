//! The cases for one string-valued property at its limits, generated from its rule
//! (`minLength`, `maxLength` counted in characters of one to four bytes, `const`, `enum`,
//! `pattern` probes, `format` probes): each placed in a change for [`super::limits`] to judge by
//! the schema and the decoder alike.

use super::limits::Case;
use super::*;

fn text(n: usize, c: char) -> String {
    std::iter::repeat_n(c, n).collect()
}

/// Cases for a string constrained by `rule` (`minLength`, `maxLength`, `pattern`,
/// `format`, `const`, `enum`), each placed in a change by `place`.
pub(super) fn string_cases(
    what: &str,
    rule: &Value,
    place: &dyn Fn(String) -> Value,
    out: &mut Vec<Case>,
) {
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
