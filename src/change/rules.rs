//! The rules of `schemas/script-change.v1.json` and `schemas/script-retire.v1.json` that
//! serde cannot express (lengths, patterns, ranges), and the field parsers the wire shapes
//! use. The fields both schemas have obey the same rules, checked by the same code.

use serde::{Deserialize, Deserializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use super::{Content, InvalidChange, MAX_VERSION, ScriptChange, invalid};
use crate::config::is_valid_tenant_id;

impl ScriptChange {
    /// The rules serde cannot express (lengths, patterns, ranges), in the schema's field
    /// order; the content rules only for an upsert. (`schema` was checked by the wire shape.)
    pub(super) fn check(&self) -> Result<(), InvalidChange> {
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
        if let Some(content) = &self.content {
            chars_between("version_hash", &content.version_hash, 1, 128)?;
        }
        if self.published_at_time().is_none() {
            return Err(invalid("published_at is not an RFC 3339 timestamp"));
        }
        if let Some(content) = &self.content {
            content.check()?;
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

impl Content {
    /// The optional content fields of `script-change/v1`.
    fn check(&self) -> Result<(), InvalidChange> {
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
        Ok(())
    }
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
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Parses an RFC 3339 timestamp exactly as JSON Schema's `date-time` format does.
///
/// Two differences from `time`'s `Rfc3339` are closed here: the date and time must be
/// separated by `T` or `t` (`time` takes any byte), and a leap second (`:60`) is valid on any
/// day when it falls at 23:59 UTC (`time` takes it only at a month's end); it reads as the
/// last nanosecond of second 59.
pub(super) fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
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
pub(super) fn integral_number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
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
