//! The change as it travels: the JSON object of DESIGN §3 with serde's own checks (no unknown
//! fields, `null` is not a value, integral `version`). Every [`ScriptChange`] deserialized
//! from it has passed the rules in `rules` too (`serde(try_from)`), so serde cannot make an
//! invalid one.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::rules::{integral_number, present};
use super::{InvalidChange, Priority, ScriptChange, TargetKind};

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

impl TryFrom<ChangeWire> for ScriptChange {
    type Error = InvalidChange;
    fn try_from(w: ChangeWire) -> Result<Self, InvalidChange> {
        let change = ScriptChange {
            schema: w.schema,
            id: w.id,
            tenant: w.tenant,
            script_id: w.script_id,
            version: w.version,
            version_hash: w.version_hash,
            published_at: w.published_at,
            disclaimer: w.disclaimer,
            campaign_id: w.campaign_id,
            genesys_version_id: w.genesys_version_id,
            attributes: w.attributes,
            targets: w.targets,
            priority: w.priority,
        };
        change.check()?;
        Ok(change)
    }
}

impl From<ScriptChange> for ChangeWire {
    fn from(c: ScriptChange) -> Self {
        Self {
            schema: c.schema,
            id: c.id,
            tenant: c.tenant,
            script_id: c.script_id,
            version: c.version,
            version_hash: c.version_hash,
            published_at: c.published_at,
            disclaimer: c.disclaimer,
            campaign_id: c.campaign_id,
            genesys_version_id: c.genesys_version_id,
            attributes: c.attributes,
            targets: c.targets,
            priority: c.priority,
        }
    }
}
