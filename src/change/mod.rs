//! `ScriptChange`: the message publishers put on RabbitMQ (DESIGN §3), parsed and validated
//! in one step ("parse, don't validate"). Two schemas make one: `script-change/v1`
//! (`schemas/script-change.v1.json`, an upsert: the script's new content) and
//! `script-retire/v1` (`schemas/script-retire.v1.json`, the script retired); the `schema`
//! field decides which, [`ScriptChange::operation`] says which. A value of this type always
//! satisfies every rule of its schema; [`decode`] says in one line why a body does not.
//!
//! - `kinds`: [`TargetKind`], [`Priority`], [`Operation`].
//! - `decode`: [`decode`] and [`parse`], the body → change path and its error texts.
//! - `wire`: the JSON shapes of both schemas, and serde for [`ScriptChange`].
//! - `rules`: the rules serde cannot express.
//! - `builder`: [`ChangeBuilder`], changes and retires made without JSON.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

mod builder;
mod decode;
mod kinds;
mod rules;
mod wire;

pub use builder::ChangeBuilder;
pub(crate) use decode::without_position;
pub use decode::{decode, parse};
pub use kinds::{Operation, Priority, TargetKind};

/// The schema string of an upsert (a script's new content).
pub const SCHEMA_V1: &str = "script-change/v1";
/// The schema string of a retire (the script is gone).
pub const SCHEMA_RETIRE_V1: &str = "script-retire/v1";
/// Largest `version` accepted: 2^53 − 1, so JavaScript publishers can represent every value.
pub const MAX_VERSION: u64 = 9_007_199_254_740_991;

/// One script change, upsert or retire, valid by construction: it comes out of [`decode`]
/// (or any serde deserialization, which runs the same checks) or [`ChangeBuilder::build`],
/// and its fields are read through accessors, so no code can hold or make a change that
/// breaks a rule of its schema. It serializes back to exactly its schema's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptChange {
    id: String,
    tenant: String,
    script_id: String,
    version: u64,
    published_at: String,
    targets: Option<Vec<TargetKind>>,
    priority: Option<Priority>,
    /// The script's new content for an upsert; `None` for a retire, which has none (so a
    /// retire cannot carry a hash or a disclaimer: the retire schema has no such field).
    content: Option<Content>,
}

/// The fields only `script-change/v1` has: what the script becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Content {
    version_hash: String,
    disclaimer: Option<String>,
    campaign_id: Option<String>,
    genesys_version_id: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
}

/// Why a message body is not a valid change; the text is one line, without the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidChange(pub String);

impl ScriptChange {
    /// Upsert (`script-change/v1`) or retire (`script-retire/v1`).
    pub fn operation(&self) -> Operation {
        match self.content {
            Some(_) => Operation::Upsert,
            None => Operation::Retire,
        }
    }
    /// The `schema` the change is sent with (see [`Self::operation`]).
    pub fn schema(&self) -> &'static str {
        self.operation().schema()
    }
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
    /// Strictly increasing per script, one sequence for upserts and retires; newer wins.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// The content hash of an upsert; `""` for a retire (which has no content).
    pub fn version_hash(&self) -> &str {
        self.content.as_ref().map_or("", |c| &c.version_hash)
    }
    /// RFC 3339, as published.
    pub fn published_at(&self) -> &str {
        &self.published_at
    }
    /// `None` for a retire.
    pub fn disclaimer(&self) -> Option<&str> {
        self.content.as_ref()?.disclaimer.as_deref()
    }
    /// `None` for a retire.
    pub fn campaign_id(&self) -> Option<&str> {
        self.content.as_ref()?.campaign_id.as_deref()
    }
    /// `None` for a retire.
    pub fn genesys_version_id(&self) -> Option<&str> {
        self.content.as_ref()?.genesys_version_id.as_deref()
    }
    /// `None` for a retire.
    pub fn attributes(&self) -> Option<&BTreeMap<String, String>> {
        self.content.as_ref()?.attributes.as_ref()
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

fn invalid(message: impl Into<String>) -> InvalidChange {
    InvalidChange(message.into())
}
