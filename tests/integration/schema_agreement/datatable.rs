//! The Genesys data table's schema (`schemas/genesys-datatable.json`) against the row the
//! Genesys target writes: the shape Genesys expects, every valid change makes a row it
//! accepts, and the columns are exactly the row's fields.

use super::*;

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
