//! What happens at a tenant's targets, recorded per (tenant, target): each change's push
//! outcome, the HTTP requests and their statuses, retries, retires, parked changes, token
//! renewals, the last success and error (`/status`), and the Genesys data table's rows.

use std::time::SystemTime;

use opentelemetry::metrics::Counter;
use prometheus::IntCounterVec;

use super::otel::{Otel, kv};
use super::{Metrics, PushOutcomeLabel, attrs, pair};
use crate::change::TargetKind;
use crate::status::MAX_STATUS_ERROR;

impl Metrics {
    /// Adds `n` to the (tenant, target) counter `prom` and its OTel twin `otel` (the board is
    /// the caller's).
    pub(super) fn count(
        &self,
        prom: &IntCounterVec,
        otel: fn(&Otel) -> &Counter<u64>,
        tenant: &str,
        target: TargetKind,
        n: u64,
    ) {
        let label = self.label(tenant);
        prom.with_label_values(&pair(label, target)).inc_by(n);
        self.otel(|o| otel(o).add(n, &attrs(label, target)));
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

    pub fn retried(&self, tenant: &str, target: TargetKind) {
        self.board.update_target(tenant, target, |t| t.retries += 1);
        self.count(&self.prom.retries, |o| &o.retries, tenant, target, 1);
    }

    /// `changes` changes of (tenant, target) went to the wait queue (their gate stays closed).
    pub fn parked(&self, tenant: &str, target: TargetKind, changes: u64) {
        self.board
            .update_target(tenant, target, |t| t.parked += changes);
        self.count(&self.prom.parked, |o| &o.parked, tenant, target, changes);
    }

    /// A retire was carried out at (tenant, target).
    pub fn retired(&self, tenant: &str, target: TargetKind) {
        self.board.update_target(tenant, target, |t| t.retired += 1);
        self.count(&self.prom.retired, |o| &o.retired, tenant, target, 1);
    }

    pub fn token_renewal(&self, tenant: &str, target: TargetKind) {
        self.board
            .update_target(tenant, target, |t| t.token_renewals += 1);
        let prom = &self.prom.token_renewals;
        self.count(prom, |o| &o.token_renewals, tenant, target, 1);
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
}
