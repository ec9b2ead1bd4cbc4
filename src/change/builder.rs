//! [`ChangeBuilder`]: how a publisher (the demo, the bench, tests, a Rust program) makes a
//! [`ScriptChange`] without JSON: the required fields up front ([`ScriptChange::builder`]
//! for an upsert, [`ScriptChange::retire_builder`] for a retire), the optional ones by name,
//! and [`ChangeBuilder::build`] runs the same rules as the decoder (a retire given a content
//! field, e.g. a disclaimer, is refused: its schema has none).

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::wire::ChangeWire;
use super::{InvalidChange, Priority, SCHEMA_RETIRE_V1, SCHEMA_V1, ScriptChange, TargetKind};

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
        ChangeBuilder {
            wire: ChangeWire {
                schema: SCHEMA_V1.into(),
                id: id.into(),
                tenant: tenant.into(),
                script_id: script_id.into(),
                version,
                version_hash: version_hash.into(),
                published_at: now(),
                ..ChangeWire::default()
            },
        }
    }

    /// A retire of `tenant`'s `script_id` at `version` (the same sequence as its changes:
    /// it wins over changes below `version`), with id `id`, published now. Only `id`,
    /// `published_at`, `targets` and `priority` may be set on it.
    pub fn retire_builder(
        id: impl Into<String>,
        tenant: impl Into<String>,
        script_id: impl Into<String>,
        version: u64,
    ) -> ChangeBuilder {
        ChangeBuilder {
            wire: ChangeWire {
                schema: SCHEMA_RETIRE_V1.into(),
                id: id.into(),
                tenant: tenant.into(),
                script_id: script_id.into(),
                version,
                published_at: now(),
                ..ChangeWire::default()
            },
        }
    }
}

/// Now, in RFC 3339.
fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
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

    /// Upsert only (a retire with it does not build).
    pub fn disclaimer(mut self, text: impl Into<String>) -> Self {
        self.wire.disclaimer = Some(text.into());
        self
    }

    /// Upsert only (a retire with it does not build).
    pub fn campaign_id(mut self, id: impl Into<String>) -> Self {
        self.wire.campaign_id = Some(id.into());
        self
    }

    /// The Genesys script version to publish (a UUID) when `publish_scripts` is on.
    /// Upsert only (a retire with it does not build).
    pub fn genesys_version_id(mut self, id: impl Into<String>) -> Self {
        self.wire.genesys_version_id = Some(id.into());
        self
    }

    /// Upsert only (a retire with it does not build).
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

    /// The change, if it satisfies every rule of its schema.
    pub fn build(self) -> Result<ScriptChange, InvalidChange> {
        ScriptChange::try_from(self.wire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Operation;

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
    fn retires_are_built_checked_and_written_in_the_retire_shape() {
        let retire = ScriptChange::retire_builder("r-1", "acme", "welcome", 4)
            .published_at("2026-01-01T00:00:00Z")
            .targets([TargetKind::Servicenow])
            .priority(Priority::Compliance)
            .build()
            .unwrap();
        assert_eq!(retire.operation(), Operation::Retire);
        assert_eq!(retire.schema(), SCHEMA_RETIRE_V1);
        assert_eq!((retire.version_hash(), retire.disclaimer()), ("", None));
        assert_eq!((retire.campaign_id(), retire.attributes()), (None, None));
        assert_eq!(retire.genesys_version_id(), None);
        assert!(retire.wants(TargetKind::Servicenow) && !retire.wants(TargetKind::Genesys));
        assert_eq!(
            serde_json::to_value(&retire).unwrap(),
            serde_json::json!({
                "schema": "script-retire/v1", "id": "r-1", "tenant": "acme",
                "script_id": "welcome", "version": 4, "published_at": "2026-01-01T00:00:00Z",
                "targets": ["servicenow"], "priority": "compliance",
            })
        );
        let body = serde_json::to_vec(&retire).unwrap();
        assert_eq!(super::super::decode(&body, "acme", 65_536).unwrap(), retire);
        assert_eq!(
            serde_json::from_slice::<ScriptChange>(&body).unwrap(),
            retire
        );
        let copy = retire.to_builder().id("r-2").build().unwrap();
        assert_eq!((copy.id(), copy.operation()), ("r-2", Operation::Retire));

        // The same rules as a change's, and no content.
        let bad = ScriptChange::retire_builder("r-1", "acme", "welcome", 0).build();
        assert!(bad.unwrap_err().0.contains("version must be"));
        let bad = ScriptChange::retire_builder("r-1", "a cme", "welcome", 1).build();
        assert!(bad.unwrap_err().0.contains("tenant"));
        let bad = retire.to_builder().targets([]).build();
        assert!(bad.unwrap_err().0.contains("targets"));
        let bad = retire.to_builder().disclaimer("Calls are recorded").build();
        assert_eq!(
            bad.unwrap_err().0,
            "script-retire/v1 has no field `disclaimer`: a retire carries no content"
        );
        let bad = retire.to_builder().attributes(BTreeMap::new()).build();
        assert!(bad.unwrap_err().0.contains("`attributes`"));
    }

    #[test]
    fn serde_cannot_make_an_invalid_change() {
        let json = serde_json::json!({
            "schema": SCHEMA_V1, "id": "c", "tenant": "acme", "script_id": "s",
            "version": 0, "version_hash": "h", "published_at": "2026-01-01T00:00:00Z",
        });
        let err = serde_json::from_value::<ScriptChange>(json).unwrap_err();
        assert!(err.to_string().contains("version"), "{err}");
        let json = serde_json::json!({
            "schema": SCHEMA_RETIRE_V1, "id": "c", "tenant": "acme", "script_id": "s",
            "version": 1, "version_hash": "h", "published_at": "2026-01-01T00:00:00Z",
        });
        let err = serde_json::from_value::<ScriptChange>(json).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `version_hash`"),
            "{err}"
        );
        let json = serde_json::json!({"schema": "script-change/v2", "id": "c"});
        let err = serde_json::from_value::<ScriptChange>(json).unwrap_err();
        assert!(err.to_string().contains("script-retire/v1"), "{err}");
    }
}
