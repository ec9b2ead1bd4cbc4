//! [`SimConfig`]: how the simulator's quotas, tokens and credentials behave.
//!
//! Defaults mirror the real services (300 requests per minute per Genesys client, 24 h Genesys
//! tokens, 30 min ServiceNow tokens, no ServiceNow rate-limit rule). Tests shrink the windows.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Simulator settings. Every field has a default, so `{}` (or `SimConfig::default()`) is a
/// working simulator that accepts any credentials.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Genesys quota per principal (client id) and window: 300 is Genesys's documented
    /// `client.credentials.token.rate.per.minute`.
    pub genesys_requests_per_minute: u32,
    /// Length of a Genesys quota window. Windows are fixed and aligned to the simulator's start,
    /// like Genesys's per-minute counters; tests shrink it to seconds.
    #[serde(with = "humantime_serde")]
    pub genesys_window: Duration,
    /// ServiceNow rate-limit rule per principal (user or OAuth client) and "hour"; `None` means
    /// no rule matches (no 429s, no `X-RateLimit-*` headers), the ServiceNow default.
    pub servicenow_requests_per_hour: Option<u32>,
    /// How much faster than real time the ServiceNow hour runs: 60.0 makes the hour last 60 s.
    pub servicenow_time_factor: f64,
    /// `expires_in` of Genesys access tokens (Genesys default: 24 h).
    #[serde(with = "humantime_serde")]
    pub genesys_token_lifetime: Duration,
    /// `expires_in` of ServiceNow access tokens (ServiceNow default: 1800 s).
    #[serde(with = "humantime_serde")]
    pub servicenow_token_lifetime: Duration,
    /// Accepted credentials: client id or username → secret or password. `None` accepts any
    /// credentials (handy for demos); `Some` checks logins and basic auth against it.
    pub clients: Option<HashMap<String, String>>,
    /// Emulate the integrator's transform script: a ServiceNow record whose `u_version` is lower
    /// than the held one is answered `skipped` and not applied.
    pub servicenow_skip_older: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            genesys_requests_per_minute: 300,
            genesys_window: Duration::from_secs(60),
            servicenow_requests_per_hour: None,
            servicenow_time_factor: 1.0,
            genesys_token_lifetime: Duration::from_secs(86_400),
            servicenow_token_lifetime: Duration::from_secs(1_800),
            clients: None,
            servicenow_skip_older: true,
        }
    }
}

impl SimConfig {
    /// Rejects settings the simulator cannot run with.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.genesys_window.is_zero(),
            "sim: genesys_window must be > 0"
        );
        anyhow::ensure!(
            self.servicenow_time_factor.is_finite() && self.servicenow_time_factor > 0.0,
            "sim: servicenow_time_factor must be a positive number, got {}",
            self.servicenow_time_factor
        );
        anyhow::ensure!(
            !self.servicenow_window().is_zero(),
            "sim: servicenow_time_factor {} makes the hour shorter than a nanosecond",
            self.servicenow_time_factor
        );
        Ok(())
    }

    /// Length of one ServiceNow rate-limit window: an hour divided by the time factor.
    pub fn servicenow_window(&self) -> Duration {
        Duration::try_from_secs_f64(3600.0 / self.servicenow_time_factor).unwrap_or(Duration::ZERO)
    }

    /// Whether `id` may log in (or use basic auth) with `secret`.
    pub(crate) fn accepts(&self, id: &str, secret: &str) -> bool {
        match &self.clients {
            None => true,
            Some(clients) => clients.get(id).is_some_and(|known| known == secret),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_document_gives_defaults() {
        let config: SimConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config.genesys_requests_per_minute, 300);
        assert_eq!(config.genesys_window, Duration::from_secs(60));
        assert!(config.servicenow_skip_older);
        config.validate().unwrap();
    }

    #[test]
    fn durations_are_human_readable_and_factor_scales_the_hour() {
        let config: SimConfig = serde_json::from_str(
            r#"{"genesys_window":"2s","servicenow_time_factor":60.0,"servicenow_requests_per_hour":5}"#,
        )
        .unwrap();
        assert_eq!(config.genesys_window, Duration::from_secs(2));
        assert_eq!(config.servicenow_window(), Duration::from_secs(60));
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let zero = SimConfig {
            genesys_window: Duration::ZERO,
            ..SimConfig::default()
        };
        assert!(zero.validate().is_err());
        let negative = SimConfig {
            servicenow_time_factor: -1.0,
            ..SimConfig::default()
        };
        assert!(negative.validate().is_err());
        assert!(serde_json::from_str::<SimConfig>(r#"{"nope":1}"#).is_err());
    }

    #[test]
    fn credentials_are_checked_only_when_configured() {
        let open = SimConfig::default();
        assert!(open.accepts("anyone", "anything"));
        let closed = SimConfig {
            clients: Some(HashMap::from([("a".to_string(), "s".to_string())])),
            ..SimConfig::default()
        };
        assert!(closed.accepts("a", "s"));
        assert!(!closed.accepts("a", "wrong"));
        assert!(!closed.accepts("b", "s"));
    }
}
