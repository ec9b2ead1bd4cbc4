//! `[telemetry]`: OpenTelemetry export (the OTLP endpoint, from the file or the standard
//! variable), the metrics push interval, the service name, and whether series are kept per
//! tenant.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};

/// OpenTelemetry export (traces and metrics over OTLP/HTTP). Without an endpoint nothing is
/// exported and nothing connects anywhere; `/metrics` serves the same instruments either way.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// Base URL of an OTLP/HTTP collector (`http://collector:4318`); `/v1/traces` and
    /// `/v1/metrics` are appended. When unset, `OTEL_EXPORTER_OTLP_ENDPOINT` is used.
    pub otlp_endpoint: Option<url::Url>,
    /// How often metrics are pushed over OTLP (Prometheus scrapes `/metrics` on its own).
    #[serde(with = "crate::config::duration_text")]
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
