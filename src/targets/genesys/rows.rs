//! Which rows of the tenant's data table exist, so that a change costs one request: `PUT` for
//! a known row, `POST` for a new one (DESIGN §5.1). Learned once per process by listing the
//! table (`GET …/rows?showbrief=true`, paged), then kept up to date by every answer: a
//! created or updated row is known, a 404 forgets it, a 409 learns it.
//!
//! Without a listing (it failed, or the lane has not started) nothing is known as absent, so
//! writes start with `PUT` (then `POST` on 404): the pre-listing behaviour.

use std::collections::HashSet;
use std::sync::Mutex;

use serde_json::Value;

/// Rows asked for per listing request (Genesys's largest page for data-table rows).
pub const PAGE_SIZE: usize = 500;
/// Listing stops after this many pages, whatever `pageCount` says (a server answering
/// nonsense must not keep the lane listing forever): 5 million rows.
pub const MAX_PAGES: usize = 10_000;

/// How to write a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// The row is known to exist (or nothing is known): `PUT …/rows/{key}`.
    Update,
    /// The listing did not have it and we have not created it: `POST …/rows`.
    Create,
}

#[derive(Debug, Default)]
struct Known {
    listed: bool,
    rows: HashSet<String>,
}

/// The row keys this process knows to exist in one table.
#[derive(Debug, Default)]
pub struct RowKnowledge {
    known: Mutex<Known>,
}

impl RowKnowledge {
    /// True once a listing completed.
    pub fn listed(&self) -> bool {
        self.lock().listed
    }

    /// Takes a completed listing (merged with what was learned meanwhile).
    pub fn set_listing(&self, keys: impl IntoIterator<Item = String>) {
        let mut known = self.lock();
        known.rows.extend(keys);
        known.listed = true;
    }

    /// The first request for `key`.
    pub fn write_for(&self, key: &str) -> Write {
        let known = self.lock();
        if known.listed && !known.rows.contains(key) {
            Write::Create
        } else {
            Write::Update
        }
    }

    /// The row exists (written, or a POST answered 409).
    pub fn exists(&self, key: &str) {
        let mut known = self.lock();
        if !known.rows.contains(key) {
            known.rows.insert(key.to_owned());
        }
    }

    /// The row does not exist (a PUT or GET answered 404).
    pub fn absent(&self, key: &str) {
        self.lock().rows.remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        // Plain data: a panic elsewhere cannot leave it inconsistent.
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One listing page: its keys, and whether another page follows. `None` when the body is
/// not an entity listing.
pub fn parse_page(body: &Value, page: usize) -> Option<(Vec<String>, bool)> {
    let entities = body.get("entities")?.as_array()?;
    let keys = entities
        .iter()
        .filter_map(|e| e.get("key")?.as_str().map(str::to_owned))
        .collect();
    let page_count = body.get("pageCount").and_then(Value::as_u64);
    let more = match page_count {
        Some(count) => (page as u64) < count,
        None => entities.len() >= PAGE_SIZE,
    };
    Some((keys, more && !entities.is_empty() && page < MAX_PAGES))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_rows_are_created_only_after_a_listing() {
        let rows = RowKnowledge::default();
        assert_eq!(rows.write_for("a"), Write::Update, "nothing known yet");
        rows.set_listing(["a".to_string()]);
        assert_eq!(rows.write_for("a"), Write::Update);
        assert_eq!(rows.write_for("b"), Write::Create);
        rows.exists("b");
        assert_eq!(rows.write_for("b"), Write::Update);
        rows.absent("a");
        assert_eq!(rows.write_for("a"), Write::Create);
    }

    #[test]
    fn pages_follow_page_count_and_stop_on_nonsense() {
        let page = json!({"entities": [{"key": "a"}, {"key": "b"}, {"nokey": 1}], "pageCount": 2});
        assert_eq!(
            parse_page(&page, 1),
            Some((vec!["a".into(), "b".into()], true))
        );
        assert_eq!(parse_page(&page, 2).map(|p| p.1), Some(false));
        let empty = json!({"entities": [], "pageCount": 1_000_000});
        assert_eq!(
            parse_page(&empty, 1).map(|p| p.1),
            Some(false),
            "empty page ends it"
        );
        let endless = json!({"entities": [{"key": "x"}], "pageCount": u64::MAX});
        assert_eq!(parse_page(&endless, MAX_PAGES).map(|p| p.1), Some(false));
        assert_eq!(parse_page(&json!({"rows": []}), 1), None);
        assert_eq!(parse_page(&json!("html"), 1), None);
    }
}
