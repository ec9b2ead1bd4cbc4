//! `ScriptChange`: the message publishers put on RabbitMQ (DESIGN §3), parsed and validated
//! in one step ("parse, don't validate"). A value of this type always satisfies every rule of
//! `schemas/script-change.v1.json`; [`decode`] says in one line why a body does not.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::config::is_valid_tenant_id;

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

/// One script change, valid by construction when it comes out of [`decode`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptChange {
    pub schema: String,
    pub id: String,
    pub tenant: String,
    pub script_id: String,
    #[serde(deserialize_with = "integral_number")]
    pub version: u64,
    pub version_hash: String,
    pub published_at: String,
    #[serde(default, deserialize_with = "present")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disclaimer: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genesys_version_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "present")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<TargetKind>>,
    #[serde(default, deserialize_with = "present")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
}

/// Why a message body is not a valid change; the text is one line, without the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidChange(pub String);

impl ScriptChange {
    /// `published_at` as a timestamp (always parses for a decoded change).
    pub fn published_at_time(&self) -> Option<OffsetDateTime> {
        parse_timestamp(&self.published_at)
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
    let change: ScriptChange = serde_json::from_str(text)
        .map_err(|e| invalid(format!("not a valid script change: {e}")))?;
    change.check()?;
    if change.tenant != routing_key {
        return Err(invalid(format!(
            "tenant {:?} differs from routing key {:?}",
            change.tenant, routing_key
        )));
    }
    Ok(change)
}

impl ScriptChange {
    /// The rules serde cannot express (lengths, patterns, ranges).
    pub fn check(&self) -> Result<(), InvalidChange> {
        if self.schema != SCHEMA_V1 {
            return Err(invalid(format!(
                "schema must be {SCHEMA_V1:?}, got {:?}",
                self.schema
            )));
        }
        chars_between("id", &self.id, 1, 128)?;
        if !is_valid_tenant_id(&self.tenant) {
            return Err(invalid(
                "tenant must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
            ));
        }
        chars_between("script_id", &self.script_id, 1, 128)?;
        if self.version < 1 || self.version > MAX_VERSION {
            return Err(invalid(format!(
                "version must be between 1 and {MAX_VERSION}"
            )));
        }
        chars_between("version_hash", &self.version_hash, 1, 128)?;
        if self.published_at_time().is_none() {
            return Err(invalid("published_at is not an RFC 3339 timestamp"));
        }
        if let Some(d) = &self.disclaimer {
            chars_between("disclaimer", d, 0, 8192)?;
        }
        if let Some(c) = &self.campaign_id {
            chars_between("campaign_id", c, 0, 128)?;
        }
        // Only the hyphenated 8-4-4-4-12 form, as JSON Schema's `uuid` format; `try_parse`
        // alone would also take the simple, braced and URN forms.
        if let Some(v) = &self.genesys_version_id
            && (v.len() != 36 || uuid::Uuid::try_parse(v).is_err())
        {
            return Err(invalid("genesys_version_id is not a UUID"));
        }
        if let Some(attrs) = &self.attributes {
            if attrs.len() > 32 {
                return Err(invalid("attributes has more than 32 entries"));
            }
            for (k, v) in attrs {
                chars_between("attributes key", k, 1, 64)?;
                chars_between("attributes value", v, 0, 1024)?;
            }
        }
        if let Some(targets) = &self.targets {
            if targets.is_empty() {
                return Err(invalid("targets must not be empty"));
            }
            for (i, t) in targets.iter().enumerate() {
                if targets[..i].contains(t) {
                    return Err(invalid(format!("targets lists {t} twice")));
                }
            }
        }
        Ok(())
    }
}

fn invalid(message: impl Into<String>) -> InvalidChange {
    InvalidChange(message.into())
}

fn chars_between(field: &str, value: &str, min: usize, max: usize) -> Result<(), InvalidChange> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(invalid(format!(
            "{field} must have {min} to {max} characters, has {n}"
        )));
    }
    Ok(())
}

/// An optional field that, when present, must hold a value: `"disclaimer": null` is rejected
/// like any other wrong type (the schema says `string`, not `string or null`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Parses an RFC 3339 timestamp exactly as JSON Schema's `date-time` format does.
///
/// Two differences from `time`'s `Rfc3339` are closed here: the date and time must be
/// separated by `T` or `t` (`time` takes any byte), and a leap second (`:60`) is valid on any
/// day when it falls at 23:59 UTC (`time` takes it only at a month's end); it reads as the
/// last nanosecond of second 59.
fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    if !matches!(text.as_bytes().get(10), Some(b'T' | b't')) {
        return None;
    }
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    if text.get(17..19) != Some("60") {
        return None;
    }
    let mut second_59 = text.to_owned();
    second_59.replace_range(17..19, "59");
    let t = OffsetDateTime::parse(&second_59, &Rfc3339).ok()?;
    let utc = t.to_offset(UtcOffset::UTC);
    if utc.hour() != 23 || utc.minute() != 59 {
        return None;
    }
    t.replace_nanosecond(999_999_999).ok()
}

/// Accepts `5` and also `5.0` (JSON Schema's `integer` counts both as integers).
fn integral_number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(v) = n.as_u64() {
        return Ok(v);
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f >= 0.0 && f <= MAX_VERSION as f64 => Ok(f as u64),
        _ => Err(serde::de::Error::custom(format!(
            "version {n} is not a non-negative integer"
        ))),
    }
}
