//! The process-wide sections of the configuration: broker, batching, retries, HTTP, admin,
//! shutdown and logging. Every field has a default that suits a production deployment.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::secret::Secret;
use super::tls::read_ca_file;
use super::{ConfigError, invalid};

/// RabbitMQ connection and topology.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(
    try_from = "super::file_shape::BrokerFile",
    into = "super::file_shape::BrokerFile"
)]
pub struct BrokerSettings {
    /// AMQP URI without a password (`amqp://user@host:5672/%2f`); the password comes from
    /// `password_env` / `password_file`. Without a user, `guest` is used. With `broker.urls`,
    /// the first of them.
    pub url: String,
    /// The other addresses of `broker.urls` (nodes of one cluster): on connection loss the
    /// worker tries them in turn. Empty with `broker.url`.
    pub other_urls: Vec<String>,
    /// Prefix of every exchange and queue name; tests use a random one.
    pub prefix: String,
    /// Type of the per-tenant queues: quorum (replicated) or classic.
    pub queue_type: QueueType,
    /// Type of the dead-letter queue.
    pub dlq_queue_type: QueueType,
    /// Unacked deliveries per tenant consumer; bounds memory and the batch a tenant can build.
    pub prefetch: u16,
    /// The global in-flight budget: the most deliveries one replica holds unacked across all
    /// the tenants it owns. Each consumer's prefetch is its share (at most `prefetch`), so
    /// memory is bounded by this, not by tenants × prefetch (see `app::prefetch_share`).
    pub max_inflight: u32,
    /// How long to wait for a publisher confirm before treating the publish as failed.
    pub confirm_timeout: Duration,
    /// The broker's `consumer_timeout` (RabbitMQ closes a channel holding a delivery unacked
    /// longer; 30 min by default): a change that would be held past half of it, because its
    /// target's gate stays closed, is handed to a wait queue instead and acked.
    pub consumer_timeout: Duration,
    /// Largest accepted message body in bytes (DESIGN §3: 64 KiB).
    pub max_message_bytes: usize,
    /// `password_env` or `password_file` in the file.
    pub password: Option<Secret>,
    /// PEM file of CA certificates trusted for `amqps://`, in addition to the system roots
    /// (a private CA signing the broker's certificate).
    pub ca_file: Option<PathBuf>,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        Self {
            url: "amqp://127.0.0.1:5672/%2f".into(),
            other_urls: Vec::new(),
            prefix: "scriptsync".into(),
            queue_type: QueueType::Quorum,
            dlq_queue_type: QueueType::Quorum,
            prefetch: 500,
            max_inflight: 5_000,
            confirm_timeout: Duration::from_secs(10),
            consumer_timeout: Duration::from_secs(30 * 60),
            max_message_bytes: 64 * 1024,
            password: None,
            ca_file: None,
        }
    }
}

impl BrokerSettings {
    /// How long a delivery may be held waiting for a closed gate before it is handed to a
    /// wait queue: half the broker's `consumer_timeout`, well clear of it.
    pub fn hold_limit(&self) -> Duration {
        self.consumer_timeout / 2
    }

    pub(crate) fn resolve_secrets(
        &mut self,
        env: Option<&HashMap<String, String>>,
    ) -> Result<(), ConfigError> {
        match &mut self.password {
            Some(password) => password.resolve("broker.password", env),
            None => Ok(()),
        }
    }

    /// The defaults, with the addresses of `list`: one URL, or several comma-separated (the
    /// conventional host-list form; `bench --broker-url` and `demo --broker-url` take it).
    pub fn with_addresses(list: &str) -> Self {
        let mut urls = split_addresses(list);
        let url = urls.next().unwrap_or_default();
        Self {
            url,
            other_urls: urls.collect(),
            ..Self::default()
        }
    }

