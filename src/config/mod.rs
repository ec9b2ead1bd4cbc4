//! Configuration: the only place files and environment variables are read.
//!
//! One TOML file (`--config`) gives the [`Settings`] tree; every key can be overridden by an
//! environment variable `SCRIPTSYNC__SECTION__KEY` (e.g. `SCRIPTSYNC__BATCH__LINGER=50ms`).
//! Unknown keys are errors. Secrets are never inline: a tenant names them with `*_env` or
//! `*_file` references, which [`Settings::resolve_secrets`] reads into self-redacting
//! [`SecretString`]s.

mod broker;
mod file_shape;
mod replica;
mod secret;
mod sections;
pub mod simulator;
mod telemetry;
mod tenant;
mod tenants_dir;
mod tls;

/// How every `Duration` in the file is read and printed: text such as "30s" or "1h 30m"
/// (`#[serde(with = "crate::config::duration_text")]`). The simulator's configuration writes
/// durations the same way, through this same adapter from its crate.
pub(crate) use scriptsync_sim::duration_text;

pub use broker::{BrokerSettings, QueueType};
pub use replica::{REPLICA_HEADER, ReplicaSettings};
pub use secret::{Secret, SecretSource, SecretString, expose};
pub use sections::{
    AdminSettings, BatchSettings, HttpSettings, LogFormat, LogSettings, RetrySettings,
    ShutdownSettings,
};
pub use telemetry::TelemetrySettings;
pub use tenant::{
    DEFAULT_LIMITS_NAMESPACE, DEFAULT_MAX_ROWS, GenesysSettings, ServiceNowAuth, ServiceNowMode,
    ServiceNowSettings, TenantSettings, is_valid_tenant_id,
};
pub use tenants_dir::{TenantFile, read_tenant_file, scan as scan_tenants_dir};
pub use tls::{CaBundle, is_plaintext_to_remote, plaintext_endpoints, read_ca_file};

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Prefix of environment overrides: `SCRIPTSYNC__BATCH__LINGER` sets `batch.linger`.
pub const ENV_PREFIX: &str = "SCRIPTSYNC";

/// What `to_redacted_toml` prints in place of a password found in a URL.
const REDACTED: &str = "REDACTED";

/// A configuration that cannot be used, with a message that says which key is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not a `source`: the text already holds it, and `{:#}` would print it twice.
    #[error("cannot load configuration: {0}")]
    Load(config::ConfigError),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl From<config::ConfigError> for ConfigError {
    fn from(e: config::ConfigError) -> Self {
        Self::Load(e)
    }
}

/// How often the tenants directory is read again even without a change notice (Kubernetes
/// swaps a symlink to update a mounted Secret, which not every watcher reports).
pub const DEFAULT_TENANTS_RESCAN: Duration = Duration::from_secs(30);

/// The whole configuration tree.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A directory of tenant files (one TOML file per tenant, like one `[[tenants]]` entry),
    /// watched while the worker runs: tenants are added, changed and removed without a
    /// restart. Beside or instead of `[[tenants]]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenants_dir: Option<PathBuf>,
    /// How often `tenants_dir` is read again without a change notice.
    #[serde(
        default = "default_tenants_rescan",
        with = "crate::config::duration_text"
    )]
    pub tenants_rescan: Duration,
    #[serde(default)]
    pub broker: BrokerSettings,
    #[serde(default)]
    pub batch: BatchSettings,
    #[serde(default)]
    pub retry: RetrySettings,
    #[serde(default)]
    pub http: HttpSettings,
    #[serde(default)]
    pub admin: AdminSettings,
    #[serde(default)]
    pub shutdown: ShutdownSettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub telemetry: TelemetrySettings,
    /// Which replica this process is (`X-Scriptsync-Replica`).
    #[serde(default)]
    pub replica: ReplicaSettings,
    /// One entry per Genesys org (tenant); each gets its own queue, consumer and gates.
    #[serde(default)]
    pub tenants: Vec<TenantSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tenants_dir: None,
            tenants_rescan: DEFAULT_TENANTS_RESCAN,
            broker: BrokerSettings::default(),
            batch: BatchSettings::default(),
            retry: RetrySettings::default(),
            http: HttpSettings::default(),
            admin: AdminSettings::default(),
            shutdown: ShutdownSettings::default(),
            log: LogSettings::default(),
            telemetry: TelemetrySettings::default(),
            replica: ReplicaSettings::default(),
            tenants: Vec::new(),
        }
    }
}

fn default_tenants_rescan() -> Duration {
    DEFAULT_TENANTS_RESCAN
}

