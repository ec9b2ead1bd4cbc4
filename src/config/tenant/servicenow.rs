//! `[tenants.servicenow]`: one ServiceNow instance receiving Import Set records (its URL, how
//! scriptsync authenticates, the staging table, the send mode and the rate-limit rule), its
//! defaults and its validation.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::{is_http, require, require_pacing};
use crate::config::ConfigError;
use crate::config::secret::Secret;

/// A ServiceNow instance receiving Import Set records.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(
    try_from = "crate::config::file_shape::ServiceNowFile",
    into = "crate::config::file_shape::ServiceNowFile"
)]
pub struct ServiceNowSettings {
    /// `https://<instance>.service-now.com`.
    pub instance_url: Url,
    pub auth: ServiceNowAuth,
    pub client_id: Option<String>,
    /// `client_secret_env` or `client_secret_file` in the file (OAuth kinds).
    pub client_secret: Option<Secret>,
    pub username: Option<String>,
    /// `password_env` or `password_file` in the file (password grant and basic auth).
    pub password: Option<Secret>,
    /// Import Set staging table, e.g. `u_scriptsync_import`.
    pub staging_table: String,
    pub mode: ServiceNowMode,
    /// The instance's rate-limit rule for our user, if any (requests per hour, per `window`).
    pub requests_per_hour: Option<u32>,
    /// The window rate-limit rules count in: an hour at ServiceNow (`requests_per_hour` and a
    /// reported `X-RateLimit-Limit` are per window). Only a rehearsal against a simulator with
    /// a scaled hour changes it.
    pub window: Duration,
    pub headroom: f64,
    pub max_concurrency: usize,
}

impl ServiceNowSettings {
    pub(super) fn validate(&self, id: &str) -> Result<(), ConfigError> {
        require(
            is_http(&self.instance_url),
            id,
            "servicenow.instance_url must be an http(s) URL",
        )?;
        let oauth = matches!(
            self.auth,
            ServiceNowAuth::OauthClientCredentials | ServiceNowAuth::OauthPassword
        );
        if oauth {
            require(
                self.client_id.as_deref().is_some_and(|c| !c.is_empty()),
                id,
                "servicenow OAuth needs client_id",
            )?;
            require(
                self.client_secret
                    .as_ref()
                    .is_some_and(|s| s.value().is_some()),
                id,
                "servicenow OAuth needs client_secret_env or client_secret_file",
            )?;
        }
        if matches!(
            self.auth,
            ServiceNowAuth::OauthPassword | ServiceNowAuth::Basic
        ) {
            require(
                self.username.as_deref().is_some_and(|u| !u.is_empty()),
                id,
                "servicenow needs username for this auth kind",
            )?;
            require(
                self.password.as_ref().is_some_and(|p| p.value().is_some()),
                id,
                "servicenow needs password_env or password_file for this auth kind",
            )?;
        }
        let table_ok = !self.staging_table.is_empty()
            && self
                .staging_table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        require(
            table_ok,
            id,
            "servicenow.staging_table must be a table name like u_scriptsync_import",
        )?;
        require(
            self.requests_per_hour != Some(0),
            id,
            "servicenow.requests_per_hour must be > 0",
        )?;
        require_pacing(
            id,
            "servicenow",
            self.window,
            self.headroom,
            self.max_concurrency,
        )
    }
}

/// How scriptsync authenticates to ServiceNow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceNowAuth {
    OauthClientCredentials,
    OauthPassword,
    Basic,
}

/// How records are sent to ServiceNow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceNowMode {
    /// One Batch API call per request the lane sends (up to `batch.max_changes` records);
    /// each record judged on its own.
    #[default]
    Batch,
    /// `insertMultiple`: fastest, no per-record outcome.
    InsertMultiple,
}

/// ServiceNow's rate-limit rules count per hour.
const DEFAULT_SERVICENOW_WINDOW: Duration = Duration::from_secs(3600);
pub(crate) fn default_servicenow_window() -> Duration {
    DEFAULT_SERVICENOW_WINDOW
}