    /// Every address: `url`, then `other_urls`.
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.url.as_str()).chain(self.other_urls.iter().map(String::as_str))
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for address in self.addresses() {
            let parsed = url::Url::parse(address)
                .map_err(|e| invalid(format!("broker.url is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "amqp" | "amqps") {
                return Err(invalid("broker.url must start with amqp:// or amqps://"));
            }
            if parsed.password().is_some() {
                return Err(invalid(
                    "broker.url must not contain a password: use broker.password_env or broker.password_file",
                ));
            }
        }
        if self.prefix.is_empty() || !super::is_valid_tenant_id(&self.prefix) {
            return Err(invalid(
                "broker.prefix must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}",
            ));
        }
        if self.prefetch == 0 {
            return Err(invalid("broker.prefetch must be at least 1"));
        }
        if self.max_inflight == 0 {
            return Err(invalid("broker.max_inflight must be at least 1"));
        }
        if self.consumer_timeout < std::time::Duration::from_secs(2) {
            return Err(invalid("broker.consumer_timeout must be at least 2s"));
        }
        if let Some(path) = &self.ca_file {
            read_ca_file(path, "broker.ca_file")?;
        }
        Ok(())
    }
}

/// RabbitMQ queue type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    Quorum,
    Classic,
}

/// Coalescing and batching in each lane.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchSettings {
    /// Most records per ServiceNow call; that many pending scripts go without lingering.
    pub max_changes: usize,
    /// How long a script's first pending change waits for newer versions before its lane may
    /// send it (≤ 100 ms keeps the 5 s window).
    #[serde(with = "humantime_serde")]
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
    #[serde(with = "humantime_serde")]
    pub initial: Duration,
    pub factor: f32,
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    pub max_attempts: usize,
    #[serde(with = "humantime_serde")]
    pub max_elapsed: Duration,
    /// Longest server-requested wait we honour: only absurd values beyond it are clamped
    /// (logged and counted). A server's wait is never a failure.
    #[serde(with = "humantime_serde")]
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
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(with = "humantime_serde")]
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

/// OpenTelemetry export (traces and metrics over OTLP/HTTP). Without an endpoint nothing is
/// exported and nothing connects anywhere; `/metrics` serves the same instruments either way.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// Base URL of an OTLP/HTTP collector (`http://collector:4318`); `/v1/traces` and
    /// `/v1/metrics` are appended. When unset, `OTEL_EXPORTER_OTLP_ENDPOINT` is used.
    pub otlp_endpoint: Option<url::Url>,
    /// How often metrics are pushed over OTLP (Prometheus scrapes `/metrics` on its own).
    #[serde(with = "humantime_serde")]
    pub metrics_interval: Duration,
    /// `service.name` of the exported resource.
    pub service_name: String,
    /// One series per tenant in every family (the default). `false` keeps one series per
    /// family under `tenant="_all"` and leaves out the per-tenant gauges (gate rate, ceiling,
    /// reopening, data-table rows): for thousands of tenants, where ~40 series each is too
    /// many. `/status` keeps every tenant's detail either way.
    pub per_tenant_series: bool,
}

/// The standard variable naming the OTLP endpoint.
pub const OTEL_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            metrics_interval: Duration::from_secs(15),
            service_name: "scriptsync".into(),
            per_tenant_series: true,
        }
    }
}

impl TelemetrySettings {
    /// Fills `otlp_endpoint` from `OTEL_EXPORTER_OTLP_ENDPOINT` (in `env`, else the process
    /// environment) when the config does not set it. An empty variable means "not set".
    pub(crate) fn resolve_env(
        &mut self,
        env: Option<&HashMap<String, String>>,
    ) -> Result<(), ConfigError> {
        if self.otlp_endpoint.is_some() {
            return Ok(());
        }
        let value = match env {
            Some(env) => env.get(OTEL_ENDPOINT_ENV).cloned(),
            None => std::env::var(OTEL_ENDPOINT_ENV).ok(),
        };
        if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
            let url = url::Url::parse(v.trim())
                .map_err(|e| invalid(format!("{OTEL_ENDPOINT_ENV} is not a URL: {e}")))?;
            self.otlp_endpoint = Some(url);
        }
        Ok(())
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.otlp_endpoint
            && !matches!(url.scheme(), "http" | "https")
        {
            return Err(invalid("telemetry.otlp_endpoint must be an http(s) URL"));
        }
        if self.metrics_interval < Duration::from_secs(1) {
            return Err(invalid("telemetry.metrics_interval must be at least 1s"));
        }
        Ok(())
    }
}

/// Graceful shutdown.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownSettings {
    /// Time to finish in-flight pushes after SIGTERM before the rest is requeued.
    #[serde(with = "humantime_serde")]
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

/// The URLs of a comma-separated host list, trimmed, empty entries dropped.
pub(crate) fn split_addresses(list: &str) -> impl Iterator<Item = String> + '_ {
    list.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
}
