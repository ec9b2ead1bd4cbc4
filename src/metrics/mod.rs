//! The metrics of DESIGN §11, recorded through one typed API per running application.
//!
//! Every component gets an `Arc<Metrics>` and records through the typed methods below, so
//! label names and values are spelled in one place. Each method writes, in the same call, to
//! the [`StatusBoard`] (the typed state `/status`, the demo and tests read), to the
//! Prometheus registry that `/metrics` renders ([`Metrics::render`]), and, only when an OTLP
//! endpoint is configured, to OpenTelemetry instruments of the same names exported by a
//! periodic OTLP/HTTP reader. Nothing reads counts back out of the instruments.
//!
//! Why two instrument sets rather than one OTel SDK with a Prometheus reader: `/metrics` is
//! rendered straight from the maintained `prometheus` crate (tikv/rust-prometheus), with the
//! §11 names, labels and buckets written here, instead of through `opentelemetry-prometheus`,
//! whose maintenance has wavered (declared discontinued at 0.29 over its then protobuf
//! dependency, un-deprecated at 0.32; opentelemetry-rust #2451, #3288) and whose name and
//! label translation needs switches that have changed meaning between releases (0.33 turned
//! scope labels on by default). Without an OTLP endpoint no OTel meter provider exists and
//! nothing connects anywhere. Names and help texts live once, in `families`, so the two
//! sides carry the same names.

pub mod allocator;
mod families;
mod operator;
mod otel;
mod prom;

use std::sync::Arc;
use std::time::SystemTime;

use crate::change::TargetKind;
pub use crate::status::PushOutcomeLabel;
use crate::status::{MAX_STATUS_ERROR, StatusBoard};

use operator::OperatorProm;
use otel::{Otel, kv};
pub use otel::{OtlpMetrics, signal_url};
use prom::Prom;

/// End-to-end latency buckets (seconds): dense below the 5 s disclaimer window (so p50/p99
/// against it are exact to a few hundred ms), coarse above it up to the 300 s retry budget.
const LATENCY_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0,
    20.0, 30.0, 45.0, 60.0, 300.0,
];

/// All instruments of one application, and the status board they are recorded beside.
/// The `tenant` label of every series when per-tenant series are off.
pub const ALL_TENANTS: &str = "_all";

pub struct Metrics {
    /// Series per tenant (the default), or one `tenant="_all"` series per family and no
    /// per-tenant gauges (`telemetry.per_tenant_series = false`; `/status` keeps the detail).
    per_tenant: bool,
    prom: Prom,
    /// The operator's families (alerts and dashboard), registered in `prom`'s registry.
    operator: OperatorProm,
    /// Present only when an OTLP endpoint is configured.
    otel: Option<Otel>,
    board: Arc<StatusBoard>,
}

impl Metrics {
    /// Instruments read through [`Metrics::render`] only (no OTLP export).
    pub fn new() -> Self {
        Self::build(None).expect("a Prometheus-only registry always builds")
    }

    /// Instruments also exported over OTLP/HTTP every `otlp.interval`, when given.
    pub fn with_otlp(otlp: Option<&OtlpMetrics>) -> anyhow::Result<Self> {
        Self::build(otlp)
    }

    fn build(otlp: Option<&OtlpMetrics>) -> anyhow::Result<Self> {
        let prom = Prom::new()?;
        Ok(Self {
            per_tenant: true,
            operator: OperatorProm::new(prom.registry())?,
            prom,
            otel: otlp.map(Otel::new).transpose()?,
            board: Arc::default(),
        })
    }

    /// Series per tenant (`true`, the default) or aggregated under `tenant="_all"`, the
    /// per-tenant gauges (gate rate, ceiling, reopening, data-table rows) left out.
    pub fn with_per_tenant_series(mut self, per_tenant: bool) -> Self {
        self.per_tenant = per_tenant;
        self
    }

