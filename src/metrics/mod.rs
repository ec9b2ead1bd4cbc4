//! The metrics of DESIGN §11, recorded through one typed API per running application.
//!
//! Every component gets an `Arc<Metrics>` and records through its typed methods, so label
//! names and values are spelled in one place: a tenant's deliveries in `deliveries`, what
//! happens at its targets in `targets`, the gates in `gates`, the operator's families
//! (readiness, consumers, durations) in `operator`. Each method writes, in the same call, to
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
mod deliveries;
mod families;
mod gates;
mod operator;
mod otel;
mod prom;
mod targets;

use std::sync::Arc;

use crate::change::TargetKind;
pub use crate::status::PushOutcomeLabel;
use crate::status::StatusBoard;

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

/// The `tenant` label of every series when per-tenant series are off.
pub const ALL_TENANTS: &str = "_all";

/// All instruments of one application, and the status board they are recorded beside.
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
