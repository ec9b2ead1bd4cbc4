//! What happens to a tenant's deliveries, recorded per tenant: consumed, settled, superseded,
//! held in flight, dead-lettered; the pipeline's task panics; the consumer's prefetch; and how
//! many tenants (and unusable tenant files) this process knows.

use super::Metrics;
use super::otel::kv;

impl Metrics {
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

    /// This replica consumes `tenant` with `prefetch` now (`None`: no longer): `/status` only.
    pub fn consumer_prefetch(&self, tenant: &str, prefetch: Option<u16>) {
        self.board.update(tenant, |t| t.prefetch = prefetch);
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
}
