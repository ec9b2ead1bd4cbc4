//! Genesys permissions: which one each simulated call needs, and the 403 a client whose roles
//! lack it gets. With `genesys_permissions` unset every client may do everything; with it
//! set, a listed client holds only its listed permissions (an unlisted client still holds
//! all). The answer names what is missing, like Genesys:
//! 403 `missing.permissions`, "You are missing the following permission(s): [...]".
//!
//! The names are those the Genesys API reference lists for each operation (see the worker's
//! `docs/genesys.md`, "Permissions").

use super::SimConfig;
use super::codes::{GENESYS_MISSING_PERMISSIONS_CODE, GenesysError};

/// `GET /api/v2/flows/datatables/{id}` and the table listing.
pub const DATATABLE_VIEW: &str = "architect:datatable:view";
/// `POST /api/v2/flows/datatables`.
pub const DATATABLE_ADD: &str = "architect:datatable:add";
/// `GET …/rows` and `GET …/rows/{key}`.
pub const ROW_VIEW: &str = "architect:datatableRow:view";
/// `POST …/rows`.
pub const ROW_ADD: &str = "architect:datatableRow:add";
/// `PUT …/rows/{key}`.
pub const ROW_EDIT: &str = "architect:datatableRow:edit";
/// `DELETE …/rows/{key}`.
pub const ROW_DELETE: &str = "architect:datatableRow:delete";
/// `POST /api/v2/scripts/published`.
pub const SCRIPT_PUBLISH: &str = "scripter:publishedScript:add";

/// Ok when `principal` holds `needed`; else the 403 that names it.
pub(crate) fn require(
    config: &SimConfig,
    principal: &str,
    needed: &str,
) -> Result<(), GenesysError> {
    let granted = config
        .genesys_permissions
        .as_ref()
        .and_then(|clients| clients.get(principal));
    match granted {
        Some(granted) if !granted.iter().any(|p| p == needed) => Err(GenesysError::new(
            403,
            GENESYS_MISSING_PERMISSIONS_CODE,
            format!("You are missing the following permission(s): [{needed}]"),
        )),
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
        assert!(require(&open, "acme", ROW_ADD).is_ok());
        let config = SimConfig {
            genesys_permissions: Some(HashMap::from([(
                "acme".to_owned(),
                vec![ROW_VIEW.to_owned()],
            )])),
            ..SimConfig::default()
        };
        assert!(require(&config, "acme", ROW_VIEW).is_ok());
        let refused = require(&config, "acme", ROW_ADD).unwrap_err();
        assert_eq!((refused.status, refused.code), (403, "missing.permissions"));
        assert!(refused.message.contains("[architect:datatableRow:add]"));
        assert!(require(&config, "other", ROW_ADD).is_ok());
    }
}
