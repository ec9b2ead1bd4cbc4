//! [`ChangeBuilder`]: how a publisher (the demo, the bench, tests, a Rust program) makes a
//! [`ScriptChange`] without JSON: the required fields up front, the optional ones by name,
//! and [`ChangeBuilder::build`] runs the same rules as the decoder.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::wire::ChangeWire;
use super::{InvalidChange, Priority, SCHEMA_V1, ScriptChange, TargetKind};

/// The fields of a change being made; [`ChangeBuilder::build`] validates them.
#[derive(Debug, Clone)]
pub struct ChangeBuilder {
    wire: ChangeWire,
}

impl ScriptChange {
    /// A change of `tenant`'s `script_id` to `version` (hash `version_hash`), with id `id`,
    /// published now; set the optional fields on the builder.
    pub fn builder(
        id: impl Into<String>,
        tenant: impl Into<String>,
        script_id: impl Into<String>,
        version: u64,
        version_hash: impl Into<String>,
    ) -> ChangeBuilder {
        let published_at = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        ChangeBuilder {
            wire: ChangeWire {
                schema: SCHEMA_V1.into(),
                id: id.into(),
                tenant: tenant.into(),
                script_id: script_id.into(),
                version,
                version_hash: version_hash.into(),
                published_at,
                ..ChangeWire::default()
            },
        }
    }
}

impl ChangeBuilder {
    pub(super) fn from_change(change: ScriptChange) -> Self {
        Self {
            wire: change.into(),
        }
    }

    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.wire.id = id.into();
        self
    }

    /// RFC 3339 text, as it will be sent.
    pub fn published_at(mut self, at: impl Into<String>) -> Self {
        self.wire.published_at = at.into();
        self
    }

    pub fn disclaimer(mut self, text: impl Into<String>) -> Self {
        self.wire.disclaimer = Some(text.into());
        self
    }

    pub fn campaign_id(mut self, id: impl Into<String>) -> Self {
        self.wire.campaign_id = Some(id.into());
        self
    }

    /// The Genesys script version to publish (a UUID) when `publish_scripts` is on.
    pub fn genesys_version_id(mut self, id: impl Into<String>) -> Self {
        self.wire.genesys_version_id = Some(id.into());
        self
    }

    pub fn attributes(mut self, attributes: BTreeMap<String, String>) -> Self {
        self.wire.attributes = Some(attributes);
        self
    }

    /// Only these targets (without it: every configured target).
    pub fn targets(mut self, targets: impl IntoIterator<Item = TargetKind>) -> Self {
        self.wire.targets = Some(targets.into_iter().collect());
        self
    }

    pub fn priority(mut self, priority: Priority) -> Self {
        self.wire.priority = Some(priority);
        self
    }

    /// The change, if it satisfies every rule of the schema.
    pub fn build(self) -> Result<ScriptChange, InvalidChange> {
        ScriptChange::try_from(self.wire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_changes_are_checked_like_decoded_ones() {
        let ok = ScriptChange::builder("c-1", "acme", "welcome", 3, "h3")
            .disclaimer("Calls are recorded")
            .targets([TargetKind::Genesys])
            .priority(Priority::Compliance)
            .build()
            .unwrap();
        assert_eq!((ok.script_id(), ok.version()), ("welcome", 3));
        assert!(ok.wants(TargetKind::Genesys) && !ok.wants(TargetKind::Servicenow));
        let body = serde_json::to_vec(&ok).unwrap();
        assert_eq!(super::super::decode(&body, "acme", 65_536).unwrap(), ok);

        let bad = ScriptChange::builder("c-1", "acme", "welcome", 0, "h3").build();
        assert!(bad.unwrap_err().0.contains("version"));
        let bad = ok.to_builder().genesys_version_id("not-a-uuid").build();
        assert!(bad.unwrap_err().0.contains("UUID"));
        let bad = ok.to_builder().published_at("yesterday").build();
        assert!(bad.unwrap_err().0.contains("published_at"));
        let bad = ok.to_builder().targets([]).build();
        assert!(bad.unwrap_err().0.contains("targets"));
    }

    #[test]
    fn serde_cannot_make_an_invalid_change() {
        let json = serde_json::json!({
            "schema": SCHEMA_V1, "id": "c", "tenant": "acme", "script_id": "s",
            "version": 0, "version_hash": "h", "published_at": "2026-01-01T00:00:00Z",
        });
        let err = serde_json::from_value::<ScriptChange>(json).unwrap_err();
        assert!(err.to_string().contains("version"), "{err}");
    }
}
