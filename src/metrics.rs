//! The metrics of DESIGN §11, one meter provider per running application.
//!
//! One metrics API: OpenTelemetry instruments. Every component gets an `Arc<Metrics>` and
//! records through the typed methods below, so label names and values are spelled in one
//! place. Two readers collect the same instruments: the OpenTelemetry Prometheus exporter,
//! which fills a `prometheus::Registry` that `/metrics` and the demo's live view read
//! ([`Metrics::render`], [`Metrics::counter_sum`]); and,
//! when an OTLP endpoint is configured, a periodic OTLP/HTTP exporter. Without an endpoint
//! no exporter exists and nothing connects anywhere.
//!
//! Instrument names are the Prometheus names (counter suffix `_total` included) and the
//! Prometheus exporter is told not to add suffixes, units, scope labels or `target_info`,
//! so `/metrics` shows exactly the §11 names.
//!
//! Besides the instruments, [`Metrics`] keeps the last outcome per (tenant, target) that
//! `/status` shows ([`Metrics::last_outcome`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, MeterProvider, UpDownCounter};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use prometheus::{Encoder, Registry, TextEncoder};

use crate::change::TargetKind;

/// End-to-end latency buckets (seconds): dense below the 5 s disclaimer window (so p50/p99
/// against it are exact to a few hundred ms), coarse above it up to the 300 s retry budget.
const LATENCY_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0,
    20.0, 30.0, 45.0, 60.0, 300.0,
];

/// The longest error text kept for `/status`.
const MAX_STATUS_ERROR: usize = 300;

/// How one change ended at one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcomeLabel {
    Delivered,
    Superseded,
    Permanent,
    Exhausted,
}

impl PushOutcomeLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Superseded => "superseded",
            Self::Permanent => "permanent",
            Self::Exhausted => "exhausted",
        }
    }
}

/// Where OTLP metrics go, if anywhere.
#[derive(Debug, Clone)]
pub struct OtlpMetrics {
    /// Base URL of the collector; `/v1/metrics` is appended.
    pub endpoint: url::Url,
    pub interval: Duration,
    pub service_name: String,
}

/// The last request outcome of one (tenant, target), for `/status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LastOutcome {
    pub last_success: Option<SystemTime>,
    pub last_error: Option<String>,
    pub last_error_at: Option<SystemTime>,
    pub last_status: Option<u16>,
}

/// All instruments of one application.
pub struct Metrics {
    provider: SdkMeterProvider,
    registry: Registry,
    consumed: Counter<u64>,
    pushes: Counter<u64>,
    http_requests: Counter<u64>,
    rate_limited: Counter<u64>,
    retries: Counter<u64>,
    gate_paused_seconds: Counter<f64>,
    gate_rate: Gauge<f64>,
    dead_lettered: Counter<u64>,
    superseded: Counter<u64>,
    end_to_end: Histogram<f64>,
    inflight: UpDownCounter<i64>,
    token_renewals: Counter<u64>,
    task_panics: Counter<u64>,
    last: Mutex<HashMap<(String, TargetKind), LastOutcome>>,
}

fn kv(key: &'static str, value: &str) -> KeyValue {
    KeyValue::new(key, value.to_owned())
}

impl Metrics {
    /// Instruments read through [`Metrics::render`] only (no OTLP export).
    pub fn new() -> Self {
        Self::build(None).expect("a Prometheus-only meter provider always builds")
    }

    /// Instruments also exported over OTLP/HTTP every `otlp.interval`, when given.
    pub fn with_otlp(otlp: Option<&OtlpMetrics>) -> anyhow::Result<Self> {
        Self::build(otlp)
    }

