//! JSON blocks (messages checked against their schema and the decoder) and code excerpts
//! (Python and JavaScript from `schemas/examples/`, the ServiceNow transform script).

use super::*;

pub(super) fn check_json(block: &Block) -> Result<(), String> {
    let value: Value = serde_json::from_str(&block.text).map_err(|e| format!("not JSON: {e}"))?;
    let Some(object) = value.as_object() else {
        return Ok(());
    };
    let message = match object.get("schema").and_then(Value::as_str) {
        Some("script-change/v1") => Some(("script-change.v1.json", Operation::Upsert)),
        Some("script-retire/v1") => Some(("script-retire.v1.json", Operation::Retire)),
        Some(other) if other.starts_with("script-") => {
            return Err(format!(
                "a message of schema {other:?}, which scriptsync does not know"
            ));
        }
        _ => None,
    };
    if let Some((file, operation)) = message {
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(repo().join("schemas").join(file)).unwrap(),
        )
        .unwrap();
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        if !errors.is_empty() {
            return Err(format!("fails {file}: {errors:?}"));
        }
        let tenant = object["tenant"].as_str().unwrap_or_default();
        let decoded = decode(block.text.as_bytes(), tenant, 64 * 1024)
            .map_err(|e| format!("decode refuses it: {e}"))?;
        if decoded.operation() != operation {
            return Err(format!("decode reads it as {}", decoded.operation()));
        }
        return Ok(());
    }
    let example = reference_change();
    if !object.is_empty() && object.keys().all(|k| k.starts_with("u_")) {
        let record = scriptsync::targets::servicenow::record(&example);
        let sent: BTreeSet<&String> = record.as_object().unwrap().keys().collect();
        let shown: BTreeSet<&String> = object.keys().collect();
        if sent != shown {
            return Err(format!(
                "an import record with {shown:?}; the target sends {sent:?}"
            ));
        }
        if !object.values().all(Value::is_string) {
            return Err("import record values must all be strings".into());
        }
    }
    if object.contains_key("key") && object.contains_key("versionHash") {
        let row = scriptsync::targets::genesys::row_body(&example);
        let written: BTreeSet<&String> = row.as_object().unwrap().keys().collect();
        for k in object.keys() {
            if !written.contains(k) {
                return Err(format!(
                    "a data-table row with {k:?}, which the target never writes"
                ));
            }
        }
    }
    Ok(())
}

/// A change with every optional field, for the shapes the targets send.
pub(super) fn reference_change() -> scriptsync::change::ScriptChange {
    let body = std::fs::read(repo().join("tests/data/changes/valid/full.json")).unwrap();
    decode(&body, "acme", 64 * 1024).unwrap()
}

pub(super) fn check_excerpt(block: &Block, extension: &str) -> Result<(), String> {
    let dir = repo().join("schemas/examples");
    let sources: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == extension))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let lines: BTreeSet<&str> = sources
        .iter()
        .flat_map(|s| s.lines())
        .map(str::trim)
        .collect();
    for line in block.text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !lines.contains(line) {
            return Err(format!(
                "{line:?} is not a line of any schemas/examples/*.{extension}"
            ));
        }
    }
    Ok(())
}

/// Runs the ServiceNow transform script of the guide with node on sample records: a lower
/// version is ignored, a higher or equal one goes through, a bad one is an error.
pub(super) fn check_transform_script(block: &Block) -> Result<(), String> {
    let probe = Command::new("node").arg("--version").output();
    if !probe.is_ok_and(|o| o.status.success()) {
        if std::env::var("SCRIPTSYNC_REQUIRE_EXAMPLES").is_ok_and(|v| v == "1") {
            return Err("node is needed to run the transform script".into());
        }
        println!(
            "SKIPPED: {}: node is not installed (run .ci/run)",
            block.at()
        );
        return Ok(());
    }
    let harness = format!(
        r#"
function run(action, incoming, held, operation) {{
  var ignore = false, error = false, error_message = '', status_message = '';
  var source = {{ u_version: incoming, u_operation: operation }};
  var target = action == 'update' ? {{ u_version: held, u_active: true }} : {{}};
  var map = {{}}, log = {{ info: function () {{}}, warn: function () {{}}, error: function () {{}} }};
  eval({script});
  if (error) return 'error';
  if (ignore) return 'ignored';
  return action + (target.u_active === false ? ' retired' : target.u_active === true ? ' active' : ' ?');
}}
var cases = [
  ['update', '3', '5', 'upsert', 'ignored'],
  ['update', '5', '5', 'upsert', 'update active'],
  ['update', '7', '5', 'upsert', 'update active'],
  ['insert', '1', null, 'upsert', 'insert active'],
  ['insert', '1', null, undefined, 'insert active'],
  ['update', '9007199254740991', '9007199254740990', 'upsert', 'update active'],
  ['update', '9007199254740990', '9007199254740991', 'upsert', 'ignored'],
  ['insert', 'x', null, 'upsert', 'error'],
  ['insert', '0', null, 'upsert', 'error'],
  ['update', '8', '7', 'retire', 'update retired'],
  ['insert', '8', null, 'retire', 'insert retired'],
  ['update', '6', '7', 'retire', 'ignored'],
  ['update', '9', '8', 'bogus', 'error'],
];
var bad = cases.filter(function (c) {{ return run(c[0], c[1], c[2], c[3]) !== c[4]; }});
if (bad.length) {{ console.error(JSON.stringify(bad)); process.exit(1); }}
"#,
        script = serde_json::to_string(&block.text).unwrap()
    );
    let output = Command::new("node")
        .arg("-e")
        .arg(harness)
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "the transform script gives wrong outcomes (action, incoming, held, operation, expected): {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
