//! What a (tenant, target) gate does, recorded on both sides: the 429s that close it, the
//! seconds it stays paused and when it reopens, its rate and ceiling, and the server waits
//! clamped to `retry.max_retry_after`. The gauges are per tenant only: with
//! `telemetry.per_tenant_series = false` they are left out (the board keeps them).

use opentelemetry::metrics::Gauge;
use prometheus::GaugeVec;

use super::otel::Otel;
use super::{Metrics, attrs, pair};
use crate::change::TargetKind;

impl Metrics {
    /// Sets the (tenant, target) gauge `prom` and its OTel twin `otel` to `value`, when series
    /// are per tenant.
    fn gauge(
        &self,
        prom: &GaugeVec,
        otel: fn(&Otel) -> &Gauge<f64>,
        tenant: &str,
        target: TargetKind,
        value: f64,
    ) {
        if !self.per_tenant {
            return;
        }
        let label = self.label(tenant);
        prom.with_label_values(&pair(label, target)).set(value);
        self.otel(|o| otel(o).record(value, &attrs(label, target)));
    }

    pub fn rate_limited(&self, tenant: &str, target: TargetKind) {
        self.board
            .update_target(tenant, target, |t| t.rate_limited += 1);
        let prom = &self.prom.rate_limited;
        self.count(prom, |o| &o.rate_limited, tenant, target, 1);
    }

    /// A server asked for a wait beyond `retry.max_retry_after`; it was clamped.
    pub fn retry_after_clamped(&self, tenant: &str, target: TargetKind) {
        let prom = &self.prom.retry_after_clamped;
        self.count(prom, |o| &o.retry_after_clamped, tenant, target, 1);
    }

    pub fn gate_paused(&self, tenant: &str, target: TargetKind, seconds: f64) {
        let seconds = seconds.max(0.0);
        self.board
            .update_target(tenant, target, |t| t.paused_seconds += seconds);
        let label = self.label(tenant);
        let series = &self.prom.gate_paused_seconds;
        series
            .with_label_values(&pair(label, target))
            .inc_by(seconds);
        self.otel(|o| o.gate_paused_seconds.add(seconds, &attrs(label, target)));
    }

    pub fn gate_rate(&self, tenant: &str, target: TargetKind, per_minute: f64) {
        self.board
            .update_target(tenant, target, |t| t.gate_rate = Some(per_minute));
        let prom = &self.prom.gate_rate;
        self.gauge(prom, |o| &o.gate_rate, tenant, target, per_minute);
    }

    /// Seconds until the (tenant, target) gate reopens, 0 when open. Set when a pause starts
    /// and refreshed at each `/metrics` scrape (the admin handler reads every gate's pause).
    pub fn gate_reopens_in(&self, tenant: &str, target: TargetKind, seconds: f64) {
        let seconds = seconds.max(0.0);
        let prom = &self.prom.gate_reopens_in;
        self.gauge(prom, |o| &o.gate_reopens_in, tenant, target, seconds);
    }

    /// The gate's ceiling (requests per minute) changed.
    pub fn gate_ceiling(&self, tenant: &str, target: TargetKind, per_minute: f64) {
        self.board
            .update_target(tenant, target, |t| t.gate_ceiling = Some(per_minute));
        let prom = &self.prom.gate_ceiling;
        self.gauge(prom, |o| &o.gate_ceiling, tenant, target, per_minute);
    }
}