    fn build(otlp: Option<&OtlpMetrics>) -> anyhow::Result<Self> {
        let registry = Registry::new();
        let prometheus = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_counter_suffixes()
            .without_units()
            .without_target_info()
            .scope_info_enabled(false)
            .build()?;
        let mut builder = SdkMeterProvider::builder().with_reader(prometheus);
        if let Some(otlp) = otlp {
            let exporter = opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_endpoint(signal_url(&otlp.endpoint, "metrics"))
                .build()?;
            let reader = PeriodicReader::builder(exporter)
                .with_interval(otlp.interval)
                .build();
            builder = builder.with_reader(reader).with_resource(
                Resource::builder()
                    .with_service_name(otlp.service_name.clone())
                    .build(),
            );
        }
        let provider = builder.build();
        let meter = provider.meter("scriptsync");
        Ok(Self::instruments(provider, registry, &meter))
    }

    fn instruments(provider: SdkMeterProvider, registry: Registry, meter: &Meter) -> Self {
        let counter = |name: &'static str, help: &'static str| {
            meter.u64_counter(name).with_description(help).build()
        };
        Self {
            consumed: counter(
                "scriptsync_changes_consumed_total",
                "Deliveries taken from the tenant queues",
            ),
            pushes: counter(
                "scriptsync_pushes_total",
                "Per-change outcomes at each target",
            ),
            http_requests: counter(
                "scriptsync_http_requests_total",
                "HTTP requests sent to targets by status (or error)",
            ),
            rate_limited: counter(
                "scriptsync_rate_limited_total",
                "429 (or 503 with Retry-After) answers received",
            ),
            retries: counter(
                "scriptsync_retries_total",
                "Requests sent again after a retryable failure",
            ),
            dead_lettered: counter(
                "scriptsync_dead_lettered_total",
                "Messages published to the DLQ",
            ),
            superseded: counter(
                "scriptsync_superseded_total",
                "Deliveries acked because a newer version won",
            ),
            token_renewals: counter("scriptsync_token_renewals_total", "Access tokens obtained"),
            task_panics: counter(
                "scriptsync_task_panics_total",
                "Pipeline tasks that panicked (and were restarted)",
            ),
            gate_paused_seconds: meter
                .f64_counter("scriptsync_gate_paused_seconds_total")
                .with_description("Seconds a gate was closed by a server-requested pause")
                .with_unit("s")
                .build(),
            gate_rate: meter
                .f64_gauge("scriptsync_gate_rate")
                .with_description("Current gate rate (requests per minute)")
                .with_unit("{request}/min")
                .build(),
            inflight: meter
                .i64_up_down_counter("scriptsync_inflight")
                .with_description("Deliveries held unacked")
                .build(),
            end_to_end: meter
                .f64_histogram("scriptsync_end_to_end_seconds")
                .with_description("published_at to acked")
                .with_unit("s")
                .with_boundaries(LATENCY_BUCKETS.to_vec())
                .build(),
            provider,
            registry,
            last: Mutex::default(),
        }
    }

    /// Exports every counter series whose labels are known at start at 0 (Prometheus's
    /// advice), so `rate()` and alerts work from the first scrape: per tenant, its targets,
    /// every push outcome and the dead-letter `reasons` a configured tenant can have. Series
    /// whose labels only events reveal (an HTTP status, an unknown tenant) appear with them.
    pub fn start_at_zero(&self, tenant: &str, targets: &[TargetKind], reasons: &[&str]) {
        let t = kv("tenant", tenant);
        self.consumed.add(0, std::slice::from_ref(&t));
        self.task_panics.add(0, &[t.clone(), kv("task", "tenant")]);
        self.superseded.add(0, std::slice::from_ref(&t));
        self.inflight.add(0, std::slice::from_ref(&t));
        for reason in reasons {
            self.dead_lettered
                .add(0, &[t.clone(), kv("reason", reason)]);
        }
        for target in targets {
            let pair = [t.clone(), kv("target", target.as_str())];
            for counter in [&self.rate_limited, &self.retries, &self.token_renewals] {
                counter.add(0, &pair);
            }
            self.gate_paused_seconds.add(0.0, &pair);
            self.task_panics
                .add(0, &[t.clone(), kv("task", target.as_str())]);
            for outcome in [
                PushOutcomeLabel::Delivered,
                PushOutcomeLabel::Superseded,
                PushOutcomeLabel::Permanent,
                PushOutcomeLabel::Exhausted,
            ] {
                let mut labels = pair.to_vec();
                labels.push(kv("outcome", outcome.as_str()));
                self.pushes.add(0, &labels);
            }
        }
    }

