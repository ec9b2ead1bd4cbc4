//! Unit tests of the input reader: both shapes, line numbers, the field named in each error,
//! and inputs that must not panic.

use super::*;

const LIMIT: usize = 65_536;

fn line(id: &str, version: &str) -> String {
    format!(
        r#"{{"schema":"script-change/v1","id":"{id}","tenant":"acme","script_id":"s","version":{version},"version_hash":"h","published_at":"2026-01-01T00:00:00Z"}}"#
    )
}

/// Every entry of `input` as (position text, Ok(id) or Err(reason)).
fn read(input: &str) -> Vec<(String, Result<String, String>)> {
    Entries::new(input.as_bytes(), LIMIT)
        .map(|e| {
            let e = e.expect("reading from memory cannot fail");
            let got = e.change.map(|c| c.id().to_owned()).map_err(|e| e.0);
            (e.at.to_string(), got)
        })
        .collect()
}

fn errors(input: &str) -> Vec<(String, String)> {
    read(input)
        .into_iter()
        .filter_map(|(at, r)| r.err().map(|e| (at, e)))
        .collect()
}

#[test]
fn json_lines_are_numbered_by_line_and_blank_lines_skipped() {
    let input = format!(
        "{}\n\n   \n{}\r\n{}",
        line("a", "1"),
        line("b", "2"),
        line("c", "3")
    );
    let got = read(&input);
    let ok = |id: &str| Ok(id.to_owned());
    assert_eq!(
        got,
        [
            ("line 1".to_owned(), ok("a")),
            ("line 4".to_owned(), ok("b")),
            ("line 5".to_owned(), ok("c")),
        ]
    );
    assert!(read("").is_empty() && read("\n \n").is_empty());
}

