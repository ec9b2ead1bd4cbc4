//! The Prometheus side of the §11 instruments: a `prometheus::Registry` holding one vector
//! per family, which `/metrics` renders. Names and help texts come from [`super::families`];
//! label names are given here, once, in the order the record methods pass their values.

use prometheus::core::Collector;
use prometheus::{
    CounterVec, Encoder, GaugeVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use super::PushOutcomeLabel;
use super::families::{self as f, Family};
use crate::change::TargetKind;

/// Every family, registered in one registry.
pub(super) struct Prom {
    registry: Registry,
    /// `{tenant}`
    pub consumed: IntCounterVec,
    /// `{tenant, target, outcome}`
    pub pushes: IntCounterVec,
    /// `{target, status}`
    pub http_requests: IntCounterVec,
    /// `{tenant, target}`
    pub rate_limited: IntCounterVec,
    /// `{tenant, target}`
    pub retries: IntCounterVec,
    /// `{tenant, target}`
    pub gate_paused_seconds: CounterVec,
    /// `{tenant, target}`
    pub gate_rate: GaugeVec,
    /// `{tenant, reason}`
    pub dead_lettered: IntCounterVec,
    /// `{tenant}`
    pub superseded: IntCounterVec,
    /// `{tenant}`
    pub inflight: IntGaugeVec,
    /// `{tenant, target}`
    pub token_renewals: IntCounterVec,
    /// `{tenant, task}`
    pub task_panics: IntCounterVec,
    /// `{tenant, target}`
    pub retry_after_clamped: IntCounterVec,
    /// `{tenant, target}`
    pub gate_reopens_in: GaugeVec,
    /// `{tenant, target}`
    pub gate_ceiling: GaugeVec,
    /// `{tenant, target}`
    pub parked: IntCounterVec,
    /// `{tenant}`
    pub datatable_rows: IntGaugeVec,
    /// `{tenant, target}`
    pub retired: IntCounterVec,
    pub tenants_configured: IntGauge,
    /// `{kind}`
    pub allocator_bytes: IntGaugeVec,
    pub tenant_config_errors: IntGauge,
}

const TENANT: &[&str] = &["tenant"];
const TENANT_TARGET: &[&str] = &["tenant", "target"];

fn opts(family: &Family) -> Opts {
    Opts::new(family.name, family.help)
}

/// Registers `collector` in `registry` and hands it back.
fn register<C: Collector + Clone + 'static>(
    registry: &Registry,
    collector: prometheus::Result<C>,
) -> prometheus::Result<C> {
    let collector = collector?;
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

impl Prom {
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let r = &registry;
        let counter = |family: &Family, labels: &[&str]| {
            register(r, IntCounterVec::new(opts(family), labels))
        };
        Ok(Self {
            consumed: counter(&f::CONSUMED, TENANT)?,
            pushes: counter(&f::PUSHES, &["tenant", "target", "outcome"])?,
            http_requests: counter(&f::HTTP_REQUESTS, &["target", "status"])?,
            rate_limited: counter(&f::RATE_LIMITED, TENANT_TARGET)?,
            retries: counter(&f::RETRIES, TENANT_TARGET)?,
            dead_lettered: counter(&f::DEAD_LETTERED, &["tenant", "reason"])?,
            superseded: counter(&f::SUPERSEDED, TENANT)?,
            token_renewals: counter(&f::TOKEN_RENEWALS, TENANT_TARGET)?,
            task_panics: counter(&f::TASK_PANICS, &["tenant", "task"])?,
            retry_after_clamped: counter(&f::RETRY_AFTER_CLAMPED, TENANT_TARGET)?,
            parked: counter(&f::PARKED, TENANT_TARGET)?,
            retired: counter(&f::RETIRED, TENANT_TARGET)?,
            gate_reopens_in: register(r, GaugeVec::new(opts(&f::GATE_REOPENS_IN), TENANT_TARGET))?,
            gate_ceiling: register(r, GaugeVec::new(opts(&f::GATE_CEILING), TENANT_TARGET))?,
            datatable_rows: register(r, IntGaugeVec::new(opts(&f::DATATABLE_ROWS), TENANT))?,
            tenants_configured: register(r, IntGauge::with_opts(opts(&f::TENANTS_CONFIGURED)))?,
            allocator_bytes: register(r, IntGaugeVec::new(opts(&f::ALLOCATOR_BYTES), &["kind"]))?,
            tenant_config_errors: register(r, IntGauge::with_opts(opts(&f::TENANT_CONFIG_ERRORS)))?,
            gate_paused_seconds: register(
                r,
                CounterVec::new(opts(&f::GATE_PAUSED_SECONDS), TENANT_TARGET),
            )?,
            gate_rate: register(r, GaugeVec::new(opts(&f::GATE_RATE), TENANT_TARGET))?,
            inflight: register(r, IntGaugeVec::new(opts(&f::INFLIGHT), TENANT))?,
            registry,
        })
        .and_then(Self::with_process_collector)
    }

    /// Adds the standard `process_*` families (CPU seconds, resident memory, open file
    /// descriptors, start time) read from /proc at each scrape.
    fn with_process_collector(self) -> prometheus::Result<Self> {
        #[cfg(target_os = "linux")]
        self.registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(self)
    }

    /// Creates every series whose labels are known at start, at 0 (see
    /// `Metrics::start_at_zero`).
    pub fn start_at_zero(&self, tenant: &str, targets: &[TargetKind], reasons: &[&str]) {
        self.consumed.with_label_values(&[tenant]);
        self.superseded.with_label_values(&[tenant]);
        self.inflight.with_label_values(&[tenant]);
        self.task_panics.with_label_values(&[tenant, "tenant"]);
        for reason in reasons {
            self.dead_lettered.with_label_values(&[tenant, reason]);
        }
        for target in targets {
            let pair = [tenant, target.as_str()];
            for counter in [
                &self.rate_limited,
                &self.retries,
                &self.token_renewals,
                &self.retry_after_clamped,
                &self.parked,
                &self.retired,
            ] {
                counter.with_label_values(&pair);
            }
            self.gate_reopens_in.with_label_values(&pair);
            self.gate_paused_seconds.with_label_values(&pair);
            self.task_panics.with_label_values(&pair);
            for outcome in PushOutcomeLabel::ALL {
                self.pushes
                    .with_label_values(&[tenant, target.as_str(), outcome.as_str()]);
            }
        }
    }

    /// The registry, for the families kept elsewhere (`super::operator`).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition of every family.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
