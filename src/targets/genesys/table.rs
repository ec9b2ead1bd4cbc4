//! What an Architect data table allows (Genesys Resource Center, "Work with data tables"; see
//! `docs/genesys.md`, "API facts we rely on"): at most 5,000 rows per table unless Genesys
//! Customer Care raised it (`genesys.max_rows`), a reference key of at most 256 characters.
//! Keys are checked when a change arrives ([`key_problem`]), before any request; the answers
//! that say a row exists ([`says_row_exists`]) or the table is full ([`says_table_full`]) are
//! read by their code and message, not by their status alone: Genesys documents no error code
//! for either, and the same status (400) also means "this row is wrong".

use crate::push::AttemptError;

/// Longest reference key (characters).
pub const MAX_KEY_CHARS: usize = 256;
pub use crate::config::DEFAULT_MAX_ROWS;
/// Share of `max_rows` at which a warning is logged (and the documented alert fires).
pub const WARN_AT: f64 = 0.9;

/// Why `key` cannot be a data-table row key, if it cannot: longer than 256 characters, `.` or
/// `..` (a URL path cannot carry them as a segment), or holding `/`, `\` or a control
/// character (Genesys forbids `/` and `\` in the key's label, and a `/` in a row path is
/// either decoded into another path or refused: the row could never be written or read back).
pub fn key_problem(key: &str) -> Option<String> {
    let chars = key.chars().count();
    if chars > MAX_KEY_CHARS {
        return Some(format!(
            "script_id is {chars} characters; a Genesys data-table key holds at most {MAX_KEY_CHARS}"
        ));
    }
    if matches!(key, "." | "..") {
        return Some(format!(
            "script_id {key:?} cannot be a Genesys row key in a URL path"
        ));
    }
    if let Some(c) = key
        .chars()
        .find(|c| matches!(c, '/' | '\\') || c.is_control())
    {
        return Some(format!(
            "script_id {key:?} holds {c:?}, which a Genesys data-table key cannot"
        ));
    }
    None
}

/// The failure's status, code and message, lowercased, for the checks below.
fn text(e: &AttemptError) -> String {
    e.message.to_ascii_lowercase()
}

/// True when a refused `POST …/rows` says the row exists already: a 409, or a 400 whose code or
/// message says so (`…already.exists`, "duplicate", "conflict").
pub fn says_row_exists(e: &AttemptError) -> bool {
    match e.status {
        Some(409) => true,
        Some(400) => {
            let t = text(e);
            ["exist", "duplicate", "conflict"]
                .iter()
                .any(|w| t.contains(w))
        }
        _ => false,
    }
}

/// True when a refused `POST …/rows` says the table is at its row limit: a refusal (4xx, not
/// one that means something else) whose code or message speaks of a row limit, or any such
/// refusal while the table is known to hold `max_rows` rows already.
pub fn says_table_full(e: &AttemptError, rows: Option<usize>, max_rows: usize) -> bool {
    let refusal = e
        .status
        .is_some_and(|s| (400..500).contains(&s) && !matches!(s, 401 | 404 | 408 | 409 | 429));
    if !refusal || says_row_exists(e) {
        return false;
    }
    let t = text(e);
    let about_rows = t.contains("row") || t.contains("table");
    let about_limit = ["max", "limit", "full", "exceed", "too many"]
        .iter()
        .any(|w| t.contains(w));
    (about_rows && about_limit) || rows.is_some_and(|n| n >= max_rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::Class;

    fn refused(status: u16, message: &str) -> AttemptError {
        AttemptError::new(Class::Permanent, format!("POST row: {status} {message}"))
            .with_status(Some(status))
    }

    #[test]
    fn keys_the_row_api_cannot_take_are_named() {
        for ok in [
            "s1",
            "compliance.greeting-v2",
            "Ünïcödé key",
            &"k".repeat(256),
        ] {
            assert_eq!(key_problem(ok), None, "{ok}");
        }
        for bad in [".", "..", "a/b", "/", "a\\b", "tab\there", &"k".repeat(257)] {
            let why = key_problem(bad).unwrap_or_else(|| panic!("{bad:?} passed"));
            assert!(why.contains("script_id"), "{why}");
        }
        // Characters, not bytes: 256 two-byte characters fit.
        assert_eq!(key_problem(&"é".repeat(256)), None);
    }

    #[test]
    fn an_existing_row_is_known_by_its_code_not_its_status_alone() {
        let rows: &[(u16, &str, bool)] = &[
            (
                409,
                "flows.datatables.row.already.exists: A row with key 's1' already exists",
                true,
            ),
            (409, "", true),
            (
                400,
                "flows.datatables.row.already.exists: A row with key 's1' already exists",
                true,
            ),
            (400, "architect.datatables.key.conflict: Key conflict", true),
            (400, "Duplicate key s1", true),
            (
                400,
                "flows.datatables.schema.exception: Property \"version\" must be an integer",
                false,
            ),
            (
                400,
                "bad.request: The request body must be a JSON object",
                false,
            ),
            (404, "already exists", false),
            (500, "already exists", false),
        ];
        for (status, message, want) in rows {
            assert_eq!(
                says_row_exists(&refused(*status, message)),
                *want,
                "{status} {message}"
            );
        }
    }

    #[test]
    fn a_full_table_is_known_by_its_message_or_by_the_rows_it_holds() {
        let full = refused(
            400,
            "flows.datatables.max.rows.exceeded: The data table has reached its maximum of 5000 rows",
        );
        assert!(says_table_full(&full, None, 5000));
        let vague = refused(400, "bad.request: The request could not be processed");
        assert!(!says_table_full(&vague, Some(4_999), 5000));
        assert!(
            says_table_full(&vague, Some(5_000), 5000),
            "known to be at the limit"
        );
        let schema = refused(400, "flows.datatables.schema.exception: bad field");
        assert!(!says_table_full(&schema, Some(10), 5000));
        let exists = refused(409, "row limit exceeded?");
        assert!(
            !says_table_full(&exists, Some(5_000), 5000),
            "409 means exists"
        );
        let throttled = refused(429, "too many requests on the table");
        assert!(!says_table_full(&throttled, Some(5_000), 5000));
    }
}
