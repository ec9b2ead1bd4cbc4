//! The small process-wide sections of the configuration: batching, retries, HTTP, admin,
//! shutdown and logging (`[broker]` and `[telemetry]` have files of their own). Every field
//! has a default that suits a production deployment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::tls::read_ca_file;
use super::{ConfigError, invalid};

/// Coalescing and batching in each lane.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchSettings {
    /// Most records per ServiceNow call; that many pending scripts go without lingering.
    pub max_changes: usize,
    /// How long a script's first pending change waits for newer versions before its lane may
    /// send it (≤ 100 ms keeps the 5 s window).
    #[serde(with = "crate::config::duration_text")]
    pub linger: Duration,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            max_changes: 100,
            linger: Duration::from_millis(100),
        }
    }
}

impl BatchSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_changes == 0 {
            return Err(invalid("batch.max_changes must be at least 1"));
        }
        Ok(())
    }
}

/// Retry schedule and budget per change (DESIGN §6).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    #[serde(with = "crate::config::duration_text")]
    pub initial: Duration,
    pub factor: f32,
    #[serde(with = "crate::config::duration_text")]
    pub max_delay: Duration,
    pub max_attempts: usize,
    #[serde(with = "crate::config::duration_text")]
    pub max_elapsed: Duration,
    /// Longest server-requested wait we honour: only absurd values beyond it are clamped
    /// (logged and counted). A server's wait is never a failure.
    #[serde(with = "crate::config::duration_text")]
    pub max_retry_after: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(200),
            factor: 2.0,
            max_delay: Duration::from_secs(30),
            max_attempts: 10,
            max_elapsed: Duration::from_secs(300),
            max_retry_after: Duration::from_secs(86_400),
        }
    }
}

impl RetrySettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(invalid("retry.max_attempts must be at least 1"));
        }
        if self.factor < 1.0 {
            return Err(invalid("retry.factor must be at least 1.0"));
        }
        Ok(())
    }
}

/// Outgoing HTTP.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Whole-request timeout; a timed-out request is retried as transient.
    #[serde(with = "crate::config::duration_text")]
    pub timeout: Duration,
    #[serde(with = "crate::config::duration_text")]
    pub connect_timeout: Duration,
    /// PEM file of CA certificates trusted for `https://` targets and token endpoints, in
    /// addition to the system roots (a private CA, or a TLS-inspecting proxy's).
    pub ca_file: Option<PathBuf>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            ca_file: None,
        }
    }
}

impl HttpSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(path) = &self.ca_file {
            read_ca_file(path, "http.ca_file")?;
        }
        Ok(())
    }
}

/// The admin HTTP endpoints (`/healthz`, `/readyz`, `/metrics`, `/status`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    pub listen: SocketAddr,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

/// Graceful shutdown.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownSettings {
    /// Time to finish in-flight pushes after SIGTERM before the rest is requeued.
    #[serde(with = "crate::config::duration_text")]
    pub drain_timeout: Duration,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        Self {
            drain_timeout: Duration::from_secs(20),
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `RUST_LOG`-style filter; `RUST_LOG` wins when set.
    pub level: Option<String>,
    pub format: Option<LogFormat>,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}
