//! A message body → a [`ScriptChange`], or one line saying why not ([`InvalidChange`]).
//!
//! The body's `schema` is read first and decides the shape it is held to: `script-retire/v1`
//! the retire shape, anything else the `script-change/v1` one (so a change gets exactly the
//! errors it always got), and a `schema` string that names neither is refused at once, naming
//! both. Then serde reads the shape (its path names the field a type error is in) and the
//! rules of `rules` run.

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use super::wire::{ChangeWire, RetireWire};
use super::{InvalidChange, Operation, ScriptChange, invalid};

/// Decodes and validates a message body. `routing_key` must equal the `tenant` field.
pub fn decode(
    body: &[u8],
    routing_key: &str,
    max_bytes: usize,
) -> Result<ScriptChange, InvalidChange> {
    let change = parse(body, max_bytes)?;
    if change.tenant != routing_key {
        return Err(invalid(format!(
            "tenant {:?} differs from routing key {:?}",
            change.tenant, routing_key
        )));
    }
    Ok(change)
}

/// Parses and validates a body that has no routing key yet (a publisher reading its input):
/// every rule of [`decode`] except the tenant = routing key one. An error names the field at
/// fault (`version: invalid type: …`) where there is one.
pub fn parse(body: &[u8], max_bytes: usize) -> Result<ScriptChange, InvalidChange> {
    if body.len() > max_bytes {
        return Err(invalid(format!(
            "body is {} bytes, more than the limit of {max_bytes}",
            body.len()
        )));
    }
    let text = std::str::from_utf8(body).map_err(|e| invalid(format!("body is not UTF-8: {e}")))?;
    if !text.trim_start().starts_with('{') {
        // serde would also build the struct from a positional JSON array; the schema says object.
        return Err(invalid(
            "not a valid script change: the body must be a JSON object",
        ));
    }
    match operation_of(text)? {
        Operation::Upsert => read::<ChangeWire>(text),
        Operation::Retire => read::<RetireWire>(text),
    }
}

/// The operation the body's `schema` names. A body whose `schema` cannot be read as a string
/// (absent, `null`, not a string, not JSON) is read as a change, whose shape says what is
/// wrong as it always did.
fn operation_of(text: &str) -> Result<Operation, InvalidChange> {
    #[derive(Deserialize)]
    struct Schema {
        schema: Option<String>,
    }
    let mut json = serde_json::Deserializer::from_str(text);
    match Schema::deserialize(&mut json) {
        Ok(Schema {
            schema: Some(schema),
        }) => Operation::for_schema(&schema)
            .ok_or_else(|| invalid(format!("not a valid script change: {}", unknown(&schema)))),
        _ => Ok(Operation::Upsert),
    }
}

/// The text for a `schema` that names neither message.
pub(super) fn unknown(schema: &str) -> String {
    format!(
        "schema must be {:?} or {:?}, got {schema:?}",
        super::SCHEMA_V1,
        super::SCHEMA_RETIRE_V1
    )
}

/// Reads `text` as the wire shape `W`, then checks the rules (`TryFrom`).
fn read<W>(text: &str) -> Result<ScriptChange, InvalidChange>
where
    W: DeserializeOwned,
    ScriptChange: TryFrom<W, Error = InvalidChange>,
{
    let mut json = serde_json::Deserializer::from_str(text);
    // The path names the field a type error is in.
    let wire: W = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let field = e.path().to_string();
        // serde_json calls some wrong types syntax errors (`null` for an enum): only a body
        // that does not parse as JSON at all is "not valid JSON".
        let syntax = !e.inner().is_data() && serde_json::from_str::<IgnoredAny>(text).is_err();
        match (syntax, field.as_str()) {
            (true, _) => not_json(e.inner()),
            (false, ".") => invalid(format!(
                "not a valid script change: {}",
                without_position(e.inner())
            )),
            (false, _) => invalid(format!(
                "not a valid script change: {field}: {}",
                without_position(e.inner())
            )),
        }
    })?;
    let change = ScriptChange::try_from(wire)
        .map_err(|e| invalid(format!("not a valid script change: {}", e.0)))?;
    json.end().map_err(|e| not_json(&e))?;
    Ok(change)
}

fn not_json(e: &serde_json::Error) -> InvalidChange {
    invalid(format!("not valid JSON: {e}"))
}

/// serde_json's message without its " at line L column C" (said otherwise, or not at all
/// where the field is named).
pub(crate) fn without_position(e: &serde_json::Error) -> String {
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let text = e.to_string();
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
