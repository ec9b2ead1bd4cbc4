//! `ScriptChange`: the message publishers put on RabbitMQ (DESIGN §3), parsed and validated
//! in one step ("parse, don't validate"). A value of this type always satisfies every rule of
//! `schemas/script-change.v1.json`; [`decode`] says in one line why a body does not.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

mod builder;
mod rules;
mod wire;

pub use builder::ChangeBuilder;

/// The only schema string this version understands.
pub const SCHEMA_V1: &str = "script-change/v1";
/// Largest `version` accepted: 2^53 − 1, so JavaScript publishers can represent every value.
pub const MAX_VERSION: u64 = 9_007_199_254_740_991;

/// A push destination a change can name in `targets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Genesys,
    Servicenow,
}

impl TargetKind {
    pub const ALL: [TargetKind; 2] = [TargetKind::Genesys, TargetKind::Servicenow];

    /// The lowercase name used in messages, headers and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Genesys => "genesys",
            TargetKind::Servicenow => "servicenow",
        }
    }

    /// Parses `genesys` / `servicenow`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "genesys" => Some(TargetKind::Genesys),
            "servicenow" => Some(TargetKind::Servicenow),
            _ => None,
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent a change is when the quota is the limit (DESIGN §3): a lane sends
/// `compliance` changes before `normal` ones. Ordered so that `Compliance > Normal`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    #[default]
    Normal,
    Compliance,
}

/// One script change, valid by construction: it comes out of [`decode`] (or any serde
/// deserialization, which runs the same checks) or [`ChangeBuilder::build`], and its fields are
/// read through accessors, so no code can hold or make a change that breaks a rule of
/// `schemas/script-change.v1.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "wire::ChangeWire")]
pub struct ScriptChange {
    schema: String,
    id: String,
    tenant: String,
    script_id: String,
    version: u64,
    version_hash: String,
    published_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    disclaimer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    genesys_version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attributes: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    targets: Option<Vec<TargetKind>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<Priority>,
}

/// Why a message body is not a valid change; the text is one line, without the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidChange(pub String);

impl ScriptChange {
    /// The publisher's id of this change (idempotency key).
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn tenant(&self) -> &str {
        &self.tenant
    }
    pub fn script_id(&self) -> &str {
        &self.script_id
    }
    /// Strictly increasing per script; newer wins.
    pub fn version(&self) -> u64 {
        self.version
    }
    pub fn version_hash(&self) -> &str {
        &self.version_hash
    }
    /// RFC 3339, as published.
    pub fn published_at(&self) -> &str {
        &self.published_at
    }
    pub fn disclaimer(&self) -> Option<&str> {
        self.disclaimer.as_deref()
    }
    pub fn campaign_id(&self) -> Option<&str> {
        self.campaign_id.as_deref()
    }
    pub fn genesys_version_id(&self) -> Option<&str> {
        self.genesys_version_id.as_deref()
    }
    pub fn attributes(&self) -> Option<&BTreeMap<String, String>> {
        self.attributes.as_ref()
    }
    /// The targets the change names (`None`: every configured target).
    pub fn targets(&self) -> Option<&[TargetKind]> {
        self.targets.as_deref()
    }

    /// `published_at` as a timestamp (always parses for a valid change).
    pub fn published_at_time(&self) -> Option<OffsetDateTime> {
        rules::parse_timestamp(&self.published_at)
    }

    /// Sets `published_at` to `at` (a publisher stamping the moment it sends).
    pub fn stamp_published_at(&mut self, at: OffsetDateTime) {
        if let Ok(text) = at.format(&Rfc3339) {
            self.published_at = text;
        }
    }

    /// A builder holding this change's fields, to make a changed copy (validated again).
    pub fn to_builder(&self) -> ChangeBuilder {
        ChangeBuilder::from_change(self.clone())
    }

    /// The change's priority (`normal` when absent).
    pub fn priority(&self) -> Priority {
        self.priority.unwrap_or_default()
    }

    /// True if the change asks for `target` (no `targets` field = every target).
    pub fn wants(&self, target: TargetKind) -> bool {
        self.targets.as_ref().is_none_or(|t| t.contains(&target))
    }
}

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
    // Deserializing runs every rule (`wire`); the path names the field a type error is in.
    let mut json = serde_json::Deserializer::from_str(text);
    let change: ScriptChange = serde_path_to_error::deserialize(&mut json).map_err(|e| {
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

fn invalid(message: impl Into<String>) -> InvalidChange {
    InvalidChange(message.into())
}
