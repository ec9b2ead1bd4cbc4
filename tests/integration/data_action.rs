//! The Data Action a Genesys admin imports for the read path (`docs/genesys-data-action.json`):
//! the export format of the "Genesys Cloud Data Actions" integration (as public exports of
//! 2020 and 2024 show it: `integrationType`, `actionType`, `config.request` /
//! `config.response`, `contract.input.inputSchema` / `contract.output.successSchema`), reading
//! the row scriptsync writes, and a success template that turns a row (or a row without the
//! fields: the defaults) into output that its own success schema accepts.

use serde_json::Value;

fn action() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/genesys-data-action.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The success template with each `${name}` replaced by the translation map's value for
/// `row` (a JSON literal, as Genesys substitutes it), or the default when the row lacks it.
fn render(action: &Value, row: &Value) -> String {
    let response = &action["config"]["response"];
    let mut out = response["successTemplate"].as_str().unwrap().to_owned();
    for (name, path) in response["translationMap"].as_object().unwrap() {
        let field = path
            .as_str()
            .unwrap()
            .strip_prefix("$.")
            .expect("a top-level path");
        let value = row.get(field).map(Value::to_string).unwrap_or_else(|| {
            response["translationMapDefaults"][name]
                .as_str()
                .expect("a default for every mapped name")
                .to_owned()
        });
        out = out.replace(&format!("${{{name}}}"), &value);
    }
    out
}

#[test]
fn the_data_action_is_in_the_export_format_and_reads_the_row_scriptsync_writes() {
    let action = action();
    assert_eq!(action["integrationType"], "purecloud-data-actions");
    assert_eq!(action["actionType"], "custom");
    let request = &action["config"]["request"];
    assert_eq!(request["requestType"], "GET");
    let url = request["requestUrlTemplate"].as_str().unwrap();
    assert!(
        url.starts_with(
            "/api/v2/flows/datatables/$esc.url($input.datatableId)/rows/$esc.url($input.scriptId)"
        ),
        "{url}"
    );
    let input = &action["contract"]["input"]["inputSchema"];
    assert_eq!(
        input["required"],
        serde_json::json!(["datatableId", "scriptId"])
    );
    // The output names are the data table's columns (schemas/genesys-datatable.json).
    let table: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/genesys-datatable.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let output = &action["contract"]["output"]["successSchema"];
    for (name, schema) in output["properties"].as_object().unwrap() {
        assert_eq!(
            table["properties"][name]["type"], schema["type"],
            "output {name} against the table's column"
        );
    }
}

#[test]
fn a_row_and_a_row_without_fields_both_give_output_the_schema_accepts() {
    let action = action();
    let schema = action["contract"]["output"]["successSchema"].clone();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let full = serde_json::json!({
        "key": "consent-v2", "version": 7, "versionHash": "sha256:ab",
        "disclaimer": "Calls are recorded \"for quality\"."
    });
    let bare = serde_json::json!({"key": "consent-v2"});
    for (row, want) in [(full, 7), (bare, 0)] {
        let text = render(&action, &row);
        let out: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(validator.is_valid(&out), "{out}");
        assert_eq!(out["version"], want);
    }
}
