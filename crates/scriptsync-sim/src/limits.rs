//! Genesys org limits: `GET /api/v2/organizations/limits/namespaces/{namespace}`, what a
//! client reads to learn its real quota instead of assuming 300.
//!
//! [`GENESYS_LIMITS_NAMESPACE`] lists [`GENESYS_RATE_LIMIT_KEY`] with the configured
//! `genesys_requests_per_minute` (the quota per window the simulator enforces), beside other
//! keys of that namespace at Genesys's documented defaults. Any other namespace is 404. The
//! call goes through auth and admission like every Genesys API call (it counts against the
//! quota and can be 429'd); the `limits_refused` fault answers it 403 `missing.permissions`
//! after admission.

use serde_json::{Value, json};

use super::codes::{
    GENESYS_LIMITS_NAMESPACE, GENESYS_MISSING_PERMISSIONS_CODE, GENESYS_RATE_LIMIT_KEY,
    GenesysError, NOT_FOUND,
};

/// The permission the `limits_refused` fault says is missing.
const LIMITS_PERMISSION: &str = "organization:limit:view";

/// The other keys of the namespace, at Genesys's documented defaults.
const OTHER_KEYS: [(&str, u64); 3] = [
    ("org.app.user.rate.per.minute", 3_000),
    ("request.bytes.max", 512_000),
    ("token.rate.per.minute", 300),
];

/// Genesys's default `pageSize` for entity listings.
const PAGE_SIZE: usize = 25;

/// The answer for `namespace`, given the configured quota and whether the fault refuses it.
pub(crate) fn namespace_limits(
    namespace: &str,
    requests_per_window: u32,
    refused: bool,
) -> Result<Value, GenesysError> {
    if refused {
        return Err(GenesysError::new(
            403,
            GENESYS_MISSING_PERMISSIONS_CODE,
            format!("You are missing the following permission(s): [{LIMITS_PERMISSION}]"),
        ));
    }
    if namespace != GENESYS_LIMITS_NAMESPACE {
        return Err(GenesysError::new(
            404,
            NOT_FOUND,
            format!("The limits namespace '{namespace}' was not found"),
        ));
    }
    let rate = (GENESYS_RATE_LIMIT_KEY, u64::from(requests_per_window));
    let entities: Vec<Value> = std::iter::once(rate)
        .chain(OTHER_KEYS)
        .map(|(key, value)| json!({"key": key, "value": value}))
        .collect();
    let total = entities.len();
    Ok(json!({
        "entities": entities,
        "pageSize": PAGE_SIZE,
        "pageNumber": 1,
        "total": total,
        "pageCount": 1,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_lists_the_configured_quota() {
        let body = namespace_limits(GENESYS_LIMITS_NAMESPACE, 7, false).unwrap();
        assert_eq!(
            body["entities"][0],
            json!({"key": "client.credentials.token.rate.per.minute", "value": 7})
        );
        assert_eq!(
            (body["total"].clone(), body["pageCount"].clone()),
            (json!(4), json!(1))
        );
    }

    #[test]
    fn unknown_namespaces_and_the_fault_are_refused() {
        let missing = namespace_limits("nope", 7, false).unwrap_err();
        assert_eq!((missing.status, missing.code), (404, "not.found"));
        let refused = namespace_limits(GENESYS_LIMITS_NAMESPACE, 7, true).unwrap_err();
        assert_eq!((refused.status, refused.code), (403, "missing.permissions"));
        assert!(
            refused
                .message
                .starts_with("You are missing the following permission(s): ")
        );
    }
}