impl Settings {
    /// Loads `path` (TOML) and applies `SCRIPTSYNC__…` overrides from the process environment,
    /// then resolves secret references and validates the result.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with_env(path, None)
    }

    /// Like [`Settings::load`], with the environment given explicitly (`None` = the process's).
    /// The same environment serves the `SCRIPTSYNC__…` overrides and the `*_env` secrets.
    pub fn load_with_env(
        path: &Path,
        env: Option<HashMap<String, String>>,
    ) -> Result<Self, ConfigError> {
        let mut settings: Settings = Self::build(toml_file(path)?, env.clone())?;
        settings.resolve_secrets_with_env(env.as_ref())?;
        settings.telemetry.resolve_env(env.as_ref())?;
        settings.validate()?;
        Ok(settings)
    }

    /// Only the `[broker]` section of `path`, with its `SCRIPTSYNC__BROKER__…` overrides and
    /// its password resolved and checked: what a publisher (`scriptsync publish`) needs. The
    /// whole file must still parse (unknown keys are errors), but no tenant is required and
    /// the tenants' secrets are not read, so a publisher's host needs none of them.
    pub fn load_broker(path: &Path) -> Result<BrokerSettings, ConfigError> {
        let mut settings: Settings = Self::build(toml_file(path)?, None)?;
        settings.broker.resolve_secrets(None)?;
        settings.broker.validate()?;
        Ok(settings.broker)
    }

    /// Parses TOML text (no environment overrides); used by tests and `check-config`.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let file = config::File::from_str(text, config::FileFormat::Toml);
        let settings: Settings = Self::build(file, Some(HashMap::new()))?;
        Ok(settings)
    }

    fn build<S>(file: S, env: Option<HashMap<String, String>>) -> Result<Self, ConfigError>
    where
        S: config::Source + Send + Sync + 'static,
    {
        let environment = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(env);
        let cfg = config::Config::builder()
            .add_source(file)
            .add_source(environment)
            .build()?;
        Ok(cfg.try_deserialize()?)
    }

    /// Reads every `*_env` / `*_file` secret reference into memory.
    pub fn resolve_secrets(&mut self) -> Result<(), ConfigError> {
        self.resolve_secrets_with_env(None)
    }

    /// Like [`Settings::resolve_secrets`], reading `*_env` variables from `env` when given
    /// (`None` = the process environment).
    pub fn resolve_secrets_with_env(
        &mut self,
        env: Option<&HashMap<String, String>>,
    ) -> Result<(), ConfigError> {
        self.broker.resolve_secrets(env)?;
        for tenant in &mut self.tenants {
            tenant.resolve_secrets(env)?;
        }
        Ok(())
    }

    /// Checks the rules serde cannot express: ids, required fields per auth kind, ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tenants.is_empty() && self.tenants_dir.is_none() {
            return Err(invalid(
                "no tenants configured: add at least one [[tenants]] entry or a tenants_dir",
            ));
        }
        if let Some(dir) = &self.tenants_dir
            && !dir.is_dir()
        {
            return Err(invalid(format!(
                "tenants_dir {} is not a directory",
                dir.display()
            )));
        }
        if self.tenants_rescan < Duration::from_millis(100)
            || self.tenants_rescan > Duration::from_secs(3600)
        {
            return Err(invalid("tenants_rescan must be between 100ms and 1h"));
        }
        self.broker.validate()?;
        self.batch.validate()?;
        self.retry.validate()?;
        self.http.validate()?;
        self.telemetry.validate()?;
        self.replica.validate()?;
        let mut seen = HashSet::new();
        for tenant in &self.tenants {
            tenant.validate()?;
            if !seen.insert(tenant.id.as_str()) {
                return Err(invalid(format!("tenant id {:?} appears twice", tenant.id)));
            }
        }
        Ok(())
    }

    /// The tenant with this id, if configured.
    pub fn tenant(&self, id: &str) -> Option<&TenantSettings> {
        self.tenants.iter().find(|t| t.id == id)
    }

    /// The effective configuration as TOML, secrets left out (only their references show).
    /// A password in `broker.url` (which `validate` rejects) is masked too, so even an
    /// invalid configuration prints safely.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        if let Ok(mut url) = url::Url::parse(&shown.broker.url)
            && url.password().is_some()
            && url.set_password(Some(REDACTED)).is_ok()
        {
            shown.broker.url = url.to_string();
        }
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// `path` as a TOML source, or a clear error if there is no such file.
fn toml_file(
    path: &Path,
) -> Result<config::File<config::FileSourceFile, config::FileFormat>, ConfigError> {
    if !path.exists() {
        return Err(ConfigError::Invalid(format!(
            "config file {} does not exist",
            path.display()
        )));
    }
    Ok(config::File::from(path).format(config::FileFormat::Toml))
}

pub(crate) fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(message.into())
}
