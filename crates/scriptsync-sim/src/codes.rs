//! The Genesys error statuses and codes the simulator answers, in one place, and
//! [`GenesysError`], the error a Genesys handler returns (rendered as a Genesys error body by
//! [`super::genesys_api`]).
//!
//! The public constants are re-exported from the crate root so tests can match on them. Some are
//! provisional: change the value here and every answer (and test that uses the constant)
//! follows.

/// The org-limits namespace holding `client.credentials.token.rate.per.minute`, served by
/// `GET /api/v2/organizations/limits/namespaces/{namespace}`.
pub const GENESYS_LIMITS_NAMESPACE: &str = "platform.api";

/// The key of the per-client quota in [`GENESYS_LIMITS_NAMESPACE`].
pub const GENESYS_RATE_LIMIT_KEY: &str = "client.credentials.token.rate.per.minute";

/// Status of a `POST …/rows` that would exceed `genesys_max_rows_per_table`.
pub const GENESYS_MAX_ROWS_STATUS: u16 = 400;

/// Code of a `POST …/rows` that would exceed `genesys_max_rows_per_table`.
pub const GENESYS_MAX_ROWS_CODE: &str = "flows.datatables.max.rows.exceeded";

/// Code of a row the table's schema refuses: no key, a key longer than
/// [`GENESYS_MAX_ROW_KEY_CHARS`], a missing `version` (always status 400).
pub const GENESYS_SCHEMA_CODE: &str = "flows.datatables.schema.exception";

/// Longest row key accepted, in characters (Unicode scalar values).
pub const GENESYS_MAX_ROW_KEY_CHARS: usize = 256;

/// Code of a `POST …/rows` whose key exists (status: `genesys_duplicate_row_status`).
pub const GENESYS_ROW_EXISTS_CODE: &str = "flows.datatables.row.already.exists";

/// Code of a row `PUT`, `GET` or `DELETE` for a key the table does not hold (status 404).
pub const GENESYS_ROW_NOT_FOUND_CODE: &str = "flows.datatables.row.not.found";

/// Code of a request naming a data table the org does not have (status 404), as a trace of
/// the real API shows it (no official list of the data-table codes was found).
pub const GENESYS_DATATABLE_NOT_FOUND_CODE: &str = "flows.datatables.table.not.found";

/// Code of a 403 for a call that accepts any of several permissions, none of which the OAuth
/// client holds (the standard authorization failure since August 2022).
pub const GENESYS_MISSING_ANY_PERMISSIONS_CODE: &str = "missing.any.permissions";

/// Code of a 403 for a permission the OAuth client lacks (`genesys_permissions`, or the
/// `limits_refused` fault).
pub const GENESYS_MISSING_PERMISSIONS_CODE: &str = "missing.permissions";

/// Code of the 429 with "Retry the request in \[N\] seconds" (since November 2021).
pub const GENESYS_RETRY_AFTER_CODE: &str = "too.many.requests.retry.after";

/// Code of the older 429 without a wait (the `genesys_legacy_429` fault).
pub const GENESYS_LEGACY_429_CODE: &str = "too.many.requests";

/// Generic codes, by status.
pub(crate) const BAD_REQUEST: &str = "bad.request";
pub(crate) const NOT_FOUND: &str = "not.found";

/// A Genesys error to render: HTTP status, `code`, `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GenesysError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl GenesysError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `bad.request`.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, BAD_REQUEST, message)
    }

    /// 400 [`GENESYS_SCHEMA_CODE`].
    pub(crate) fn schema(message: impl Into<String>) -> Self {
        Self::new(400, GENESYS_SCHEMA_CODE, message)
    }
}

/// The `code` Genesys sends with a status when nothing more specific applies.
pub(crate) fn code_for(status: u16) -> &'static str {
    match status {
        400 => BAD_REQUEST,
        401 => "authentication.required",
        403 => "not.authorized",
        404 => NOT_FOUND,
        408 => "request.timeout",
        409 => "conflict",
        429 => GENESYS_RETRY_AFTER_CODE,
        502 => "bad.gateway",
        503 => "service.unavailable",
        504 => "gateway.timeout",
        _ => "internal.server.error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_generic_codes() {
        let e = GenesysError::schema("too long");
        assert_eq!((e.status, e.code), (400, GENESYS_SCHEMA_CODE));
        assert_eq!(GenesysError::bad_request("x").code, "bad.request");
        assert_eq!(code_for(429), GENESYS_RETRY_AFTER_CODE);
        assert_eq!(code_for(418), "internal.server.error");
    }
}
