//! The metrics of DESIGN §11, one meter provider per running application.
//!
//! One metrics API: OpenTelemetry instruments. Every component gets an `Arc<Metrics>` and
//! records through the typed methods below, so label names and values are spelled in one
//! place. Two readers collect the same instruments: the OpenTelemetry Prometheus exporter,
//! which fills a `prometheus::Registry` that `/metrics` renders ([`Metrics::render`]); and,
//! when an OTLP endpoint is configured, a periodic OTLP/HTTP exporter. Without an endpoint
//! no exporter exists and nothing connects anywhere.
//!
//! Instrument names are the Prometheus names (counter suffix `_total` included) and the
//! Prometheus exporter is told not to add suffixes, units, scope labels or `target_info`,
//! so `/metrics` shows exactly the §11 names.
//!
//! Each record method also updates the [`StatusBoard`] in the same call: the typed
//! per-tenant state that `/status`, the demo and tests read ([`Metrics::board`]). Nothing
//! reads counts back out of the instruments.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, MeterProvider, UpDownCounter};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use prometheus::{Encoder, Registry, TextEncoder};

use crate::change::TargetKind;
pub use crate::status::PushOutcomeLabel;
use crate::status::{MAX_STATUS_ERROR, StatusBoard};

/// End-to-end latency buckets (seconds): dense below the 5 s disclaimer window (so p50/p99
/// against it are exact to a few hundred ms), coarse above it up to the 300 s retry budget.
const LATENCY_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0,
    20.0, 30.0, 45.0, 60.0, 300.0,
];

