//! Per-tenant settings: one Genesys org and (optionally) one ServiceNow instance per tenant.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::secret::Secret;
use super::{ConfigError, invalid};

/// True for ids matching `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$` (DESIGN §3).
pub fn is_valid_tenant_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// One tenant: its queue, consumer and targets.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// The tenant id: the routing key and the `tenant` field of its messages.
    pub id: String,
    /// Overrides `broker.prefetch` for this tenant's consumer.
    pub prefetch: Option<u16>,
    pub genesys: Option<GenesysSettings>,
    pub servicenow: Option<ServiceNowSettings>,
}

impl TenantSettings {
    pub(crate) fn resolve_secrets(
        &mut self,
        env: Option<&HashMap<String, String>>,
    ) -> Result<(), ConfigError> {
        let id = self.id.clone();
        if let Some(g) = &mut self.genesys {
            let what = format!("tenants.{id}.genesys.client_secret");
            g.client_secret.resolve(&what, env)?;
        }
        if let Some(s) = &mut self.servicenow {
            if let Some(secret) = &mut s.client_secret {
                secret.resolve(&format!("tenants.{id}.servicenow.client_secret"), env)?;
            }
            if let Some(password) = &mut s.password {
                password.resolve(&format!("tenants.{id}.servicenow.password"), env)?;
            }
        }
        Ok(())
    }

    /// Makes relative `*_file` secret paths relative to `base` (the tenant file's directory).
    pub(crate) fn anchor_secret_files(&mut self, base: &std::path::Path) {
        if let Some(g) = &mut self.genesys {
            g.client_secret.anchor(base);
        }
        if let Some(s) = &mut self.servicenow {
            for secret in [&mut s.client_secret, &mut s.password]
                .into_iter()
                .flatten()
            {
                secret.anchor(base);
            }
        }
    }

    /// Every secret value this tenant holds (resolved), for telling a rotation apart.
    pub(crate) fn secret_values(&self) -> Vec<&super::SecretString> {
        let genesys = self.genesys.iter().map(|g| &g.client_secret);
        let servicenow = self
            .servicenow
            .iter()
            .flat_map(|s| s.client_secret.iter().chain(s.password.iter()));
        genesys
            .chain(servicenow)
            .filter_map(Secret::value)
            .collect()
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let id = &self.id;
        if !is_valid_tenant_id(id) {
            return Err(invalid(format!(
                "tenant id {id:?} must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$"
            )));
        }
        // AMQP reads a prefetch of 0 as "unlimited", the opposite of what a 0 here would mean.
        if self.prefetch == Some(0) {
            return Err(invalid(format!("tenant {id}: prefetch must be at least 1")));
        }
        if self.genesys.is_none() && self.servicenow.is_none() {
            return Err(invalid(format!(
                "tenant {id}: configure [tenants.genesys] and/or [tenants.servicenow]"
            )));
        }
        if let Some(g) = &self.genesys {
            g.validate(id)?;
        }
        if let Some(s) = &self.servicenow {
            s.validate(id)?;
        }
        Ok(())
    }
}

/// A Genesys Cloud org.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(
    try_from = "super::file_shape::GenesysFile",
    into = "super::file_shape::GenesysFile"
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

    fn validate(&self, id: &str) -> Result<(), ConfigError> {
        let has_bases = self.api_base.is_some() && self.login_base.is_some();
        if self.region.is_none() && !has_bases {
            return Err(invalid(format!(
                "tenant {id}: genesys needs `region` (e.g. \"mypurecloud.com\") or both `api_base` and `login_base`"
            )));
        }
        if let Some(region) = &self.region
            && !is_domain(region)
        {
            return Err(invalid(format!(
                "tenant {id}: genesys.region must be a domain like mypurecloud.com"
            )));
        }
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
        require(
            self.window >= MIN_GENESYS_WINDOW && self.window <= MAX_GENESYS_WINDOW,
            id,
            "genesys.window must be between 1s and 1h",
        )?;
        require(
            self.headroom > 0.0 && self.headroom <= 1.0,
            id,
            "genesys.headroom must be in (0, 1]",
        )?;
        require(
            self.max_concurrency > 0,
            id,
            "genesys.max_concurrency must be > 0",
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

/// A ServiceNow instance receiving Import Set records.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(
    try_from = "super::file_shape::ServiceNowFile",
    into = "super::file_shape::ServiceNowFile"
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
    fn validate(&self, id: &str) -> Result<(), ConfigError> {
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
        require(
            self.window >= MIN_GENESYS_WINDOW && self.window <= DEFAULT_SERVICENOW_WINDOW,
            id,
            "servicenow.window must be between 1s and 1h",
        )?;
        require(
            self.headroom > 0.0 && self.headroom <= 1.0,
            id,
            "servicenow.headroom must be in (0, 1]",
        )?;
        require(
            self.max_concurrency > 0,
            id,
            "servicenow.max_concurrency must be > 0",
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

fn require(ok: bool, tenant: &str, message: &str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(invalid(format!("tenant {tenant}: {message}")))
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

/// An `http` or `https` URL: one that request paths can be appended to.
fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base()
}

fn region_url(host: &str, region: Option<&str>) -> Url {
    let region = region.unwrap_or("mypurecloud.com");
    Url::parse(&format!("https://{host}.{region}"))
        .unwrap_or_else(|_| Url::parse("https://invalid.invalid").expect("static URL parses"))
}

pub(super) fn default_rpm() -> u32 {
    300
}
/// Genesys counts its quota per minute.
const DEFAULT_GENESYS_WINDOW: Duration = Duration::from_secs(60);
/// Shorter windows than this make the gate's arithmetic meaningless.
const MIN_GENESYS_WINDOW: Duration = Duration::from_secs(1);
/// No real quota window is longer than an hour.
const MAX_GENESYS_WINDOW: Duration = Duration::from_secs(3600);
pub(super) fn default_genesys_window() -> Duration {
    DEFAULT_GENESYS_WINDOW
}
/// ServiceNow's rate-limit rules count per hour.
const DEFAULT_SERVICENOW_WINDOW: Duration = Duration::from_secs(3600);
pub(super) fn default_servicenow_window() -> Duration {
    DEFAULT_SERVICENOW_WINDOW
}
pub(super) fn default_headroom() -> f64 {
    0.9
}
pub(super) fn default_concurrency() -> usize {
    4
}
/// Rows a Genesys data table holds unless Genesys raised its limit (docs/genesys.md §7).
pub const DEFAULT_MAX_ROWS: usize = 5_000;
/// The org-limits namespace read for the client's rate limit, unless configured: the limits
/// page lists the key under "Platform API" (docs/genesys.md §8).
pub const DEFAULT_LIMITS_NAMESPACE: &str = "platform.api";
pub(super) fn default_max_rows() -> usize {
    DEFAULT_MAX_ROWS
}
pub(super) fn default_limits_namespace() -> String {
    DEFAULT_LIMITS_NAMESPACE.to_owned()
}