    /// A pipeline task of `tenant` panicked: `task` is its target's lane or `tenant` (the loop).
    pub fn task_panic(&self, tenant: &str, task: &str) {
        self.task_panics
            .add(1, &[kv("tenant", tenant), kv("task", task)]);
    }
    pub fn consumed(&self, tenant: &str) {
        self.consumed.add(1, &[kv("tenant", tenant)]);
    }
    pub fn push_outcome(&self, tenant: &str, target: TargetKind, outcome: PushOutcomeLabel) {
        self.pushes.add(
            1,
            &[
                kv("tenant", tenant),
                kv("target", target.as_str()),
                kv("outcome", outcome.as_str()),
            ],
        );
    }
    /// `status` is the HTTP status, or `error` for a transport failure.
    pub fn http_request(&self, target: TargetKind, status: &str) {
        self.http_requests
            .add(1, &[kv("target", target.as_str()), kv("status", status)]);
    }
    pub fn rate_limited(&self, tenant: &str, target: TargetKind) {
        self.rate_limited
            .add(1, &[kv("tenant", tenant), kv("target", target.as_str())]);
    }
    pub fn retried(&self, tenant: &str, target: TargetKind) {
        self.retries
            .add(1, &[kv("tenant", tenant), kv("target", target.as_str())]);
    }
    pub fn gate_paused(&self, tenant: &str, target: TargetKind, seconds: f64) {
        self.gate_paused_seconds.add(
            seconds.max(0.0),
            &[kv("tenant", tenant), kv("target", target.as_str())],
        );
    }
    pub fn gate_rate(&self, tenant: &str, target: TargetKind, per_minute: f64) {
        self.gate_rate.record(
            per_minute,
            &[kv("tenant", tenant), kv("target", target.as_str())],
        );
    }
    pub fn dead_lettered(&self, tenant: &str, reason: &str) {
        self.dead_lettered
            .add(1, &[kv("tenant", tenant), kv("reason", reason)]);
    }
    pub fn superseded(&self, tenant: &str) {
        self.superseded.add(1, &[kv("tenant", tenant)]);
    }
    pub fn end_to_end(&self, seconds: f64) {
        self.end_to_end.record(seconds.max(0.0), &[]);
    }
    pub fn inflight_add(&self, tenant: &str, delta: i64) {
        self.inflight.add(delta, &[kv("tenant", tenant)]);
    }
    pub fn token_renewal(&self, tenant: &str, target: TargetKind) {
        self.token_renewals
            .add(1, &[kv("tenant", tenant), kv("target", target.as_str())]);
    }

