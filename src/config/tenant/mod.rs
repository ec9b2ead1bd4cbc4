//! Per-tenant settings (`[[tenants]]`, or one tenant file): the tenant's id and prefetch, and
//! its targets, a Genesys org ([`genesys`]) and/or a ServiceNow instance ([`servicenow`]);
//! their secrets, and the checks both targets share (URLs, the quota window and pacing).

mod genesys;
mod servicenow;

pub use genesys::{DEFAULT_LIMITS_NAMESPACE, DEFAULT_MAX_ROWS, GenesysSettings};
pub(crate) use genesys::{
    default_genesys_window, default_limits_namespace, default_max_rows, default_rpm,
};
pub(crate) use servicenow::default_servicenow_window;
pub use servicenow::{ServiceNowAuth, ServiceNowMode, ServiceNowSettings};

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

fn require(ok: bool, tenant: &str, message: &str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(invalid(format!("tenant {tenant}: {message}")))
    }
}

/// Shorter quota windows than this make the gate's arithmetic meaningless.
const MIN_WINDOW: Duration = Duration::from_secs(1);
/// No real quota window is longer than an hour.
const MAX_WINDOW: Duration = Duration::from_secs(3600);

/// The pacing every target section has, checked the same way: its quota `window`, the
/// `headroom` share of the quota used, and `max_concurrency` requests in flight. `section`
/// (`genesys`, `servicenow`) names the keys in the messages.
fn require_pacing(
    tenant: &str,
    section: &str,
    window: Duration,
    headroom: f64,
    max_concurrency: usize,
) -> Result<(), ConfigError> {
    require(
        (MIN_WINDOW..=MAX_WINDOW).contains(&window),
        tenant,
        &format!("{section}.window must be between 1s and 1h"),
    )?;
    require(
        headroom > 0.0 && headroom <= 1.0,
        tenant,
        &format!("{section}.headroom must be in (0, 1]"),
    )?;
    require(
        max_concurrency > 0,
        tenant,
        &format!("{section}.max_concurrency must be > 0"),
    )
}

/// An `http` or `https` URL: one that request paths can be appended to.
fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base()
}

pub(crate) fn default_headroom() -> f64 {
    0.9
}
pub(crate) fn default_concurrency() -> usize {
    4
}
