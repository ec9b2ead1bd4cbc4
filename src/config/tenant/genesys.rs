//! `[tenants.genesys]`: one Genesys Cloud org (its region or base URLs, OAuth client, data
//! table, quota and the data table's row limit), its defaults and its validation.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::{is_http, require, require_pacing};
use crate::config::ConfigError;
use crate::config::secret::Secret;

/// A Genesys Cloud org.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(
    try_from = "crate::config::file_shape::GenesysFile",
    into = "crate::config::file_shape::GenesysFile"
)]
pub struct GenesysSettings {
    /// Region domain, e.g. `mypurecloud.com` or `mypurecloud.de`.
    pub region: Option<String>,
    /// Overrides `https://api.<region>` (tests point this at the simulator).
    pub api_base: Option<Url>,
    /// Overrides `https://login.<region>`.
    pub login_base: Option<Url>,
    pub client_id: String,
    /// `client_secret_env` or `client_secret_file` in the file.
    pub client_secret: Secret,
    /// The Architect data table holding one row per script.
    pub datatable_id: String,
    /// The org's quota for this OAuth client (Genesys documents 300), per `window`.
    pub requests_per_minute: u32,
    /// The window `requests_per_minute` counts in: a minute at Genesys. Only a rehearsal
    /// against a simulator with scaled windows (`scriptsync sim`, the tests) changes it; the
    /// gate's rate and its AIMD recovery step both follow it.
    pub window: Duration,
    /// Fraction of the quota we use, leaving room for clock skew and other callers.
    pub headroom: f64,
    /// Also `POST /api/v2/scripts/published` when a change has `genesys_version_id`.
    pub publish_scripts: bool,
    /// Requests in flight at once for this tenant.
    pub max_concurrency: usize,
    /// Rows the data table may hold: 5,000 unless Genesys Customer Care raised the table's
    /// limit. A full table dead-letters new scripts as `datatable_full`; a warning is logged at
    /// 90 %, and `scriptsync_datatable_rows` lets an alert fire there.
    pub max_rows: usize,
    /// The org-limits namespace holding `client.credentials.token.rate.per.minute`, read at
    /// lane start and hourly (`GET /api/v2/organizations/limits/namespaces/{namespace}`).
    pub limits_namespace: String,
}

impl GenesysSettings {
    /// `https://api.<region>` or the `api_base` override.
    pub fn api_base(&self) -> Url {
        self.api_base
            .clone()
            .unwrap_or_else(|| region_url("api", self.region.as_deref()))
    }

    /// `https://login.<region>` or the `login_base` override.
    pub fn login_base(&self) -> Url {
        self.login_base
            .clone()
            .unwrap_or_else(|| region_url("login", self.region.as_deref()))
    }

    pub(super) fn validate(&self, id: &str) -> Result<(), ConfigError> {
        let has_bases = self.api_base.is_some() && self.login_base.is_some();
        require(
            self.region.is_some() || has_bases,
            id,
            "genesys needs `region` (e.g. \"mypurecloud.com\") or both `api_base` and `login_base`",
        )?;
        require(
            self.region.as_deref().is_none_or(is_domain),
            id,
            "genesys.region must be a domain like mypurecloud.com",
        )?;
        for (key, url) in [
            ("api_base", &self.api_base),
            ("login_base", &self.login_base),
        ] {
            if let Some(url) = url {
                require(
                    is_http(url),
                    id,
                    &format!("genesys.{key} must be an http(s) URL"),
                )?;
            }
        }
        require(!self.client_id.is_empty(), id, "genesys.client_id is empty")?;
        require(
            self.client_secret.value().is_some(),
            id,
            "genesys.client_secret (client_secret_env or client_secret_file) has not been read",
        )?;
        require(
            !self.datatable_id.is_empty(),
            id,
            "genesys.datatable_id is empty",
        )?;
        require(
            self.requests_per_minute > 0,
            id,
            "genesys.requests_per_minute must be > 0",
        )?;
        require_pacing(
            id,
            "genesys",
            self.window,
            self.headroom,
            self.max_concurrency,
        )?;
        require(self.max_rows > 0, id, "genesys.max_rows must be > 0")?;
        require(
            !self.limits_namespace.is_empty()
                && self
                    .limits_namespace
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')),
            id,
            "genesys.limits_namespace must be a namespace name like platform.api",
        )
    }
}

/// True for a DNS name such as `mypurecloud.com`: dot-separated non-empty labels of ASCII
/// letters, digits and `-`. Anything else (a space, `?`, `@`, …) would make `region_url`
/// fall back to an unusable URL instead of failing here.
fn is_domain(name: &str) -> bool {
    name.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

fn region_url(host: &str, region: Option<&str>) -> Url {
    let region = region.unwrap_or("mypurecloud.com");
    Url::parse(&format!("https://{host}.{region}"))
        .unwrap_or_else(|_| Url::parse("https://invalid.invalid").expect("static URL parses"))
}

pub(crate) fn default_rpm() -> u32 {
    300
}
/// Genesys counts its quota per minute.
const DEFAULT_GENESYS_WINDOW: Duration = Duration::from_secs(60);
pub(crate) fn default_genesys_window() -> Duration {
    DEFAULT_GENESYS_WINDOW
}
/// Rows a Genesys data table holds unless Genesys raised its limit (docs/genesys.md §7).
pub const DEFAULT_MAX_ROWS: usize = 5_000;
/// The org-limits namespace read for the client's rate limit, unless configured: the limits
/// page lists the key under "Platform API" (docs/genesys.md §8).
pub const DEFAULT_LIMITS_NAMESPACE: &str = "platform.api";
pub(crate) fn default_max_rows() -> usize {
    DEFAULT_MAX_ROWS
}
pub(crate) fn default_limits_namespace() -> String {
    DEFAULT_LIMITS_NAMESPACE.to_owned()
}
