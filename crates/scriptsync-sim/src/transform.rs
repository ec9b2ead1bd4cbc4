//! The ServiceNow import-set transform, as the integrator's transform map would run it.
//!
//! A record coalesces on (`u_tenant`, `u_script_id`) into the target table
//! `u_scriptsync_script`. With `servicenow_skip_older`, the transform script skips a record
//! whose `u_version` is lower than the held one; an equal version changes nothing (`ignored`).
//! Held records are filed under the record's `u_tenant`; the sending principal is noted in that
//! tenant's `tokens_seen`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::gate::Admitted;
use super::world::World;
use super::{HeldRecord, SimTarget};

const TARGET: SimTarget = SimTarget::Servicenow;
/// The target table the transform map writes.
pub(crate) const TARGET_TABLE: &str = "u_scriptsync_script";
/// The transform map's name, as shown in import results.
pub(crate) const TRANSFORM_MAP: &str = "scriptsync";

/// The outcome of one record, as one element of an import response's `result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// inserted, updated, ignored, skipped or error.
    pub(crate) status: &'static str,
    pub(crate) script_id: String,
    pub(crate) sys_id: String,
    pub(crate) message: Option<String>,
}

impl Outcome {
    /// The import response's `result` element.
    pub(crate) fn to_json(&self, base_url: &str) -> Value {
        let mut result = json!({
            "transform_map": TRANSFORM_MAP,
            "table": TARGET_TABLE,
            "display_name": "u_script_id",
            "display_value": self.script_id,
            "record_link": format!("{base_url}/api/now/table/{TARGET_TABLE}/{}", self.sys_id),
            "status": self.status,
            "sys_id": self.sys_id,
        });
        let key = if self.status == "error" {
            "error_message"
        } else {
            "status_message"
        };
        if let Some(message) = &self.message {
            result[key] = json!(message);
        }
        result
    }
}

/// One API call's view of the transform: who sends, with which faults.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Importer<'a> {
    pub(crate) skip_older: bool,
    pub(crate) principal: &'a str,
    pub(crate) admitted: &'a Admitted,
    /// For `record_link`s.
    pub(crate) base_url: &'a str,
}

impl Importer<'_> {
    /// A single-record import: the transform, then the answer body (also the body of a batch
    /// sub-response).
    pub(crate) fn import(&self, world: &mut World, table: &str, record: &Value) -> Value {
        let outcome = self.apply(world, record);
        let import_set = world.next_import_set();
        let result = outcome.to_json(self.base_url);
        json!({"import_set": import_set, "staging_table": table, "result": [result]})
    }

    /// Runs the transform for one record.
    pub(crate) fn apply(&self, world: &mut World, record: &Value) -> Outcome {
        apply(
            world,
            self.skip_older,
            self.principal,
            record,
            &self.admitted.record_errors,
        )
    }
}

/// Runs the transform for one record sent by `principal`.
fn apply(
    world: &mut World,
    skip_older: bool,
    principal: &str,
    record: &Value,
    record_errors: &BTreeSet<String>,
) -> Outcome {
    let field = |name| {
        record
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (tenant, script_id) = (field("u_tenant"), field("u_script_id"));
    let fail = |message: &str| Outcome {
        status: "error",
        script_id: script_id.clone(),
        sys_id: new_sys_id(),
        message: Some(message.to_string()),
    };
    if tenant.is_empty() || script_id.is_empty() {
        return fail("u_tenant and u_script_id are required (coalesce fields)");
    }
    world
        .target(&tenant, TARGET)
        .tokens_seen
        .insert(principal.to_string());
    let Some(version) = positive_integer(record.get("u_version")) else {
        return fail("u_version must be a positive integer");
    };
    if record_errors.contains(&script_id) {
        return fail("simulated transform error");
    }

    let sys_id = world
        .sys_ids
        .entry((tenant.clone(), script_id.clone()))
        .or_insert_with(new_sys_id)
        .clone();
    let state = world.target(&tenant, TARGET);
    let held = state.held.get(&script_id);
    let held_version = held.map(|h| h.version);
    let previous_writes = held.map_or(0, |h| h.writes);
    let done = |status, message: Option<String>| Outcome {
        status,
        script_id: script_id.clone(),
        sys_id: sys_id.clone(),
        message,
    };
    match held_version {
        Some(v) if version == v => return done("ignored", Some("No field values changed".into())),
        Some(v) if version < v && skip_older => {
            state.older_writes += 1;
            return done(
                "skipped",
                Some(format!("older version {version} than held {v}")),
            );
        }
        Some(v) if version < v => state.older_writes += 1,
        _ => {}
    }
    let disclaimer = field("u_disclaimer");
    state.writes += 1;
    state.held.insert(
        script_id.clone(),
        HeldRecord {
            version,
            version_hash: field("u_version_hash"),
            change_id: field("u_change_id"),
            disclaimer: (!disclaimer.is_empty()).then_some(disclaimer),
            writes: previous_writes + 1,
        },
    );
    world.applied(&tenant, TARGET, &script_id, version);
    done(
        if held_version.is_some() {
            "updated"
        } else {
            "inserted"
        },
        None,
    )
}

/// A positive integer sent as a string (the import-set convention) or a JSON number.
fn positive_integer(value: Option<&Value>) -> Option<u64> {
    let n = match value? {
        Value::String(s) => s.trim().parse::<u64>().ok()?,
        other => other.as_u64()?,
    };
    (n > 0).then_some(n)
}

fn new_sys_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(tenant: &str, version: &str) -> Value {
        json!({"u_tenant": tenant, "u_script_id": "s1", "u_version": version,
               "u_version_hash": "h", "u_change_id": "c", "u_disclaimer": ""})
    }

    fn run(world: &mut World, skip: bool, version: &str) -> &'static str {
        apply(world, skip, "p", &record("t", version), &BTreeSet::new()).status
    }

    #[test]
    fn statuses_follow_the_transform_script() {
        let mut w = World::default();
        assert_eq!(run(&mut w, true, "2"), "inserted");
        assert_eq!(run(&mut w, true, "3"), "updated");
        assert_eq!(run(&mut w, true, "3"), "ignored");
        assert_eq!(run(&mut w, true, "1"), "skipped");
        assert_eq!(run(&mut w, true, "0"), "error");
        assert_eq!(run(&mut w, true, "x"), "error");
        let state = &w.tenants["t"].servicenow;
        assert_eq!((state.writes, state.older_writes), (2, 1));
        assert_eq!(state.held["s1"].version, 3);
        assert_eq!(state.held["s1"].disclaimer, None);
        assert!(state.tokens_seen.contains("p"));
        assert!(
            !w.tenants.contains_key("p"),
            "records are filed under u_tenant"
        );
    }

    #[test]
    fn without_skip_older_a_lower_version_overwrites() {
        let mut w = World::default();
        run(&mut w, false, "5");
        assert_eq!(run(&mut w, false, "4"), "updated");
        assert_eq!(w.tenants["t"].servicenow.held["s1"].version, 4);
        assert_eq!(w.tenants["t"].servicenow.older_writes, 1);
    }

    #[test]
    fn flagged_records_fail_and_results_render() {
        let mut w = World::default();
        let errors = BTreeSet::from(["s1".to_string()]);
        let outcome = apply(&mut w, true, "p", &record("t", "1"), &errors);
        let json = outcome.to_json("http://x");
        assert_eq!(json["status"], "error");
        assert_eq!(json["error_message"], "simulated transform error");
        assert!(w.tenants["t"].servicenow.held.is_empty());
    }
}
