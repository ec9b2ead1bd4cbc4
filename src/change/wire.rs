//! The change as it travels: the JSON objects of `script-change/v1` ([`ChangeWire`]) and
//! `script-retire/v1` ([`RetireWire`]) with serde's own checks (no unknown fields, `null` is
//! not a value, integral `version`), and serde for [`ScriptChange`] itself: it writes exactly
//! its schema's shape, and reads either, dispatching on `schema`. Every [`ScriptChange`] made
//! from a wire shape has passed the rules in `rules` too (`TryFrom`), so serde cannot make an
//! invalid one.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::decode::unknown;
use super::rules::{integral_number, present};
use super::{
    Content, InvalidChange, Operation, Priority, SCHEMA_RETIRE_V1, SCHEMA_V1, ScriptChange,
    TargetKind, invalid,
};

/// `script-change/v1`; the builder also holds a retire in it (`schema` = `script-retire/v1`,
/// no content: `version_hash` empty, the optional content fields absent).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChangeWire {
    pub(super) schema: String,
    pub(super) id: String,
    pub(super) tenant: String,
    pub(super) script_id: String,
    #[serde(deserialize_with = "integral_number")]
    pub(super) version: u64,
    pub(super) version_hash: String,
    pub(super) published_at: String,
    #[serde(default, deserialize_with = "present")]
    pub(super) disclaimer: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub(super) campaign_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub(super) genesys_version_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub(super) attributes: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "present")]
    pub(super) targets: Option<Vec<TargetKind>>,
    #[serde(default, deserialize_with = "present")]
    pub(super) priority: Option<Priority>,
}

/// `script-retire/v1`: the fields a change and a retire share, nothing else.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RetireWire {
    schema: String,
    id: String,
    tenant: String,
    script_id: String,
    #[serde(deserialize_with = "integral_number")]
    version: u64,
    published_at: String,
    #[serde(default, deserialize_with = "present")]
    targets: Option<Vec<TargetKind>>,
    #[serde(default, deserialize_with = "present")]
    priority: Option<Priority>,
}

impl TryFrom<ChangeWire> for ScriptChange {
    type Error = InvalidChange;
    fn try_from(w: ChangeWire) -> Result<Self, InvalidChange> {
        if w.schema == SCHEMA_RETIRE_V1 {
            return ScriptChange::try_from(RetireWire::try_from(w)?);
        }
        if w.schema != SCHEMA_V1 {
            return Err(invalid(unknown(&w.schema)));
        }
        let change = ScriptChange {
            id: w.id,
            tenant: w.tenant,
            script_id: w.script_id,
            version: w.version,
            published_at: w.published_at,
            targets: w.targets,
            priority: w.priority,
            content: Some(Content {
                version_hash: w.version_hash,
                disclaimer: w.disclaimer,
                campaign_id: w.campaign_id,
                genesys_version_id: w.genesys_version_id,
                attributes: w.attributes,
            }),
        };
        change.check()?;
        Ok(change)
    }
}

/// A retire held in the change shape (by the builder): refused if it has content.
impl TryFrom<ChangeWire> for RetireWire {
    type Error = InvalidChange;
    fn try_from(w: ChangeWire) -> Result<Self, InvalidChange> {
        let content = [
            ("version_hash", !w.version_hash.is_empty()),
            ("disclaimer", w.disclaimer.is_some()),
            ("campaign_id", w.campaign_id.is_some()),
            ("genesys_version_id", w.genesys_version_id.is_some()),
            ("attributes", w.attributes.is_some()),
        ];
        if let Some((field, _)) = content.iter().find(|(_, set)| *set) {
            return Err(invalid(format!(
                "{SCHEMA_RETIRE_V1} has no field `{field}`: a retire carries no content"
            )));
        }
        Ok(RetireWire {
            schema: w.schema,
            id: w.id,
            tenant: w.tenant,
            script_id: w.script_id,
            version: w.version,
            published_at: w.published_at,
            targets: w.targets,
            priority: w.priority,
        })
    }
}

impl TryFrom<RetireWire> for ScriptChange {
    type Error = InvalidChange;
    fn try_from(w: RetireWire) -> Result<Self, InvalidChange> {
        if w.schema != SCHEMA_RETIRE_V1 {
            return Err(invalid(unknown(&w.schema)));
        }
        let change = ScriptChange {
            id: w.id,
            tenant: w.tenant,
            script_id: w.script_id,
            version: w.version,
            published_at: w.published_at,
            targets: w.targets,
            priority: w.priority,
            content: None,
        };
        change.check()?;
        Ok(change)
    }
}

impl From<ScriptChange> for ChangeWire {
    fn from(c: ScriptChange) -> Self {
        let schema = c.schema().to_owned();
        let content = c.content.unwrap_or_else(|| Content {
            version_hash: String::new(),
            disclaimer: None,
            campaign_id: None,
            genesys_version_id: None,
            attributes: None,
        });
        Self {
            schema,
            id: c.id,
            tenant: c.tenant,
            script_id: c.script_id,
            version: c.version,
            version_hash: content.version_hash,
            published_at: c.published_at,
            disclaimer: content.disclaimer,
            campaign_id: content.campaign_id,
            genesys_version_id: content.genesys_version_id,
            attributes: content.attributes,
            targets: c.targets,
            priority: c.priority,
        }
    }
}

/// What a change is written as: its schema's fields in the schema's order, the absent ones
/// (and, for a retire, every content field) left out.
#[derive(Serialize)]
struct Written<'a> {
    schema: &'static str,
    id: &'a str,
    tenant: &'a str,
    script_id: &'a str,
    version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_hash: Option<&'a str>,
    published_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    disclaimer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    genesys_version_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attributes: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    targets: Option<&'a [TargetKind]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<Priority>,
}

impl Serialize for ScriptChange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let content = self.content.as_ref();
        Written {
            schema: self.schema(),
            id: &self.id,
            tenant: &self.tenant,
            script_id: &self.script_id,
            version: self.version,
            version_hash: content.map(|c| c.version_hash.as_str()),
            published_at: &self.published_at,
            disclaimer: content.and_then(|c| c.disclaimer.as_deref()),
            campaign_id: content.and_then(|c| c.campaign_id.as_deref()),
            genesys_version_id: content.and_then(|c| c.genesys_version_id.as_deref()),
            attributes: content.and_then(|c| c.attributes.as_ref()),
            targets: self.targets.as_deref(),
            priority: self.priority,
        }
        .serialize(s)
    }
}

/// Reads either schema's shape, chosen by `schema` as [`super::decode`] does; the same rules
/// run. (Buffered as a JSON value to see `schema` first: a duplicate key, which
/// [`super::decode`] refuses, is not seen here.)
impl<'de> Deserialize<'de> for ScriptChange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        if !value.is_object() {
            return Err(D::Error::custom("a script change is a JSON object"));
        }
        let operation = match value.get("schema").and_then(|s| s.as_str()) {
            Some(schema) => {
                Operation::for_schema(schema).ok_or_else(|| D::Error::custom(unknown(schema)))?
            }
            None => Operation::Upsert,
        };
        let change = match operation {
            Operation::Upsert => ChangeWire::deserialize(value)
                .map_err(D::Error::custom)
                .map(ScriptChange::try_from)?,
            Operation::Retire => RetireWire::deserialize(value)
                .map_err(D::Error::custom)
                .map(ScriptChange::try_from)?,
        };
        change.map_err(D::Error::custom)
    }
}
