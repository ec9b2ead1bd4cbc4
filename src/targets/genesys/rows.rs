//! Which rows of the tenant's data table exist and which version each holds, so that a change
//! costs one request (`PUT` for a known row, `POST` for a new one, DESIGN §5.1) and a change
//! older than what the row holds is never written (DESIGN §3). Learned by listing the table
//! with full rows (`GET …/rows?showbrief=false`, paged) when the lane starts (at worker start,
//! after a reconnect, when this replica takes the tenant over), then kept up to date by every
//! answer: a written row holds the version written, a read row the version read, a 404
//! forgets the row, a 409 learns that it exists.
//!
//! Without a listing (it failed, or the lane has not started) nothing is known as absent, so
//! writes start with `PUT` (then `POST` on 404): the pre-listing behaviour.

use std::collections::HashMap;

use parking_lot::Mutex;
use serde_json::Value;

/// Rows asked for per listing request. Full rows carry the disclaimer (up to 8 KiB), so 250
/// of them stay near half of the 4 MiB answer limit (`push::body::MAX_TARGET_BODY`).
pub const PAGE_SIZE: usize = 250;
/// Listing stops after this many pages, whatever `pageCount` says (a server answering
/// nonsense must not keep the lane listing forever): 2.5 million rows.
pub const MAX_PAGES: usize = 10_000;

/// How to write a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// The row is known to exist (or nothing is known): `PUT …/rows/{key}`.
    Update,
    /// The listing did not have it and we have not created it: `POST …/rows`.
    Create,
}

/// A version not known (a row whose `version` cell is missing or not a number): versions
/// start at 1, so it never covers a change.
const UNKNOWN: u64 = 0;

#[derive(Debug, Default)]
struct Known {
    listed: bool,
    /// Row key → the version the row holds as last seen, or [`UNKNOWN`].
    rows: HashMap<String, u64>,
}

/// The rows this process knows of in one table, with their versions.
#[derive(Debug, Default)]
pub struct RowKnowledge {
    known: Mutex<Known>,
}

impl RowKnowledge {
    /// Takes a completed listing: it replaces what was known (a row missing from it was
    /// deleted), except that a version learned meanwhile that is newer than the listed one
    /// is kept (the page may predate a write that finished while the listing ran).
    pub fn set_listing(&self, rows: impl IntoIterator<Item = ListedRow>) {
        let mut known = self.lock();
        let listed = rows
            .into_iter()
            .map(|(key, version)| {
                let seen = known.rows.get(&key).copied().unwrap_or(UNKNOWN);
                let version = version.unwrap_or(UNKNOWN).max(seen);
                (key, version)
            })
            .collect();
        known.rows = listed;
        known.listed = true;
    }

    /// The first request for `key`.
    pub fn write_for(&self, key: &str) -> Write {
        let known = self.lock();
        if known.listed && !known.rows.contains_key(key) {
            Write::Create
        } else {
            Write::Update
        }
    }

    /// How many rows the table holds, once a listing said (kept up to date by every create
    /// and delete this process makes).
    pub fn count(&self) -> Option<usize> {
        let known = self.lock();
        known.listed.then_some(known.rows.len())
    }

    /// The version the row `key` holds, when known.
    pub fn held(&self, key: &str) -> Option<u64> {
        self.lock().rows.get(key).copied().filter(|v| *v != UNKNOWN)
    }

    /// The row exists, its version not known (a POST answered 409).
    pub fn exists(&self, key: &str) {
        let mut known = self.lock();
        if !known.rows.contains_key(key) {
            known.rows.insert(key.to_owned(), UNKNOWN);
        }
    }

    /// The row holds `version` now: written by this process, or read (`None`: read, but its
    /// `version` cell was not a number).
    pub fn holds(&self, key: &str, version: Option<u64>) {
        let mut known = self.lock();
        let version = version.unwrap_or(UNKNOWN);
        // Every write lands here: a known row costs no key allocation.
        match known.rows.get_mut(key) {
            Some(slot) => *slot = version,
            None => {
                known.rows.insert(key.to_owned(), version);
            }
        }
    }

