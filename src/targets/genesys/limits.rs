//! The org's own limits (DESIGN §5.1, "learning the real quota"): `GET
//! /api/v2/organizations/limits/namespaces/{namespace}` answers `entities: [{key, value}]`;
//! the value of `client.credentials.token.rate.per.minute` is the quota of our OAuth client.
//! Read when a lane first starts and once an hour after: the gate never goes above it × headroom,
//! and a configured `requests_per_minute` that disagrees is logged. The read is one request
//! (no retries): a refused or failed read changes nothing, the configured quota stays.

use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;
use tokio::time::Instant;

use super::GenesysTarget;
use crate::push::{Judged, endpoint};

/// The namespace holding the API rate limits of OAuth clients, unless
/// `genesys.limits_namespace` says otherwise: the limits page lists the key under "Platform
/// API"; the namespace's exact name is not in what we could check (`docs/genesys.md`).
pub use crate::config::DEFAULT_LIMITS_NAMESPACE as DEFAULT_NAMESPACE;
/// The key of the per-client rate limit (requests per minute).
pub const CLIENT_RATE_KEY: &str = "client.credentials.token.rate.per.minute";
/// How often the limits are read again.
pub const REREAD_AFTER: Duration = Duration::from_secs(3600);

/// The configured quota, where to read the org's, and when it was last read.
#[derive(Debug)]
pub(super) struct OrgLimits {
    configured: u32,
    namespace: String,
    read_at: Mutex<Option<Instant>>,
}

impl OrgLimits {
    pub(super) fn new(configured: u32, namespace: &str) -> Self {
        Self {
            configured,
            namespace: namespace.to_owned(),
            read_at: Mutex::new(None),
        }
    }

    /// True when an hour has passed since the last read (or none was made).
    pub(super) fn due(&self) -> bool {
        self.read_at
            .lock()
            .is_none_or(|at| at.elapsed() >= REREAD_AFTER)
    }

    fn mark_read(&self) {
        *self.read_at.lock() = Some(Instant::now());
    }
}

/// The per-client rate limit in a limits answer, if it is there and a positive number.
pub fn client_rate(body: &Value) -> Option<u32> {
    body.get("entities")?
        .as_array()?
        .iter()
        .find(|e| e.get("key").and_then(Value::as_str) == Some(CLIENT_RATE_KEY))?
        .get("value")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_f64().filter(|f| *f >= 1.0).map(|f| f as u64))
        })
        .and_then(|v| u32::try_from(v).ok())
        .filter(|v| *v > 0)
}

impl GenesysTarget {
    /// Reads the org's per-client limit once and caps the gate by it.
    pub(super) async fn read_org_limits(&self) {
        self.limits.mark_read();
        let namespace = self.limits.namespace.as_str();
        let path = [
            "api",
            "v2",
            "organizations",
            "limits",
            "namespaces",
            namespace,
        ];
        let Some(url) = endpoint(&self.api_base, &path) else {
            return;
        };
        const WHAT: &str = "GET org limits";
        let answer = match self.client.admit(WHAT).await {
            Ok(permit) => {
                self.client
                    .attempt_admitted(permit, 1, WHAT, |http| http.get(url.clone()), Judged::Done)
                    .await
            }
            Err(e) => Err(e),
        };
        let configured = self.limits.configured;
        let limit = match answer {
            Ok(reply) => reply.json().as_ref().and_then(client_rate),
            Err(e) => {
                tracing::info!(
                    tenant = %self.tenant, status = e.status, error = %e.message,
                    "cannot read the org's API limits (the OAuth client may lack the permission); \
                     keeping genesys.requests_per_minute = {configured}"
                );
                return;
            }
        };
        let Some(limit) = limit else {
            tracing::info!(
                tenant = %self.tenant,
                "the org's limits do not list {CLIENT_RATE_KEY}; keeping genesys.requests_per_minute = {configured}"
            );
            return;
        };
        self.client.gate().observe_limit(limit);
        if limit < configured {
            tracing::warn!(
                tenant = %self.tenant, org_limit = limit, configured,
                "genesys.requests_per_minute is more than the org allows this OAuth client; \
                 the gate uses the org's limit"
            );
        } else if limit > configured {
            tracing::info!(
                tenant = %self.tenant, org_limit = limit, configured,
                "the org allows more than genesys.requests_per_minute; the gate keeps the configured quota"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_client_rate_is_read_from_the_entities() {
        let body = json!({"entities": [
            {"key": "other.limit", "value": 5},
            {"key": CLIENT_RATE_KEY, "value": 300},
        ]});
        assert_eq!(client_rate(&body), Some(300));
        assert_eq!(
            client_rate(&json!({"entities": [{"key": CLIENT_RATE_KEY, "value": 120.0}]})),
            Some(120)
        );
        for nonsense in [
            json!({"entities": [{"key": CLIENT_RATE_KEY, "value": 0}]}),
            json!({"entities": [{"key": CLIENT_RATE_KEY, "value": -3}]}),
            json!({"entities": [{"key": CLIENT_RATE_KEY, "value": "300"}]}),
            json!({"entities": [{"key": CLIENT_RATE_KEY}]}),
            json!({"entities": [{"key": "other", "value": 300}]}),
            json!({"entities": {}}),
            json!("html"),
        ] {
            assert_eq!(client_rate(&nonsense), None, "{nonsense}");
        }
    }
}