#[test]
fn each_bad_line_is_reported_with_its_number_and_field_and_reading_goes_on() {
    let missing = line("m", "1").replace(r#""version_hash":"h","#, "");
    let input = [
        line("a", "1"),
        missing,
        line("v", r#""seven""#),
        r#"{"schema":"script-change/v1","id":"x""#.to_owned(),
        "not json at all".to_owned(),
        line("b", "0"),
        line("c", "1").replace(r#""tenant":"acme""#, r#""tenant":"acme","colour":"red""#),
        line("d", "2"),
    ]
    .join("\n");
    let errs = errors(&input);
    let at: Vec<&str> = errs.iter().map(|(at, _)| at.as_str()).collect();
    assert_eq!(
        at,
        ["line 2", "line 3", "line 4", "line 5", "line 6", "line 7"]
    );
    let why = |i: usize| errs[i].1.as_str();
    assert!(
        why(0).contains("missing field `version_hash`"),
        "{}",
        why(0)
    );
    assert!(
        why(1).contains("version: invalid type: string"),
        "{}",
        why(1)
    );
    assert!(why(2).starts_with("not valid JSON: EOF"), "{}", why(2));
    assert!(why(2).ends_with("at column 37"), "{}", why(2));
    assert!(why(3).contains("must be a JSON object"), "{}", why(3));
    assert!(why(4).contains("version must be between 1"), "{}", why(4));
    assert!(why(5).contains("unknown field `colour`"), "{}", why(5));
    for (_, e) in &errs {
        assert!(!e.contains("line 1"), "serde's own line number leaks: {e}");
    }
    assert_eq!(read(&input).len(), 8, "every line is an entry");
}

#[test]
fn json_lines_whose_first_line_is_cut_short_stay_json_lines() {
    let cut = &line("a", "1")[..40];
    let input = format!("{cut}\n\n{}\n{}\n", line("b", "2"), line("c", "3"));
    let got = read(&input);
    let at: Vec<&str> = got.iter().map(|(at, _)| at.as_str()).collect();
    assert_eq!(at, ["line 1", "line 3", "line 4"]);
    assert!(
        got[0].1.as_ref().unwrap_err().contains("not valid JSON"),
        "{got:?}"
    );
    assert_eq!((&got[1].1, &got[2].1), (&Ok("b".into()), &Ok("c".into())));
    // Cut short and alone: one entry, not lost.
    assert_eq!(errors(cut).len(), 1);
}

#[test]
fn a_pretty_printed_change_is_one_entry_at_its_first_line() {
    let pretty = "\n{\n  \"schema\": \"script-change/v1\",\n  \"id\": \"p\",\n  \"tenant\": \"acme\",\n  \"script_id\": \"s\",\n  \"version\": 1,\n  \"version_hash\": \"h\",\n  \"published_at\": \"2026-01-01T00:00:00Z\"\n}\n";
    assert_eq!(read(pretty), [("line 2".to_owned(), Ok("p".to_owned()))]);
    // Two documents one after another, as `jq` prints them.
    let two = format!("{pretty}{}", pretty.replace("\"p\"", "\"q\""));
    let at: Vec<String> = read(&two).into_iter().map(|(at, _)| at).collect();
    assert_eq!(at, ["line 2", "line 12"]);
}

#[test]
fn array_items_are_numbered_by_item_and_starting_line() {
    let input = format!(
        "[\n  {},\n  {},\n\n  {}, 42\n]\n",
        line("a", "1"),
        line("b", "1.5"),
        line("c", "3")
    );
    let got = read(&input);
    let at: Vec<&str> = got.iter().map(|(at, _)| at.as_str()).collect();
    assert_eq!(
        at,
        [
            "line 2 (array item 1)",
            "line 3 (array item 2)",
            "line 5 (array item 3)",
            "line 5 (array item 4)",
        ]
    );
    assert_eq!(got[0].1, Ok("a".to_owned()));
    assert!(
        got[1].1.as_ref().unwrap_err().contains("version"),
        "{got:?}"
    );
    assert_eq!(got[2].1, Ok("c".to_owned()));
    assert!(
        got[3].1.as_ref().unwrap_err().contains("JSON object"),
        "{got:?}"
    );
    assert!(read("[]").is_empty());
}

#[test]
fn malformed_documents_stop_the_reading_where_they_break() {
    let input = format!("[\n  {},\n  {{\"id\": }}\n]", line("a", "1"));
    let errs = errors(&input);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, "line 3");
    assert!(
        errs[0].1.contains("not valid JSON") && errs[0].1.contains("not read"),
        "{}",
        errs[0].1
    );
    // The valid change before a broken second document is still read.
    let input = format!("[{}]\n[{{", line("a", "1"));
    let got = read(&input);
    assert_eq!(got[0].1, Ok("a".to_owned()));
    assert_eq!(got[1].0, "line 2");
}

#[test]
fn hostile_input_never_panics() {
    let long = format!("{{\"id\":\"{}\"}}", "x".repeat(LIMIT));
    let cases: [&[u8]; 9] = [
        b"\xff\xfe{}\n",
        b"[\xff]",
        b"{\n\xff",
        b"[[[[[[[[[[",
        b"}",
        b"\0\0\0",
        b"[1,2,3]",
        b"{\"a\":[{\"b\":\n",
        long.as_bytes(),
    ];
    for input in cases {
        let entries: Vec<_> = Entries::new(input, LIMIT).collect();
        assert!(
            entries
                .iter()
                .all(|e| e.as_ref().is_ok_and(|e| e.change.is_err())),
            "{:?}: {entries:?}",
            String::from_utf8_lossy(input)
        );
    }
    let too_long = errors(&long);
    assert!(too_long[0].1.contains("limit"), "{too_long:?}");
}

fn retire_line(id: &str, version: &str) -> String {
    format!(
        r#"{{"schema":"script-retire/v1","id":"{id}","tenant":"acme","script_id":"s","version":{version},"published_at":"2026-01-01T00:00:00Z"}}"#
    )
}

#[test]
fn retires_are_read_like_changes_in_both_shapes() {
    let lines = [line("a", "1"), retire_line("r", "2"), line("b", "3")].join("\n");
    let array = format!("[\n  {},\n  {}\n]\n", retire_line("r", "2"), line("b", "3"));
    for input in [lines, array] {
        let entries: Vec<Entry> = Entries::new(input.as_bytes(), LIMIT)
            .map(|e| e.unwrap())
            .collect();
        let ops: Vec<(&str, crate::change::Operation)> = entries
            .iter()
            .map(|e| {
                let change = e.change.as_ref().unwrap();
                (change.id(), change.operation())
            })
            .collect();
        assert!(
            ops.contains(&("r", crate::change::Operation::Retire)),
            "{ops:?}"
        );
        assert!(
            ops.contains(&("b", crate::change::Operation::Upsert)),
            "{ops:?}"
        );
    }
}

#[test]
fn an_invalid_retire_is_reported_with_its_line_and_field() {
    let input = [
        retire_line("r1", "1"),
        retire_line("r2", "2").replace(r#""version":2"#, r#""version":2,"disclaimer":"d""#),
        retire_line("r3", "0"),
        retire_line("r4", "4").replace("script-retire/v1", "script-retire/v2"),
        retire_line("r5", "5").replace(r#","published_at":"2026-01-01T00:00:00Z""#, ""),
    ]
    .join("\n");
    let errs = errors(&input);
    let at: Vec<&str> = errs.iter().map(|(at, _)| at.as_str()).collect();
    assert_eq!(at, ["line 2", "line 3", "line 4", "line 5"]);
    let why = |i: usize| errs[i].1.as_str();
    assert!(
        why(0).contains("disclaimer: unknown field `disclaimer`"),
        "{}",
        why(0)
    );
    assert!(why(1).contains("version must be between 1"), "{}", why(1));
    assert!(why(2).contains(r#"got "script-retire/v2""#), "{}", why(2));
    assert!(
        why(3).contains("missing field `published_at`"),
        "{}",
        why(3)
    );
}
