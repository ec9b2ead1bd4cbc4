//! [`SimConfig`]: how the simulator's quotas, tokens and credentials behave.
//!
//! Defaults mirror the real services (300 requests per minute per Genesys client, 24 h Genesys
//! tokens, 30 min ServiceNow tokens, no ServiceNow rate-limit rule, no Genesys daily limit,
//! 5000 rows per data table, 409 for a duplicate row). Tests shrink the windows.
//!
//! [`SimConfig::validate`] rejects: a zero `genesys_window` or `genesys_day`, a non-positive
//! `servicenow_time_factor`, and a `genesys_duplicate_row_status` other than 400 or 409.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::table_defs::DataTableSpec;

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
    #[serde(with = "crate::duration_text")]
    pub genesys_window: Duration,
    /// ServiceNow rate-limit rule per principal (user or OAuth client) and "hour"; `None` means
    /// no rule matches (no 429s, no `X-RateLimit-*` headers), the ServiceNow default.
    pub servicenow_requests_per_hour: Option<u32>,
    /// How much faster than real time the ServiceNow hour runs: 60.0 makes the hour last 60 s.
    pub servicenow_time_factor: f64,
    /// `expires_in` of Genesys access tokens (Genesys default: 24 h).
    #[serde(with = "crate::duration_text")]
    pub genesys_token_lifetime: Duration,
    /// `expires_in` of ServiceNow access tokens (ServiceNow default: 1800 s).
    #[serde(with = "crate::duration_text")]
    pub servicenow_token_lifetime: Duration,
    /// Accepted credentials: client id or username → secret or password. `None` accepts any
    /// credentials (handy for demos); `Some` checks logins and basic auth against it.
    pub clients: Option<HashMap<String, String>>,
    /// Emulate the integrator's transform script: a ServiceNow record whose `u_version` is lower
    /// than the held one is answered `skipped` and not applied.
    pub servicenow_skip_older: bool,
    /// A second, long Genesys limit per principal: admitted API requests per `genesys_day`
    /// (fixed windows aligned to the simulator's start, like `genesys_window`). Over it: 429
    /// with `Retry-After` = the seconds until that day-window ends. `None` (the default): no
    /// such limit.
    pub genesys_daily_limit: Option<u32>,
    /// Length of the `genesys_daily_limit` window (default 24 h; tests shrink it).
    #[serde(with = "crate::duration_text")]
    pub genesys_day: Duration,
    /// Rows a data table holds at most, per principal: a `POST …/rows` that would create one
    /// more is refused with [`crate::GENESYS_MAX_ROWS_STATUS`] /
    /// [`crate::GENESYS_MAX_ROWS_CODE`]. `PUT` of an existing row still works. 0 refuses every
    /// new row.
    pub genesys_max_rows_per_table: usize,
    /// Status of a `POST …/rows` whose key already exists: 409 (default) or 400, both with code
    /// [`crate::GENESYS_ROW_EXISTS_CODE`].
    pub genesys_duplicate_row_status: u16,
    /// A request arriving inside a pause within this long of the 429 that announced it was
    /// already on its way when the client was told (a client with several requests in flight
    /// cannot take them back): refused the same, counted in `in_flight_at_pause`, not in
    /// `violations`. Later arrivals are violations.
    #[serde(with = "crate::duration_text")]
    pub in_flight_grace: Duration,
    /// The org's data tables, id → name and schema. `None` (the default): any id names a
    /// table with the scriptsync schema; `Some`: only these (and the ones created through
    /// the API) exist, and rows are checked against their schema ([`crate::table_defs`]).
    pub genesys_datatables: Option<HashMap<String, DataTableSpec>>,
    /// The permissions of OAuth clients, client id → permission names. `None` (the default),
    /// or a client not listed: every permission ([`crate::permissions`]).
    pub genesys_permissions: Option<HashMap<String, Vec<String>>>,
    /// The Import Set staging tables the instance has. `None` (the default): any name is one.
    pub servicenow_staging_tables: Option<Vec<String>>,
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
            genesys_daily_limit: None,
            genesys_day: Duration::from_secs(86_400),
            genesys_max_rows_per_table: 5_000,
            genesys_duplicate_row_status: 409,
            in_flight_grace: Duration::from_millis(100),
            genesys_datatables: None,
            genesys_permissions: None,
            servicenow_staging_tables: None,
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
        anyhow::ensure!(!self.genesys_day.is_zero(), "sim: genesys_day must be > 0");
        anyhow::ensure!(
            matches!(self.genesys_duplicate_row_status, 400 | 409),
            "sim: genesys_duplicate_row_status must be 400 or 409, got {}",
            self.genesys_duplicate_row_status
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

    /// Whether the instance has the staging table `table`.
    pub(crate) fn has_staging_table(&self, table: &str) -> bool {
        self.servicenow_staging_tables
            .as_ref()
            .is_none_or(|tables| tables.iter().any(|t| t == table))
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
        assert_eq!(config.genesys_daily_limit, None);
        assert_eq!(config.genesys_day, Duration::from_secs(86_400));
        assert_eq!(config.genesys_max_rows_per_table, 5_000);
        assert_eq!(config.genesys_duplicate_row_status, 409);
        config.validate().unwrap();
    }

    #[test]
    fn durations_are_human_readable_and_factor_scales_the_hour() {
        let config: SimConfig = serde_json::from_str(
            r#"{"genesys_window":"2s","servicenow_time_factor":60.0,"servicenow_requests_per_hour":5,
                "genesys_daily_limit":100,"genesys_day":"10m"}"#,
        )
        .unwrap();
        assert_eq!(config.genesys_window, Duration::from_secs(2));
        assert_eq!(config.genesys_daily_limit, Some(100));
        assert_eq!(config.genesys_day, Duration::from_secs(600));
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
        let no_day = SimConfig {
            genesys_day: Duration::ZERO,
            ..SimConfig::default()
        };
        assert!(no_day.validate().is_err());
        for (status, ok) in [(400, true), (409, true), (418, false), (200, false)] {
            let config = SimConfig {
                genesys_duplicate_row_status: status,
                ..SimConfig::default()
            };
            assert_eq!(config.validate().is_ok(), ok, "{status}");
        }
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
