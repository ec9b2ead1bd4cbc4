//! The Import Set record of a change, and the ids of its batch sub-requests.
//!
//! Record fields are all strings; absent optional fields (`u_disclaimer`, `u_campaign_id`)
//! are sent as empty strings, so every record has the same columns and a transform map with
//! "copy empty fields" clears a disclaimer that a newer version dropped. `u_operation` says
//! what the record does: `upsert` (a change), or `retire` (the script is retired: the
//! transform marks its row inactive at that version; a retire has no content fields, so they
//! are empty).

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::change::ScriptChange;
use crate::targets::Job;

/// The import record of a change: every value a string, absent optionals empty.
pub fn record(change: &ScriptChange) -> Value {
    json!({
        "u_tenant": change.tenant(),
        "u_script_id": change.script_id(),
        "u_version": change.version().to_string(),
        "u_version_hash": change.version_hash(),
        "u_disclaimer": change.disclaimer().unwrap_or(""),
        "u_campaign_id": change.campaign_id().unwrap_or(""),
        "u_change_id": change.id(),
        "u_published_at": change.published_at(),
        "u_operation": change.operation().as_str(),
    })
}

/// Sub-request ids: the change id, made unique within the call if two items share one.
pub(super) fn sub_request_ids(items: &[Job]) -> Vec<String> {
    let mut seen = HashSet::new();
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let id = item.change.id().to_owned();
            if seen.insert(id.clone()) {
                id
            } else {
                format!("{id}#{i}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_all_strings() {
        let change: ScriptChange = serde_json::from_value(json!({
            "schema": "script-change/v1", "id": "c-1", "tenant": "t1", "script_id": "s1",
            "version": 12, "version_hash": "h", "published_at": "2026-01-01T00:00:00Z",
            "campaign_id": "camp",
        }))
        .unwrap();
        let r = record(&change);
        assert!(r.as_object().unwrap().values().all(Value::is_string), "{r}");
        assert_eq!(r["u_version"], "12");
        assert_eq!(r["u_disclaimer"], "");
        assert_eq!(r["u_campaign_id"], "camp");
        assert_eq!(r["u_operation"], "upsert");
        assert_eq!(r.as_object().unwrap().len(), 9);
        let retire = ScriptChange::retire_builder("r-1", "t1", "s1", 13)
            .published_at("2026-01-02T00:00:00Z")
            .build()
            .unwrap();
        let r = record(&retire);
        assert!(r.as_object().unwrap().values().all(Value::is_string), "{r}");
        assert_eq!(
            (r["u_operation"].as_str(), r["u_version"].as_str()),
            (Some("retire"), Some("13"))
        );
        assert_eq!(r["u_version_hash"], "");
        assert_eq!(r.as_object().unwrap().len(), 9);
    }
}
