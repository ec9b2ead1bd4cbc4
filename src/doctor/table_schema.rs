//! A Genesys data table's schema against the one scriptsync writes rows for
//! (`schemas/genesys-datatable.json`): the key column, every field scriptsync writes (present,
//! same name including case, same type), and no field the table requires that scriptsync may
//! leave out. Pure: the doctor fetches the table and prints what this returns.

use serde_json::Value;

/// The schema scriptsync's rows follow, as shipped in `schemas/`.
pub const SCRIPTSYNC_SCHEMA: &str = include_str!("../../schemas/genesys-datatable.json");

/// One way the table does not fit, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misfit {
    pub what: String,
    pub advice: String,
}

/// The scriptsync schema, parsed.
pub fn scriptsync_schema() -> Value {
    serde_json::from_str(SCRIPTSYNC_SCHEMA).expect("schemas/genesys-datatable.json is JSON")
}

/// Every way `table` (the `schema` of `GET /api/v2/flows/datatables/{id}?expand=schema`)
/// differs from `ours` in a way that breaks or misdirects scriptsync's writes.
pub fn misfits(table: &Value, ours: &Value) -> Vec<Misfit> {
    let mut found = Vec::new();
    let theirs = table["properties"].as_object();
    let prop = |name: &str| theirs.and_then(|p| p.get(name));
    let recreate = "or create a table with `scriptsync doctor --create-table` and point \
                    genesys.datatable_id at it";
    let our_key_title = ours["properties"]["key"]["title"]
        .as_str()
        .unwrap_or("Script ID");
    match prop("key") {
        None => found.push(Misfit {
            what: "the table has no `key` column".into(),
            advice: format!("this is not a Genesys data-table schema; {recreate}"),
        }),
        Some(key) => {
            let title = key["title"].as_str().unwrap_or_default();
            if title != our_key_title {
                found.push(Misfit {
                    what: format!("the key column is named {title:?}, not {our_key_title:?}"),
                    advice: format!(
                        "scriptsync writes the script id into the key: check that \
                         genesys.datatable_id names the scripts table (not another table \
                         keyed by something else), then rename its key column to \
                         {our_key_title:?} in Architect, {recreate}"
                    ),
                });
            }
        }
    }
    let ours_props = ours["properties"].as_object().cloned().unwrap_or_default();
    for (name, spec) in ours_props.iter().filter(|(n, _)| n.as_str() != "key") {
        let want = spec["type"].as_str().unwrap_or("string");
        match prop(name) {
            None => {
                let near = theirs
                    .into_iter()
                    .flat_map(|p| p.keys())
                    .find(|k| k.eq_ignore_ascii_case(name));
                let seen = near
                    .map(|k| format!(" (it has {k:?}: names are case-sensitive)"))
                    .unwrap_or_default();
                found.push(Misfit {
                    what: format!("field {name:?} ({want}) is missing{seen}"),
                    advice: format!(
                        "add a {want} field named exactly {name:?} in Architect (rows carrying \
                         it are refused until then), {recreate}"
                    ),
                });
            }
            Some(theirs) => {
                let have = theirs["type"].as_str().unwrap_or("?");
                if have != want {
                    found.push(Misfit {
                        what: format!("field {name:?} is {have}, scriptsync writes {want}"),
                        advice: format!(
                            "Genesys cannot change a field's type: delete the field and add it \
                             again as {want}, {recreate}"
                        ),
                    });
                }
            }
        }
    }
    let always = ["key", "version", "versionHash", "changeId", "publishedAt"];
    for required in table["required"].as_array().into_iter().flatten() {
        let name = required.as_str().unwrap_or_default();
        if !always.contains(&name) {
            found.push(Misfit {
                what: format!(
                    "the table requires {name:?}, which scriptsync does not always write"
                ),
                advice: format!("make {name:?} optional in Architect, {recreate}"),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn without(field: &str) -> Value {
        let mut s = scriptsync_schema();
        s["properties"].as_object_mut().unwrap().remove(field);
        s
    }

    #[test]
    fn the_shipped_schema_fits_itself() {
        assert_eq!(misfits(&scriptsync_schema(), &scriptsync_schema()), vec![]);
    }

    #[test]
    fn each_misfit_is_named_with_its_advice() {
        let ours = scriptsync_schema();
        let missing = misfits(&without("disclaimer"), &ours);
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(
            missing[0]
                .what
                .contains("\"disclaimer\" (string) is missing")
        );
        assert!(missing[0].advice.contains("--create-table"));

        let mut cased = without("version");
        cased["properties"]["Version"] = json!({"title": "Version", "type": "integer"});
        let misfit = &misfits(&cased, &ours)[0];
        assert!(misfit.what.contains("it has \"Version\""), "{misfit:?}");

        let mut titled = scriptsync_schema();
        titled["properties"]["key"]["title"] = json!("Campaign");
        let misfit = &misfits(&titled, &ours)[0];
        assert!(misfit.what.contains("\"Campaign\""), "{misfit:?}");
        assert!(misfit.advice.contains("genesys.datatable_id"));

        let mut mistyped = scriptsync_schema();
        mistyped["properties"]["version"]["type"] = json!("string");
        assert!(
            misfits(&mistyped, &ours)[0]
                .what
                .contains("is string, scriptsync writes integer")
        );

        let mut strict = scriptsync_schema();
        strict["required"] = json!(["key", "disclaimer"]);
        assert!(
            misfits(&strict, &ours)[0]
                .what
                .contains("requires \"disclaimer\"")
        );

        assert!(
            misfits(&json!({}), &ours)[0]
                .what
                .contains("no `key` column")
        );
    }

    #[test]
    fn extra_optional_fields_are_fine() {
        let mut extra = scriptsync_schema();
        extra["properties"]["notes"] = json!({"title": "Notes", "type": "string"});
        assert_eq!(misfits(&extra, &scriptsync_schema()), vec![]);
    }
}
