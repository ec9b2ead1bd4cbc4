//! Every file of the invalid-message corpus refused, each with the field it breaks named.

use super::*;

/// Each file of the invalid corpora of changes and retires (named after the field at fault)
/// is reported with that field, whatever rule it breaks.
#[test]
fn every_invalid_corpus_file_is_reported_with_its_field() {
    assert!(fields_named_in("changes") > 80);
    assert!(fields_named_in("retires") > 25);
}

/// How many files of `tests/data/<messages>/invalid` named a field (each one that names a
/// field of the schemas must be reported with it).
fn fields_named_in(messages: &str) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(messages)
        .join("invalid");
    let fields = [
        "genesys_version_id",
        "version_hash",
        "published_at",
        "campaign_id",
        "script_id",
        "attributes",
        "disclaimer",
        "priority",
        "targets",
        "version",
        "schema",
        "tenant",
        "id",
    ];
    let mut checked = 0;
    for file in std::fs::read_dir(&dir).unwrap() {
        let path = file.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let body = std::fs::read(&path).unwrap();
        let entries: Vec<_> = Entries::new(body.as_slice(), 65_536).collect();
        // As a message body these two are invalid; as publish input, one is blank and the
        // other an array holding one valid change.
        match name.as_str() {
            "body-empty" => {
                assert!(entries.is_empty(), "{name}: blank input has no entries");
                continue;
            }
            "body-array" => {
                assert!(entries.len() == 1 && entries[0].as_ref().unwrap().change.is_ok());
                continue;
            }
            _ => {}
        }
        let errors: Vec<String> = entries
            .into_iter()
            .filter_map(|e| e.unwrap().change.err().map(|e| e.0))
            .collect();
        assert!(!errors.is_empty(), "{name}: accepted");
        let bare = name
            .strip_prefix("missing-")
            .unwrap_or(&name)
            .replace('-', "_");
        let Some(field) = fields.iter().find(|f| bare.starts_with(*f)) else {
            continue; // body-*, positional-array, extra-field: no field of the schema at fault
        };
        assert!(
            errors.iter().any(|e| e.contains(field)),
            "{name}: {errors:?} does not name {field}"
        );
        checked += 1;
    }
    checked
}
