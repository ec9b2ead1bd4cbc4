//! What the integrator's transform script decides for one import record against the record it
//! coalesces onto: insert, update, ignore or skip, for an upsert or a retire.
//!
//! The record's `u_operation` says which: absent (or null) or "upsert" is an upsert, "retire"
//! retires the held record at the record's `u_version`; any other value is an error naming the
//! field. The rules, for both operations:
//! - nothing held → insert (a retire inserts a retired record, a tombstone, so an older upsert
//!   arriving later is still skipped);
//! - a lower version than held → skipped with `servicenow_skip_older`, else applied (update);
//! - the same version and the same retired state → ignored (no field value would change);
//! - otherwise → update: a retire marks the record retired, an upsert clears `retired`.

use serde_json::Value;

/// What the record asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Upsert,
    Retire,
}

impl Operation {
    /// The record's `u_operation`, or the import-result error message.
    pub(crate) fn of(record: &Value) -> Result<Self, String> {
        match record.get("u_operation") {
            None | Some(Value::Null) => Ok(Self::Upsert),
            Some(Value::String(op)) if op == "upsert" => Ok(Self::Upsert),
            Some(Value::String(op)) if op == "retire" => Ok(Self::Retire),
            Some(other) => Err(format!(
                "u_operation must be \"upsert\" or \"retire\", got {other}"
            )),
        }
    }

    fn retires(self) -> bool {
        self == Self::Retire
    }
}

/// The held record, as far as the decision goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    pub(crate) version: u64,
    pub(crate) retired: bool,
}

/// The transform's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Insert,
    /// `older`: the record's version is lower than the held one (counted in `older_writes`).
    Update {
        older: bool,
    },
    Ignore,
    Skip {
        held: u64,
    },
}

/// Decides for a record of `version` asking for `op`.
pub(crate) fn judge(held: Option<Held>, version: u64, op: Operation, skip_older: bool) -> Decision {
    let Some(held) = held else {
        return Decision::Insert;
    };
    if version < held.version {
        return if skip_older {
            Decision::Skip { held: held.version }
        } else {
            Decision::Update { older: true }
        };
    }
    if version == held.version && op.retires() == held.retired {
        return Decision::Ignore;
    }
    Decision::Update { older: false }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIVE: Held = Held {
        version: 5,
        retired: false,
    };
    const RETIRED: Held = Held {
        version: 5,
        retired: true,
    };

    #[test]
    fn operations_are_read_from_u_operation() {
        assert_eq!(Operation::of(&json!({})), Ok(Operation::Upsert));
        assert_eq!(
            Operation::of(&json!({"u_operation": null})),
            Ok(Operation::Upsert)
        );
        assert_eq!(
            Operation::of(&json!({"u_operation": "upsert"})),
            Ok(Operation::Upsert)
        );
        assert_eq!(
            Operation::of(&json!({"u_operation": "retire"})),
            Ok(Operation::Retire)
        );
        for bad in [json!("delete"), json!(""), json!("RETIRE"), json!(1)] {
            let message = Operation::of(&json!({ "u_operation": bad })).unwrap_err();
            assert!(message.starts_with("u_operation must be"), "{message}");
        }
    }

    #[test]
    fn retires_follow_the_same_version_rules_as_upserts() {
        use Operation::{Retire, Upsert};
        assert_eq!(judge(None, 1, Retire, true), Decision::Insert);
        assert_eq!(
            judge(Some(LIVE), 6, Retire, true),
            Decision::Update { older: false }
        );
        assert_eq!(
            judge(Some(LIVE), 4, Retire, true),
            Decision::Skip { held: 5 }
        );
        assert_eq!(
            judge(Some(LIVE), 4, Retire, false),
            Decision::Update { older: true }
        );
        assert_eq!(
            judge(Some(LIVE), 5, Retire, true),
            Decision::Update { older: false }
        );
        assert_eq!(judge(Some(RETIRED), 5, Retire, true), Decision::Ignore);
        assert_eq!(
            judge(Some(RETIRED), 4, Upsert, true),
            Decision::Skip { held: 5 }
        );
        assert_eq!(
            judge(Some(RETIRED), 6, Upsert, true),
            Decision::Update { older: false }
        );
        assert_eq!(judge(Some(LIVE), 5, Upsert, true), Decision::Ignore);
    }
}