/// Where OTLP metrics go, if anywhere.
#[derive(Debug, Clone)]
pub struct OtlpMetrics {
    /// Base URL of the collector; `/v1/metrics` is appended.
    pub endpoint: url::Url,
    pub interval: Duration,
    pub service_name: String,
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
    board: Arc<StatusBoard>,
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
            board: Arc::default(),
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
            for outcome in PushOutcomeLabel::ALL {
                let mut labels = pair.to_vec();
                labels.push(kv("outcome", outcome.as_str()));
                self.pushes.add(0, &labels);
            }
        }
        self.board.update(tenant, |t| {
            for target in targets {
                t.target_mut(*target);
            }
        });
    }

    /// The typed per-tenant state recorded beside the instruments.
    pub fn board(&self) -> Arc<StatusBoard> {
        self.board.clone()
    }

    /// A pipeline task of `tenant` panicked: `task` is its target's lane or `tenant` (the loop).
    pub fn task_panic(&self, tenant: &str, task: &str) {
        self.task_panics
            .add(1, &[kv("tenant", tenant), kv("task", task)]);
    }
    pub fn consumed(&self, tenant: &str) {
        self.board.update(tenant, |t| t.consumed += 1);
        self.consumed.add(1, &[kv("tenant", tenant)]);
    }
    /// A delivery's terminal action completed: acked, or dead-lettered and acked. On the
    /// status board only (no §11 family).
    pub fn settled(&self, tenant: &str) {
        self.board.update(tenant, |t| t.settled += 1);
    }
    pub fn push_outcome(&self, tenant: &str, target: TargetKind, outcome: PushOutcomeLabel) {
        self.board.push_outcome(tenant, target, outcome);
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
        self.board
            .update_target(tenant, target, |t| t.rate_limited += 1);
        self.rate_limited
            .add(1, &[kv("tenant", tenant), kv("target", target.as_str())]);
    }
    pub fn retried(&self, tenant: &str, target: TargetKind) {
        self.board.update_target(tenant, target, |t| t.retries += 1);
        self.retries
            .add(1, &[kv("tenant", tenant), kv("target", target.as_str())]);
    }
    pub fn gate_paused(&self, tenant: &str, target: TargetKind, seconds: f64) {
        let seconds = seconds.max(0.0);
        self.board
            .update_target(tenant, target, |t| t.paused_seconds += seconds);
        self.gate_paused_seconds.add(
            seconds,
            &[kv("tenant", tenant), kv("target", target.as_str())],
        );
    }
    pub fn gate_rate(&self, tenant: &str, target: TargetKind, per_minute: f64) {
        self.board
            .update_target(tenant, target, |t| t.gate_rate = Some(per_minute));
        self.gate_rate.record(
            per_minute,
            &[kv("tenant", tenant), kv("target", target.as_str())],
        );
    }
    pub fn dead_lettered(&self, tenant: &str, reason: &str) {
        self.board.update(tenant, |t| {
            *t.dead_lettered.entry(reason.to_owned()).or_default() += 1;
        });
        self.dead_lettered
            .add(1, &[kv("tenant", tenant), kv("reason", reason)]);
    }
    pub fn superseded(&self, tenant: &str) {
        self.board.update(tenant, |t| t.superseded += 1);
        self.superseded.add(1, &[kv("tenant", tenant)]);
    }
    pub fn end_to_end(&self, seconds: f64) {
        self.end_to_end.record(seconds.max(0.0), &[]);
    }
    pub fn inflight_add(&self, tenant: &str, delta: i64) {
        self.board.update(tenant, |t| t.inflight += delta);
        self.inflight.add(delta, &[kv("tenant", tenant)]);
    }
    pub fn token_renewal(&self, tenant: &str, target: TargetKind) {
        self.board
            .update_target(tenant, target, |t| t.token_renewals += 1);
        self.token_renewals
            .add(1, &[kv("tenant", tenant), kv("target", target.as_str())]);
    }

    /// A request of (tenant, target) got a final 2xx.
    pub fn request_succeeded(&self, tenant: &str, target: TargetKind, status: u16) {
        self.board.update_target(tenant, target, |t| {
            t.last.last_success = Some(SystemTime::now());
            t.last.last_status = Some(status);
        });
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
        let error = crate::text::prefix_within(error, MAX_STATUS_ERROR).to_owned();
        self.board.update_target(tenant, target, |t| {
            t.last.last_error = Some(error);
            t.last.last_error_at = Some(SystemTime::now());
            t.last.last_status = status;
        });
    }

    /// Prometheus text exposition of every instrument.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// Exports what is pending over OTLP (blocking; a no-op without OTLP). Recording and
    /// `/metrics` keep working afterwards.
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
    use crate::status::LastOutcome;

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
    }

    #[test]
    fn the_status_board_is_written_alongside() {
        let m = Metrics::new();
        m.start_at_zero("acme", &[TargetKind::Genesys], &["invalid"]);
        assert_eq!(
            m.board().tenant("acme").targets.keys().collect::<Vec<_>>(),
            [&TargetKind::Genesys]
        );
        m.consumed("acme");
        m.consumed("acme");
        m.inflight_add("acme", 2);
        m.inflight_add("acme", -1);
        m.settled("acme");
        m.push_outcome("acme", TargetKind::Genesys, PushOutcomeLabel::Delivered);
        m.rate_limited("acme", TargetKind::Genesys);
        m.gate_paused("acme", TargetKind::Genesys, 1.5);
        m.gate_rate("acme", TargetKind::Genesys, 270.0);
        m.dead_lettered("acme", "invalid");
        m.dead_lettered("nobody", "unknown_tenant");
        let all = m.board().snapshot();
        let t = all.tenant("acme");
        assert_eq!((t.consumed, t.settled, t.inflight), (2, 1, 1));
        let g = t.target(TargetKind::Genesys);
        assert_eq!(g.pushes.get(PushOutcomeLabel::Delivered), 1);
        assert_eq!(g.rate_limited, 1);
        assert_eq!(g.paused_seconds, 1.5);
        assert_eq!(g.gate_rate, Some(270.0));
        assert_eq!(t.dead_lettered_total(), 1);
        assert_eq!(all.total(|t| t.dead_lettered_total()), 2);
        assert_eq!(all.tenant("else"), Default::default());
    }

    #[test]
    fn last_outcome_keeps_success_and_error() {
        let m = Metrics::new();
        let last = |m: &Metrics| m.board().tenant("acme").target(TargetKind::Genesys).last;
        assert_eq!(last(&m), LastOutcome::default());
        m.request_failed("acme", TargetKind::Genesys, Some(429), &"x".repeat(1000));
        m.request_succeeded("acme", TargetKind::Genesys, 200);
        let last = last(&m);
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