    /// The `tenant` label value a series of `tenant` gets.
    fn label<'a>(&self, tenant: &'a str) -> &'a str {
        if self.per_tenant { tenant } else { ALL_TENANTS }
    }

    /// The typed per-tenant state the record methods keep (for `/status`, the demo, tests).
    pub fn board(&self) -> Arc<StatusBoard> {
        self.board.clone()
    }

    fn otel(&self, record: impl FnOnce(&Otel)) {
        if let Some(otel) = &self.otel {
            record(otel);
        }
    }

    /// Exports every counter series whose labels are known at start at 0 (Prometheus's
    /// advice), so `rate()` and alerts work from the first scrape: per tenant, its targets,
    /// every push outcome and the dead-letter `reasons` a configured tenant can have. Series
    /// whose labels only events reveal (an HTTP status, an unknown tenant) appear with them.
    /// The status board lists the tenant and its targets from now on too.
    pub fn start_at_zero(&self, tenant: &str, targets: &[TargetKind], reasons: &[&str]) {
        let label = self.label(tenant);
        self.prom.start_at_zero(label, targets, reasons);
        self.operator.start_at_zero(label, targets, self.per_tenant);
        self.otel(|o| o.start_at_zero(label, targets, reasons));
        self.board.update(tenant, |t| {
            for target in targets {
                t.target_mut(*target);
            }
        });
    }

    /// A pipeline task of `tenant` panicked: `task` is its target's lane or `tenant` (the loop).
    pub fn task_panic(&self, tenant: &str, task: &str) {
        self.prom
            .task_panics
            .with_label_values(&[self.label(tenant), task])
            .inc();
        self.otel(|o| {
            o.task_panics
                .add(1, &[kv("tenant", self.label(tenant)), kv("task", task)])
        });
    }

    pub fn consumed(&self, tenant: &str) {
        self.board.update(tenant, |t| t.consumed += 1);
        self.prom
            .consumed
            .with_label_values(&[self.label(tenant)])
            .inc();
        self.otel(|o| o.consumed.add(1, &[kv("tenant", self.label(tenant))]));
    }

    /// A delivery's terminal action completed: acked, or dead-lettered and acked. On the
    /// status board only (no §11 family).
    pub fn settled(&self, tenant: &str) {
        self.board.update(tenant, |t| t.settled += 1);
    }

    pub fn push_outcome(&self, tenant: &str, target: TargetKind, outcome: PushOutcomeLabel) {
        self.board.push_outcome(tenant, target, outcome);
        let labels = [self.label(tenant), target.as_str(), outcome.as_str()];
        self.prom.pushes.with_label_values(&labels).inc();
        self.otel(|o| {
            let [t, g, x] = labels;
            o.pushes
                .add(1, &[kv("tenant", t), kv("target", g), kv("outcome", x)]);
        });
    }

    /// `status` is the HTTP status, or `error` for a transport failure.
    pub fn http_request(&self, target: TargetKind, status: &str) {
        let labels = [target.as_str(), status];
        self.prom.http_requests.with_label_values(&labels).inc();
        self.otel(|o| {
            let attrs = [kv("target", target.as_str()), kv("status", status)];
            o.http_requests.add(1, &attrs);
        });
    }

    pub fn rate_limited(&self, tenant: &str, target: TargetKind) {
        self.board
            .update_target(tenant, target, |t| t.rate_limited += 1);
        self.prom
            .rate_limited
            .with_label_values(&pair(self.label(tenant), target))
            .inc();
        self.otel(|o| o.rate_limited.add(1, &attrs(self.label(tenant), target)));
    }

    pub fn retried(&self, tenant: &str, target: TargetKind) {
        self.board.update_target(tenant, target, |t| t.retries += 1);
        self.prom
            .retries
            .with_label_values(&pair(self.label(tenant), target))
            .inc();
        self.otel(|o| o.retries.add(1, &attrs(self.label(tenant), target)));
    }

    pub fn gate_paused(&self, tenant: &str, target: TargetKind, seconds: f64) {
        let seconds = seconds.max(0.0);
        self.board
            .update_target(tenant, target, |t| t.paused_seconds += seconds);
        let series = self
            .prom
            .gate_paused_seconds
            .with_label_values(&pair(self.label(tenant), target));
        series.inc_by(seconds);
        self.otel(|o| {
            o.gate_paused_seconds
                .add(seconds, &attrs(self.label(tenant), target))
        });
    }

    pub fn gate_rate(&self, tenant: &str, target: TargetKind, per_minute: f64) {
        self.board
            .update_target(tenant, target, |t| t.gate_rate = Some(per_minute));
        if !self.per_tenant {
            return;
        }
        let series = self
            .prom
            .gate_rate
            .with_label_values(&pair(self.label(tenant), target));
        series.set(per_minute);
        self.otel(|o| {
            o.gate_rate
                .record(per_minute, &attrs(self.label(tenant), target))
        });
    }

    /// A server asked for a wait beyond `retry.max_retry_after`; it was clamped.
    pub fn retry_after_clamped(&self, tenant: &str, target: TargetKind) {
        self.prom
            .retry_after_clamped
            .with_label_values(&pair(self.label(tenant), target))
            .inc();
        self.otel(|o| {
            o.retry_after_clamped
                .add(1, &attrs(self.label(tenant), target))
        });
    }

    /// `changes` changes of (tenant, target) went to the wait queue (their gate stays closed).
    pub fn parked(&self, tenant: &str, target: TargetKind, changes: u64) {
        self.board
            .update_target(tenant, target, |t| t.parked += changes);
        self.prom
            .parked
            .with_label_values(&pair(self.label(tenant), target))
            .inc_by(changes);
        self.otel(|o| o.parked.add(changes, &attrs(self.label(tenant), target)));
    }

    /// A retire was carried out at (tenant, target).
    pub fn retired(&self, tenant: &str, target: TargetKind) {
        self.board.update_target(tenant, target, |t| t.retired += 1);
        self.prom
            .retired
            .with_label_values(&pair(self.label(tenant), target))
            .inc();
        self.otel(|o| o.retired.add(1, &attrs(self.label(tenant), target)));
    }

    /// Seconds until the (tenant, target) gate reopens, 0 when open. Set when a pause starts
    /// and refreshed at each `/metrics` scrape (see [`Metrics::refresh_gates`]).
    pub fn gate_reopens_in(&self, tenant: &str, target: TargetKind, seconds: f64) {
        let seconds = seconds.max(0.0);
        if !self.per_tenant {
            return;
        }
        let series = self
            .prom
            .gate_reopens_in
            .with_label_values(&pair(self.label(tenant), target));
        series.set(seconds);
        self.otel(|o| {
            o.gate_reopens_in
                .record(seconds, &attrs(self.label(tenant), target))
        });
    }

    /// The gate's ceiling (requests per minute) changed.
    pub fn gate_ceiling(&self, tenant: &str, target: TargetKind, per_minute: f64) {
        self.board
            .update_target(tenant, target, |t| t.gate_ceiling = Some(per_minute));
        if !self.per_tenant {
            return;
        }
        let series = self
            .prom
            .gate_ceiling
            .with_label_values(&pair(self.label(tenant), target));
        series.set(per_minute);
        self.otel(|o| {
            o.gate_ceiling
                .record(per_minute, &attrs(self.label(tenant), target))
        });
    }

    /// This replica consumes `tenant` with `prefetch` now (`None`: no longer): `/status` only.
    pub fn consumer_prefetch(&self, tenant: &str, prefetch: Option<u16>) {
        self.board.update(tenant, |t| t.prefetch = prefetch);
    }

    /// The tenant's Genesys data table holds `rows` rows.
    pub fn datatable_rows(&self, tenant: &str, rows: usize) {
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        self.board.update(tenant, |t| t.datatable_rows = Some(rows));
        if !self.per_tenant {
            return;
        }
        self.prom
            .datatable_rows
            .with_label_values(&[self.label(tenant)])
            .set(rows);
        self.otel(|o| {
            o.datatable_rows
                .record(rows, &[kv("tenant", self.label(tenant))])
        });
    }

    /// This process knows `n` tenants.
    pub fn tenants_configured(&self, n: usize) {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.prom.tenants_configured.set(n);
        self.otel(|o| o.tenants_configured.record(n, &[]));
    }

    /// `n` tenant files (or the tenants directory) cannot be used now.
    pub fn tenant_config_errors(&self, n: usize) {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.prom.tenant_config_errors.set(n);
        self.otel(|o| o.tenant_config_errors.record(n, &[]));
    }

    pub fn dead_lettered(&self, tenant: &str, reason: &str) {
        self.board.update(tenant, |t| {
            *t.dead_lettered.entry(reason.to_owned()).or_default() += 1;
        });
        self.prom
            .dead_lettered
            .with_label_values(&[self.label(tenant), reason])
            .inc();
        self.otel(|o| {
            let attrs = [kv("tenant", self.label(tenant)), kv("reason", reason)];
            o.dead_lettered.add(1, &attrs);
        });
    }

    pub fn superseded(&self, tenant: &str) {
        self.board.update(tenant, |t| t.superseded += 1);
        self.prom
            .superseded
            .with_label_values(&[self.label(tenant)])
            .inc();
        self.otel(|o| o.superseded.add(1, &[kv("tenant", self.label(tenant))]));
    }

    pub fn inflight_add(&self, tenant: &str, delta: i64) {
        self.board.update(tenant, |t| t.inflight += delta);
        self.prom
            .inflight
            .with_label_values(&[self.label(tenant)])
            .add(delta);
        self.otel(|o| o.inflight.add(delta, &[kv("tenant", self.label(tenant))]));
    }

    pub fn token_renewal(&self, tenant: &str, target: TargetKind) {
        self.board
            .update_target(tenant, target, |t| t.token_renewals += 1);
        self.prom
            .token_renewals
            .with_label_values(&pair(self.label(tenant), target))
            .inc();
        self.otel(|o| o.token_renewals.add(1, &attrs(self.label(tenant), target)));
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

    /// Prometheus text exposition of every family, for `/metrics`; the allocator's figures
    /// are read now.
    pub fn render(&self) -> String {
        if let Some(bytes) = allocator::AllocatorBytes::read() {
            for (kind, value) in bytes.kinds() {
                let value = i64::try_from(value).unwrap_or(i64::MAX);
                self.prom
                    .allocator_bytes
                    .with_label_values(&[kind])
                    .set(value);
            }
        }
        self.prom.render()
    }

    /// Exports what is pending over OTLP (blocking; a no-op without OTLP). Recording and
    /// `/metrics` keep working afterwards.
    pub fn flush(&self) {
        self.otel(Otel::flush);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The Prometheus label values `{tenant, target}`.
fn pair(tenant: &str, target: TargetKind) -> [&str; 2] {
    [tenant, target.as_str()]
}

/// The OTel attributes `{tenant, target}`.
fn attrs(tenant: &str, target: TargetKind) -> [opentelemetry::KeyValue; 2] {
    [kv("tenant", tenant), kv("target", target.as_str())]
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
