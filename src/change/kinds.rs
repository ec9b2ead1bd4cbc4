//! The small closed sets a message names: the targets it can ask for ([`TargetKind`]), how
//! urgent it is ([`Priority`]) and what it does to the script ([`Operation`], decided by its
//! `schema`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{SCHEMA_RETIRE_V1, SCHEMA_V1};

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

/// What a message does to its script; its `schema` decides it. Both kinds share one
/// `version` sequence per (tenant, script_id): newest wins across upserts and retires.
///
/// Serialized in lowercase (`"upsert"`, `"retire"`), the words of ServiceNow's
/// `u_operation` and of `scriptsync dlq list`'s `op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// `script-change/v1`: the script's new content (create or replace).
    Upsert,
    /// `script-retire/v1`: the script is gone (Genesys row deleted, ServiceNow record
    /// marked retired); a later change with a higher version re-creates it.
    Retire,
}

impl Operation {
    /// The operation a `schema` value names, `None` for a schema this version does not know.
    pub fn for_schema(schema: &str) -> Option<Self> {
        match schema {
            SCHEMA_V1 => Some(Operation::Upsert),
            SCHEMA_RETIRE_V1 => Some(Operation::Retire),
            _ => None,
        }
    }

    /// The schema string of a message doing this.
    pub fn schema(self) -> &'static str {
        match self {
            Operation::Upsert => SCHEMA_V1,
            Operation::Retire => SCHEMA_RETIRE_V1,
        }
    }

    /// `upsert` or `retire`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Upsert => "upsert",
            Operation::Retire => "retire",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_schema_names_one_operation_and_back() {
        for op in [Operation::Upsert, Operation::Retire] {
            assert_eq!(Operation::for_schema(op.schema()), Some(op));
            assert_eq!(serde_json::to_value(op).unwrap(), op.as_str());
        }
        for other in [
            "script-change/v2",
            "script-retire/v2",
            "",
            "SCRIPT-CHANGE/V1",
        ] {
            assert_eq!(Operation::for_schema(other), None, "{other:?}");
        }
    }
}
