//! Genesys permissions: which one each simulated call needs, and the 403 a client whose roles
//! lack it gets. With `genesys_permissions` unset every client may do everything; with it
//! set, a listed client holds only its listed permissions (an unlisted client still holds
//! all).
//!
//! Each call is allowed by ANY of its permissions (the SDK docs' "Requires ANY permissions":
//! the row calls accept the row-level permission or the table-level one); a client holding
//! none of them gets 403 `missing.any.permissions`, "Unable to perform the requested action.
//! You must have at least one of the following permissions assigned: [a, b]" (the body
//! Genesys standardised on in August 2022; see the worker's `docs/genesys.md`, API facts).

use super::SimConfig;
use super::codes::{GENESYS_MISSING_ANY_PERMISSIONS_CODE, GenesysError};

/// The table itself: read (with the listing), create, edit, delete.
pub const DATATABLE_VIEW: &str = "architect:datatable:view";
pub const DATATABLE_ADD: &str = "architect:datatable:add";
pub const DATATABLE_EDIT: &str = "architect:datatable:edit";
pub const DATATABLE_DELETE: &str = "architect:datatable:delete";
/// Its rows.
pub const ROW_VIEW: &str = "architect:datatableRow:view";
pub const ROW_ADD: &str = "architect:datatableRow:add";
pub const ROW_EDIT: &str = "architect:datatableRow:edit";
pub const ROW_DELETE: &str = "architect:datatableRow:delete";
/// `POST /api/v2/scripts/published`.
pub const SCRIPT_PUBLISH: &str = "scripter:publishedScript:add";

/// What each call accepts (any one of).
pub const READ_TABLE: &[&str] = &[DATATABLE_VIEW];
pub const CREATE_TABLE: &[&str] = &[DATATABLE_ADD];
pub const READ_ROWS: &[&str] = &[DATATABLE_VIEW, ROW_VIEW];
pub const ADD_ROW: &[&str] = &[DATATABLE_ADD, ROW_ADD];
pub const EDIT_ROW: &[&str] = &[DATATABLE_EDIT, ROW_EDIT];
pub const DELETE_ROW: &[&str] = &[DATATABLE_DELETE, ROW_DELETE];
pub const PUBLISH: &[&str] = &[SCRIPT_PUBLISH];

/// Ok when `principal` holds any of `accepted`; else the 403 that lists them.
pub(crate) fn require(
    config: &SimConfig,
    principal: &str,
    accepted: &[&str],
) -> Result<(), GenesysError> {
    let granted = config
        .genesys_permissions
        .as_ref()
        .and_then(|clients| clients.get(principal));
    match granted {
        Some(granted) if !granted.iter().any(|p| accepted.contains(&p.as_str())) => {
            Err(GenesysError::new(
                403,
                GENESYS_MISSING_ANY_PERMISSIONS_CODE,
                format!(
                    "Unable to perform the requested action. You must have at least one of \
                     the following permissions assigned: [{}]",
                    accepted.join(", ")
                ),
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn only_a_listed_client_is_limited_and_the_answer_names_the_permission() {
        let open = SimConfig::default();
        assert!(require(&open, "acme", ADD_ROW).is_ok());
        let config = SimConfig {
            genesys_permissions: Some(HashMap::from([(
                "acme".to_owned(),
                vec![ROW_VIEW.to_owned(), DATATABLE_EDIT.to_owned()],
            )])),
            ..SimConfig::default()
        };
        assert!(require(&config, "acme", READ_ROWS).is_ok());
        assert!(
            require(&config, "acme", EDIT_ROW).is_ok(),
            "the table-level one suffices"
        );
        let refused = require(&config, "acme", ADD_ROW).unwrap_err();
        assert_eq!(
            (refused.status, refused.code),
            (403, "missing.any.permissions")
        );
        assert!(
            refused
                .message
                .ends_with("[architect:datatable:add, architect:datatableRow:add]"),
            "{}",
            refused.message
        );
        assert!(require(&config, "other", ADD_ROW).is_ok());
    }
}
