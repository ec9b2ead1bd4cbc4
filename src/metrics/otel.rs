//! The OpenTelemetry side of the §11 instruments, built only when an OTLP endpoint is
//! configured: an SDK meter provider whose one reader is a periodic OTLP/HTTP exporter, and
//! instruments of the same names (from [`super::families`]) and attributes as the
//! Prometheus families.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, MeterProvider, UpDownCounter};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};

use super::PushOutcomeLabel;
use super::families::{self as f, Family};
use super::operator::OperatorOtel;
use crate::change::TargetKind;

/// Where OTLP metrics go, if anywhere.
#[derive(Debug, Clone)]
pub struct OtlpMetrics {
    /// Base URL of the collector; `/v1/metrics` is appended.
    pub endpoint: url::Url,
    pub interval: Duration,
    pub service_name: String,
}

/// The instruments exported over OTLP.
pub(super) struct Otel {
    provider: SdkMeterProvider,
    pub consumed: Counter<u64>,
    pub pushes: Counter<u64>,
    pub http_requests: Counter<u64>,
    pub rate_limited: Counter<u64>,
    pub retries: Counter<u64>,
    pub gate_paused_seconds: Counter<f64>,
    pub gate_rate: Gauge<f64>,
    pub dead_lettered: Counter<u64>,
    pub superseded: Counter<u64>,
    pub inflight: UpDownCounter<i64>,
    pub token_renewals: Counter<u64>,
    pub task_panics: Counter<u64>,
    pub retry_after_clamped: Counter<u64>,
    pub parked: Counter<u64>,
    pub retired: Counter<u64>,
    pub gate_reopens_in: Gauge<f64>,
    pub gate_ceiling: Gauge<f64>,
    pub datatable_rows: Gauge<i64>,
    pub tenants_configured: Gauge<i64>,
    pub tenant_config_errors: Gauge<i64>,
    /// The operator's families (`super::operator`).
    pub operator: OperatorOtel,
}

/// An attribute of an OTel data point (the Prometheus label of the same name).
pub(super) fn kv(key: &'static str, value: &str) -> KeyValue {
    KeyValue::new(key, value.to_owned())
}

impl Otel {
    /// The provider exporting to `otlp` every `otlp.interval`, and its instruments.
    pub fn new(otlp: &OtlpMetrics) -> anyhow::Result<Self> {
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_endpoint(signal_url(&otlp.endpoint, "metrics"))
            .build()?;
        let reader = PeriodicReader::builder(exporter)
            .with_interval(otlp.interval)
            .build();
        let provider = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(
                Resource::builder()
                    .with_service_name(otlp.service_name.clone())
                    .build(),
            )
            .build();
        let meter = provider.meter("scriptsync");
        let counter = |family: &Family| {
            meter
                .u64_counter(family.name)
                .with_description(family.help)
                .build()
        };
        let gauge = |family: &Family, unit: &'static str| {
            meter
                .f64_gauge(family.name)
                .with_description(family.help)
                .with_unit(unit)
                .build()
        };
        let int_gauge = |family: &Family, unit: &'static str| {
            meter
                .i64_gauge(family.name)
                .with_description(family.help)
                .with_unit(unit)
                .build()
        };
        Ok(Self {
            consumed: counter(&f::CONSUMED),
            pushes: counter(&f::PUSHES),
            http_requests: counter(&f::HTTP_REQUESTS),
            rate_limited: counter(&f::RATE_LIMITED),
            retries: counter(&f::RETRIES),
            dead_lettered: counter(&f::DEAD_LETTERED),
            superseded: counter(&f::SUPERSEDED),
            token_renewals: counter(&f::TOKEN_RENEWALS),
            task_panics: counter(&f::TASK_PANICS),
            retry_after_clamped: counter(&f::RETRY_AFTER_CLAMPED),
            parked: counter(&f::PARKED),
            retired: counter(&f::RETIRED),
            gate_reopens_in: gauge(&f::GATE_REOPENS_IN, "s"),
            gate_ceiling: gauge(&f::GATE_CEILING, "{request}/min"),
            tenants_configured: int_gauge(&f::TENANTS_CONFIGURED, "{tenant}"),
            tenant_config_errors: int_gauge(&f::TENANT_CONFIG_ERRORS, "{file}"),
            datatable_rows: int_gauge(&f::DATATABLE_ROWS, "{row}"),
            gate_paused_seconds: meter
                .f64_counter(f::GATE_PAUSED_SECONDS.name)
                .with_description(f::GATE_PAUSED_SECONDS.help)
                .with_unit("s")
                .build(),
            gate_rate: gauge(&f::GATE_RATE, "{request}/min"),
            inflight: meter
                .i64_up_down_counter(f::INFLIGHT.name)
                .with_description(f::INFLIGHT.help)
                .build(),
            operator: OperatorOtel::new(&meter),
            provider,
        })
    }

    /// The same series as the Prometheus side at 0 (see `Metrics::start_at_zero`).
    pub fn start_at_zero(&self, tenant: &str, targets: &[TargetKind], reasons: &[&str]) {
        let t = kv("tenant", tenant);
        self.consumed.add(0, std::slice::from_ref(&t));
        self.superseded.add(0, std::slice::from_ref(&t));
        self.inflight.add(0, std::slice::from_ref(&t));
        self.task_panics.add(0, &[t.clone(), kv("task", "tenant")]);
        for reason in reasons {
            self.dead_lettered
                .add(0, &[t.clone(), kv("reason", reason)]);
        }
        for target in targets {
            let pair = [t.clone(), kv("target", target.as_str())];
            for counter in [
                &self.rate_limited,
                &self.retries,
                &self.token_renewals,
                &self.retry_after_clamped,
                &self.parked,
                &self.retired,
            ] {
                counter.add(0, &pair);
            }
            self.gate_reopens_in.record(0.0, &pair);
            self.gate_paused_seconds.add(0.0, &pair);
            self.task_panics
                .add(0, &[t.clone(), kv("task", target.as_str())]);
            for outcome in PushOutcomeLabel::ALL {
                let mut labels = pair.to_vec();
                labels.push(kv("outcome", outcome.as_str()));
                self.pushes.add(0, &labels);
            }
        }
    }

    /// Exports what is pending now (blocking).
    pub fn flush(&self) {
        let _ = self.provider.force_flush();
    }
}

/// `base` + `/v1/<signal>` (the OTLP/HTTP path of one signal).
pub fn signal_url(base: &url::Url, signal: &str) -> String {
    format!("{}/v1/{signal}", base.as_str().trim_end_matches('/'))
}
