//! The metrics of DESIGN §11, one registry per running application.
//!
//! Every component gets an `Arc<Metrics>` and records through the typed methods below, so
//! label names and values are spelled in one place. `/metrics` and the demo's live view read
//! the same registry ([`Metrics::render`], [`Metrics::counter_sum`]).

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::change::TargetKind;

/// End-to-end latency buckets (seconds), dense below the 5 s disclaimer window.
const LATENCY_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0,
    20.0, 30.0, 45.0, 60.0, 300.0,
];

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

/// All instruments of one application.
pub struct Metrics {
    registry: Registry,
    consumed: IntCounterVec,
    pushes: IntCounterVec,
    http_requests: IntCounterVec,
    rate_limited: IntCounterVec,
    retries: IntCounterVec,
    gate_paused_seconds: prometheus::CounterVec,
    gate_rate: GaugeVec,
    dead_lettered: IntCounterVec,
    superseded: IntCounterVec,
    end_to_end: HistogramVec,
    inflight: IntGaugeVec,
    token_renewals: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let consumed = counter(
            "scriptsync_changes_consumed_total",
            "Deliveries taken from the tenant queues",
            &["tenant"],
        );
        let pushes = counter(
            "scriptsync_pushes_total",
            "Per-change outcomes at each target",
            &["tenant", "target", "outcome"],
        );
        let http_requests = counter(
            "scriptsync_http_requests_total",
            "HTTP requests sent to targets by status (or error)",
            &["target", "status"],
        );
        let rate_limited = counter(
            "scriptsync_rate_limited_total",
            "429 (or 503 with Retry-After) answers received",
            &["tenant", "target"],
        );
        let retries = counter(
            "scriptsync_retries_total",
            "Requests sent again after a retryable failure",
            &["tenant", "target"],
        );
        let dead_lettered = counter(
            "scriptsync_dead_lettered_total",
            "Messages published to the DLQ",
            &["tenant", "reason"],
        );
        let superseded = counter(
            "scriptsync_superseded_total",
            "Deliveries acked because a newer version won",
            &["tenant"],
        );
        let token_renewals = counter(
            "scriptsync_token_renewals_total",
            "Access tokens obtained",
            &["tenant", "target"],
        );
        let gate_paused_seconds = prometheus::CounterVec::new(
            Opts::new(
                "scriptsync_gate_paused_seconds_total",
                "Seconds a gate was closed by a server-requested pause",
            ),
            &["tenant", "target"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(gate_paused_seconds.clone()))
            .expect("unique metric");
        let gate_rate = GaugeVec::new(
            Opts::new(
                "scriptsync_gate_rate",
                "Current gate rate (requests per minute)",
            ),
            &["tenant", "target"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(gate_rate.clone()))
            .expect("unique metric");
        let inflight = IntGaugeVec::new(
            Opts::new("scriptsync_inflight", "Deliveries held unacked"),
            &["tenant"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(inflight.clone()))
            .expect("unique metric");
        let end_to_end = HistogramVec::new(
            HistogramOpts::new("scriptsync_end_to_end_seconds", "published_at to acked")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &[],
        )
        .expect("valid metric");
        registry
            .register(Box::new(end_to_end.clone()))
            .expect("unique metric");
        Self {
            registry,
            consumed,
            pushes,
            http_requests,
            rate_limited,
            retries,
            gate_paused_seconds,
            gate_rate,
            dead_lettered,
            superseded,
            end_to_end,
            inflight,
            token_renewals,
        }
    }

    pub fn consumed(&self, tenant: &str) {
        self.consumed.with_label_values(&[tenant]).inc();
    }
    pub fn push_outcome(&self, tenant: &str, target: TargetKind, outcome: PushOutcomeLabel) {
        self.pushes
            .with_label_values(&[tenant, target.as_str(), outcome.as_str()])
            .inc();
    }
    /// `status` is the HTTP status, or `error` for a transport failure.
    pub fn http_request(&self, target: TargetKind, status: &str) {
        self.http_requests
            .with_label_values(&[target.as_str(), status])
            .inc();
    }
    pub fn rate_limited(&self, tenant: &str, target: TargetKind) {
        self.rate_limited
            .with_label_values(&[tenant, target.as_str()])
            .inc();
    }
    pub fn retried(&self, tenant: &str, target: TargetKind) {
        self.retries
            .with_label_values(&[tenant, target.as_str()])
            .inc();
    }
    pub fn gate_paused(&self, tenant: &str, target: TargetKind, seconds: f64) {
        self.gate_paused_seconds
            .with_label_values(&[tenant, target.as_str()])
            .inc_by(seconds);
    }
    pub fn gate_rate(&self, tenant: &str, target: TargetKind, per_minute: f64) {
        self.gate_rate
            .with_label_values(&[tenant, target.as_str()])
            .set(per_minute);
    }
    pub fn dead_lettered(&self, tenant: &str, reason: &str) {
        self.dead_lettered
            .with_label_values(&[tenant, reason])
            .inc();
    }
    pub fn superseded(&self, tenant: &str) {
        self.superseded.with_label_values(&[tenant]).inc();
    }
    pub fn end_to_end(&self, seconds: f64) {
        self.end_to_end
            .with_label_values::<&str>(&[])
            .observe(seconds.max(0.0));
    }
    pub fn inflight_add(&self, tenant: &str, delta: i64) {
        self.inflight.with_label_values(&[tenant]).add(delta);
    }
    pub fn token_renewal(&self, tenant: &str, target: TargetKind) {
        self.token_renewals
            .with_label_values(&[tenant, target.as_str()])
            .inc();
    }

    /// Prometheus text exposition of every instrument.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// Sum of a counter family over the series whose labels include every `(name, value)`.
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

    /// The `q` quantile (0–1) of end-to-end latency, estimated from the histogram buckets.
    pub fn end_to_end_quantile(&self, q: f64) -> Option<f64> {
        let families = self.registry.gather();
        let family = families
            .iter()
            .find(|f| f.name() == "scriptsync_end_to_end_seconds")?;
        let histogram = family.get_metric().first()?.get_histogram();
        let total = histogram.get_sample_count();
        if total == 0 {
            return None;
        }
        let target = (q * total as f64).ceil().max(1.0) as u64;
        histogram
            .get_bucket()
            .iter()
            .find(|b| b.cumulative_count() >= target)
            .map(|b| b.upper_bound())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
