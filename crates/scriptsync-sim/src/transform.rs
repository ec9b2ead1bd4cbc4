//! The ServiceNow import-set transform, as the integrator's transform map would run it.
//!
//! A record coalesces on (`u_tenant`, `u_script_id`) into the target table
//! `u_scriptsync_script`. With `servicenow_skip_older`, the transform script skips a record
//! whose `u_version` is lower than the held one; an equal version changes nothing (`ignored`).
//! A record whose `u_operation` is "retire" marks the held record retired instead, under the
//! same rules ([`super::coalesce`] decides). Held records are filed under the record's
//! `u_tenant`; the sending principal is noted in that tenant's `tokens_seen`.
//!
//! Accounting: an applied upsert counts in `writes` and is streamed as an [`super::Applied`]
//! with `deleted: false`; an applied retire counts in `deletes` and is streamed with
//! `deleted: true`. Both count in the record's own `writes`. A retire replaces the held
//! `u_version_hash`, `u_change_id` and `u_disclaimer` only with non-empty values (a bare
//! tombstone keeps what was held).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::coalesce::{self, Decision, Held, Operation};
use super::gate::Admitted;
use super::import_result::Outcome;
use super::world::World;
use super::{HeldRecord, SimTarget};

const TARGET: SimTarget = SimTarget::Servicenow;
/// The target table the transform map writes.
pub(crate) const TARGET_TABLE: &str = "u_scriptsync_script";
/// The transform map's name, as shown in import results.
pub(crate) const TRANSFORM_MAP: &str = "scriptsync";

/// One API call's view of the transform: who sends, with which faults.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Importer<'a> {
    pub(crate) skip_older: bool,
    pub(crate) principal: &'a str,
    pub(crate) admitted: &'a Admitted,
    /// For `record_link`s.
    pub(crate) base_url: &'a str,
    /// Which staging tables exist (`servicenow_staging_tables`).
    pub(crate) config: &'a super::SimConfig,
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
    let operation = match Operation::of(record) {
        Ok(operation) => operation,
        Err(message) => return fail(&message),
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
    let held = state.held.get(&script_id).cloned();
    let done = |status, message: Option<String>| Outcome {
        status,
        script_id: script_id.clone(),
        sys_id: sys_id.clone(),
        message,
    };
    let facts = held.as_ref().map(|h| Held {
        version: h.version,
        retired: h.retired,
    });
    match coalesce::judge(facts, version, operation, skip_older) {
        Decision::Ignore => return done("ignored", Some("No field values changed".into())),
        Decision::Skip { held } => {
            state.older_writes += 1;
            let message = format!("older version {version} than held {held}");
            return done("skipped", Some(message));
        }
        Decision::Update { older: true } => state.older_writes += 1,
        Decision::Update { older: false } | Decision::Insert => {}
    }
    let previous = held.clone().unwrap_or_default();
    let retire = operation == Operation::Retire;
    // An upsert sends every field; a retire keeps what it does not send.
    let value = |name, kept: String| {
        let sent = field(name);
        if sent.is_empty() && retire {
            kept
        } else {
            sent
        }
    };
    let disclaimer = value("u_disclaimer", previous.disclaimer.unwrap_or_default());
    let record = HeldRecord {
        version,
        version_hash: value("u_version_hash", previous.version_hash),
        change_id: value("u_change_id", previous.change_id),
        disclaimer: (!disclaimer.is_empty()).then_some(disclaimer),
        writes: previous.writes + 1,
        retired: retire,
    };
    state.held.insert(script_id.clone(), record);
    if retire {
        state.deletes += 1;
        world.deleted(&tenant, TARGET, &script_id, version);
    } else {
        state.writes += 1;
        world.applied(&tenant, TARGET, &script_id, version);
    }
    let status = if held.is_some() {
        "updated"
    } else {
        "inserted"
    };
    done(status, None)
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
#[path = "transform_tests.rs"]
mod tests;
