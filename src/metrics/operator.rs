//! The operator's families, which the chart's alerts and dashboard read: readiness, which
//! replica consumes each tenant, failed token requests, the dead-letter queue's depth, the
//! build, and the durations per (tenant, target): HTTP requests, and a change's end to end
//! from its `published_at` to its write at the target (the 5-second disclaimer window).
//! Prometheus and OTel instruments of each family live here together.

use opentelemetry::metrics::{Counter, Gauge, Histogram as OtelHistogram, Meter};
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use super::families::{self as f, Family};
use super::otel::kv;
use super::{LATENCY_BUCKETS, Metrics, attrs, pair};
use crate::change::TargetKind;

/// Buckets of an HTTP request's duration, seconds (the targets answer in milliseconds; the
/// request timeout is 30 s).
const HTTP_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

const TENANT_TARGET: &[&str] = &["tenant", "target"];

fn opts(family: &Family) -> Opts {
    Opts::new(family.name, family.help)
}

/// The Prometheus side, registered in the one registry.
pub(super) struct OperatorProm {
    ready: IntGauge,
    /// `{tenant}`
    consuming: IntGaugeVec,
    /// `{tenant, target}`
    token_failures: IntCounterVec,
    dlq_messages: IntGauge,
    /// `{tenant, target}`
    http_duration: HistogramVec,
    /// `{tenant, target}`
    end_to_end: HistogramVec,
}

impl OperatorProm {
    pub fn new(r: &Registry) -> prometheus::Result<Self> {
        let histogram = |family: &Family, buckets: &[f64]| -> prometheus::Result<HistogramVec> {
            let opts = HistogramOpts::new(family.name, family.help).buckets(buckets.to_vec());
            let h = HistogramVec::new(opts, TENANT_TARGET)?;
            r.register(Box::new(h.clone()))?;
            Ok(h)
        };
        let ready = IntGauge::with_opts(opts(&f::READY))?;
        let consuming = IntGaugeVec::new(opts(&f::CONSUMING), &["tenant"])?;
        let token_failures = IntCounterVec::new(opts(&f::TOKEN_FAILURES), TENANT_TARGET)?;
        let dlq_messages = IntGauge::with_opts(opts(&f::DLQ_MESSAGES))?;
        let build_info = IntGaugeVec::new(opts(&f::BUILD_INFO), &["version"])?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        r.register(Box::new(ready.clone()))?;
        r.register(Box::new(consuming.clone()))?;
        r.register(Box::new(token_failures.clone()))?;
        r.register(Box::new(dlq_messages.clone()))?;
        r.register(Box::new(build_info))?;
        Ok(Self {
            ready,
            consuming,
            token_failures,
            dlq_messages,
            http_duration: histogram(&f::HTTP_REQUEST_DURATION, HTTP_BUCKETS)?,
            end_to_end: histogram(&f::END_TO_END, LATENCY_BUCKETS)?,
        })
    }

    /// The series of a configured tenant at start (`label`: its id, or `_all`): no token
    /// failure, empty histograms, and (per tenant only) not consumed here.
    pub fn start_at_zero(&self, label: &str, targets: &[TargetKind], per_tenant: bool) {
        if per_tenant {
            self.consuming.with_label_values(&[label]);
        }
        for target in targets {
            let pair = [label, target.as_str()];
            self.token_failures.with_label_values(&pair);
            self.http_duration.with_label_values(&pair);
            self.end_to_end.with_label_values(&pair);
        }
    }
}

/// The OTel side, when OTLP is configured.
pub(super) struct OperatorOtel {
    ready: Gauge<i64>,
    consuming: Gauge<i64>,
    token_failures: Counter<u64>,
    dlq_messages: Gauge<i64>,
    http_duration: OtelHistogram<f64>,
    end_to_end: OtelHistogram<f64>,
}

impl OperatorOtel {
    pub fn new(meter: &Meter) -> Self {
        let gauge = |family: &Family| {
            meter
                .i64_gauge(family.name)
                .with_description(family.help)
                .build()
        };
        let histogram = |family: &Family, buckets: &[f64]| {
            meter
                .f64_histogram(family.name)
                .with_description(family.help)
                .with_unit("s")
                .with_boundaries(buckets.to_vec())
                .build()
        };
        Self {
            ready: gauge(&f::READY),
            consuming: gauge(&f::CONSUMING),
            token_failures: meter
                .u64_counter(f::TOKEN_FAILURES.name)
                .with_description(f::TOKEN_FAILURES.help)
                .build(),
            dlq_messages: gauge(&f::DLQ_MESSAGES),
            http_duration: histogram(&f::HTTP_REQUEST_DURATION, HTTP_BUCKETS),
            end_to_end: histogram(&f::END_TO_END, LATENCY_BUCKETS),
        }
    }
}

impl Metrics {
    fn operator_otel(&self, record: impl FnOnce(&OperatorOtel)) {
        self.otel(|o| record(&o.operator));
    }

    /// Whether `/readyz` answers 200 now (set when `/metrics` is read).
    pub fn ready(&self, ready: bool) {
        self.operator.ready.set(i64::from(ready));
        self.operator_otel(|o| o.ready.record(i64::from(ready), &[]));
    }

    /// Whether this replica consumes `tenant`'s queue now.
    pub fn consuming(&self, tenant: &str, consuming: bool) {
        if !self.per_tenant {
            return;
        }
        let value = i64::from(consuming);
        self.operator
            .consuming
            .with_label_values(&[tenant])
            .set(value);
        self.operator_otel(|o| o.consuming.record(value, &[kv("tenant", tenant)]));
    }

    /// `tenant` left the tenant set: its `scriptsync_consuming` series goes (a removed org is
    /// not one that nobody consumes).
    pub fn consuming_forgotten(&self, tenant: &str) {
        if self.per_tenant {
            let _ = self.operator.consuming.remove_label_values(&[tenant]);
        }
    }

    /// A token request for (`tenant`, `target`) failed.
    pub fn token_failure(&self, tenant: &str, target: TargetKind) {
        self.operator
            .token_failures
            .with_label_values(&pair(self.label(tenant), target))
            .inc();
        self.operator_otel(|o| o.token_failures.add(1, &attrs(self.label(tenant), target)));
    }

    /// Messages in the dead-letter queue, as the broker counted them last.
    pub fn dlq_messages(&self, messages: u32) {
        let value = i64::from(messages);
        self.operator.dlq_messages.set(value);
        self.operator_otel(|o| o.dlq_messages.record(value, &[]));
    }

    /// One HTTP request of (`tenant`, `target`) took `seconds`, to its whole answer.
    pub fn http_duration(&self, tenant: &str, target: TargetKind, seconds: f64) {
        let prom = &self.operator.http_duration;
        self.observe(prom, |o| &o.http_duration, tenant, target, seconds);
    }

    /// A change reached `target`: `seconds` from its `published_at` to the target's answer.
    pub fn end_to_end(&self, tenant: &str, target: TargetKind, seconds: f64) {
        let prom = &self.operator.end_to_end;
        self.observe(prom, |o| &o.end_to_end, tenant, target, seconds);
    }

    /// Records `seconds` in the (tenant, target) histogram `prom` and its OTel twin `otel`.
    fn observe(
        &self,
        prom: &HistogramVec,
        otel: fn(&OperatorOtel) -> &OtelHistogram<f64>,
        tenant: &str,
        target: TargetKind,
        seconds: f64,
    ) {
        let label = self.label(tenant);
        prom.with_label_values(&pair(label, target))
            .observe(seconds);
        self.operator_otel(|o| otel(o).record(seconds, &attrs(label, target)));
    }
}