    /// A request of (tenant, target) got a final 2xx.
    pub fn request_succeeded(&self, tenant: &str, target: TargetKind, status: u16) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let entry = last.entry((tenant.to_owned(), target)).or_default();
        entry.last_success = Some(SystemTime::now());
        entry.last_status = Some(status);
    }

    /// A request of (tenant, target) failed; `error` holds no secrets (it is the text that
    /// also goes into DLQ headers).
    pub fn request_failed(
        &self,
        tenant: &str,
        target: TargetKind,
        status: Option<u16>,
        error: &str,
    ) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let entry = last.entry((tenant.to_owned(), target)).or_default();
        entry.last_error = Some(crate::text::prefix_within(error, MAX_STATUS_ERROR).to_owned());
        entry.last_error_at = Some(SystemTime::now());
        entry.last_status = status;
    }

    /// The last outcome of (tenant, target), for `/status`.
    pub fn last_outcome(&self, tenant: &str, target: TargetKind) -> LastOutcome {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(tenant.to_owned(), target))
            .cloned()
            .unwrap_or_default()
    }

    /// Prometheus text exposition of every instrument.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// Sum of a counter (or gauge) family over the series whose labels include every
    /// `(name, value)`.
    pub fn counter_sum(&self, family: &str, labels: &[(&str, &str)]) -> f64 {
        self.registry
            .gather()
            .iter()
            .filter(|f| f.name() == family)
            .flat_map(|f| f.get_metric().iter())
            .filter(|m| {
                labels.iter().all(|(k, v)| {
                    m.get_label()
                        .iter()
                        .any(|l| l.name() == *k && l.value() == *v)
                })
            })
            .map(|m| m.get_counter().get_value() + m.get_gauge().get_value())
            .fold(0.0, |acc, v| acc + v)
    }

    /// Exports what is pending over OTLP (blocking; a no-op without OTLP). The readers keep
    /// working: `/metrics` and the demo can still read afterwards.
    pub fn flush(&self) {
        let _ = self.provider.force_flush();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// `base` + `/v1/<signal>` (the OTLP/HTTP path of one signal).
pub fn signal_url(base: &url::Url, signal: &str) -> String {
    format!("{}/v1/{signal}", base.as_str().trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_uses_the_design_names() {
        let m = Metrics::new();
        m.consumed("acme");
        m.consumed("acme");
        m.push_outcome("acme", TargetKind::Genesys, PushOutcomeLabel::Delivered);
        m.gate_paused("acme", TargetKind::Genesys, 1.5);
        m.gate_rate("acme", TargetKind::Genesys, 270.0);
        m.inflight_add("acme", 3);
        m.inflight_add("acme", -1);
        m.end_to_end(0.3);
        let text = m.render();
        for line in [
            "scriptsync_changes_consumed_total{tenant=\"acme\"} 2",
            "scriptsync_pushes_total{outcome=\"delivered\",target=\"genesys\",tenant=\"acme\"} 1",
            "scriptsync_gate_paused_seconds_total{target=\"genesys\",tenant=\"acme\"} 1.5",
            "scriptsync_gate_rate{target=\"genesys\",tenant=\"acme\"} 270",
            "scriptsync_inflight{tenant=\"acme\"} 2",
            "scriptsync_end_to_end_seconds_bucket{le=\"0.35\"} 1",
            "# TYPE scriptsync_changes_consumed_total counter",
            "# TYPE scriptsync_end_to_end_seconds histogram",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("otel_scope"), "{text}");
        assert_eq!(
            m.counter_sum("scriptsync_changes_consumed_total", &[("tenant", "acme")]),
            2.0
        );
        assert_eq!(
            m.counter_sum("scriptsync_inflight", &[("tenant", "acme")]),
            2.0
        );
    }

    #[test]
    fn last_outcome_keeps_success_and_error() {
        let m = Metrics::new();
        assert_eq!(
            m.last_outcome("acme", TargetKind::Genesys),
            LastOutcome::default()
        );
        m.request_failed("acme", TargetKind::Genesys, Some(429), &"x".repeat(1000));
        m.request_succeeded("acme", TargetKind::Genesys, 200);
        let last = m.last_outcome("acme", TargetKind::Genesys);
        assert!(last.last_success.is_some());
        assert_eq!(last.last_error.map(|e| e.len()), Some(MAX_STATUS_ERROR));
        assert_eq!(last.last_status, Some(200));
    }

    #[test]
    fn signal_urls() {
        let base = url::Url::parse("http://127.0.0.1:4318").unwrap();
        assert_eq!(
            signal_url(&base, "traces"),
            "http://127.0.0.1:4318/v1/traces"
        );
        let base = url::Url::parse("http://c:4318/otlp/").unwrap();
        assert_eq!(
            signal_url(&base, "metrics"),
            "http://c:4318/otlp/v1/metrics"
        );
    }
}