    /// The row does not exist (a PUT or GET answered 404).
    pub fn absent(&self, key: &str) {
        self.lock().rows.remove(key);
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, Known> {
        self.known.lock()
    }
}

/// A listed row: its key, and its version if the row has a numeric `version`.
pub type ListedRow = (String, Option<u64>);

/// One listing page: its rows, and whether another page follows. `None` when the body is not
/// an entity listing.
pub fn parse_page(body: &Value, page: usize) -> Option<(Vec<ListedRow>, bool)> {
    let entities = body.get("entities")?.as_array()?;
    let rows = entities
        .iter()
        .filter_map(|e| {
            let key = e.get("key")?.as_str()?.to_owned();
            Some((key, e.get("version").and_then(version_of)))
        })
        .collect();
    let page_count = body.get("pageCount").and_then(Value::as_u64);
    let more = match page_count {
        Some(count) => (page as u64) < count,
        None => entities.len() >= PAGE_SIZE,
    };
    Some((rows, more && !entities.is_empty() && page < MAX_PAGES))
}

/// A row's `version` cell: a number, or a numeric string (what an integrator's column
/// type may give back).
pub fn version_of(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        .or_else(|| v.as_str()?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listing(rows: &[(&str, Option<u64>)]) -> Vec<ListedRow> {
        rows.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn unknown_rows_are_created_only_after_a_listing() {
        let rows = RowKnowledge::default();
        assert_eq!(rows.write_for("a"), Write::Update, "nothing known yet");
        rows.set_listing(listing(&[("a", Some(1))]));
        assert_eq!(rows.write_for("a"), Write::Update);
        assert_eq!(rows.write_for("b"), Write::Create);
        rows.exists("b");
        assert_eq!(rows.write_for("b"), Write::Update);
        rows.absent("a");
        assert_eq!(rows.write_for("a"), Write::Create);
    }

    #[test]
    fn versions_come_from_the_listing_reads_and_writes() {
        let rows = RowKnowledge::default();
        assert_eq!(rows.held("a"), None);
        rows.set_listing(listing(&[("a", Some(7)), ("b", None)]));
        assert_eq!(rows.held("a"), Some(7));
        assert_eq!(rows.held("b"), None, "a row without a numeric version");
        assert_eq!(rows.write_for("b"), Write::Update, "but it exists");
        rows.holds("a", Some(9));
        assert_eq!(rows.held("a"), Some(9));
        rows.holds("c", Some(2));
        assert_eq!(
            (rows.held("c"), rows.write_for("c")),
            (Some(2), Write::Update)
        );
        rows.exists("c");
        assert_eq!(rows.held("c"), Some(2), "a 409 keeps the version known");
        rows.holds("c", None);
        assert_eq!(rows.held("c"), None, "read, version unreadable");
        rows.absent("a");
        assert_eq!(rows.held("a"), None);
    }

    #[test]
    fn a_new_listing_replaces_what_was_known_but_keeps_newer_versions() {
        let rows = RowKnowledge::default();
        rows.set_listing(listing(&[("a", Some(3)), ("gone", Some(4))]));
        rows.holds("a", Some(5));
        rows.set_listing(listing(&[("a", Some(4)), ("b", Some(2))]));
        assert_eq!(
            rows.held("a"),
            Some(5),
            "written meanwhile, newer than listed"
        );
        assert_eq!(rows.held("b"), Some(2));
        assert_eq!(rows.held("gone"), None);
        assert_eq!(rows.write_for("gone"), Write::Create, "deleted since");
    }

    #[test]
    fn pages_follow_page_count_and_stop_on_nonsense() {
        let page = json!({"entities": [{"key": "a", "version": 3}, {"key": "b", "version": "4"},
                                       {"key": "c", "version": "x"}, {"nokey": 1}], "pageCount": 2});
        assert_eq!(
            parse_page(&page, 1),
            Some((
                listing(&[("a", Some(3)), ("b", Some(4)), ("c", None)]),
                true
            ))
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

    #[test]
    fn versions_are_numbers_or_numeric_strings() {
        assert_eq!(version_of(&json!(5)), Some(5));
        assert_eq!(version_of(&json!("6")), Some(6));
        assert_eq!(version_of(&json!(7.0)), Some(7));
        assert_eq!(version_of(&json!(-1)), None);
        assert_eq!(version_of(&json!(null)), None);
        assert_eq!(version_of(&json!("seven")), None);
    }
}
