//! The admin HTTP endpoints (DESIGN §9), served by the application on `admin.listen`:
//!
//! - `/healthz`: 200 while the process runs (it does not depend on the broker);
//! - `/readyz`: 200 only while the broker connection is up, the topology declared, every
//!   tenant consumer running and the broker confirming durable writes (the write probe: a
//!   RabbitMQ cluster that lost its majority fails it), else 503;
//! - `/metrics`: the Prometheus text exposition of the §11 instruments;
//! - `/status`: JSON per tenant and target: gate state (open, or paused until when), current
//!   rate and ceiling, requests in flight, last success, last error (no secrets), and the
//!   deliveries the tenant holds unacked; which replica owns each tenant, and the live
//!   replicas as this one sees them; the tenant files that cannot be used now. Read from the status board (typed state), never from
//!   the metrics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_util::sync::CancellationToken;

use crate::broker::Names;
use crate::change::TargetKind;
use crate::cluster::{Membership, assign};
use crate::metrics::Metrics;
use crate::push::Gate;
use crate::status::PanicLog;
use crate::status::{StatusBoard, TenantState};
use crate::tenants::{Problem, TenantSet};

/// What the endpoints read; everything is shared with the running application.
pub struct AdminState {
    /// Rendered by `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Read by `/status`.
    pub board: Arc<StatusBoard>,
    pub ready: Arc<AtomicBool>,
    /// The broker confirms durable writes (see `broker::probe`).
    pub writable: Arc<AtomicBool>,
    /// Recent task panics: too many make the worker not ready.
    pub panics: Arc<PanicLog>,
    /// Every tenant this process knows, now.
    pub tenants: Arc<TenantSet>,
    /// The queue names.
    pub names: Names,
    /// Who is alive, and so which tenants are this replica's.
    pub membership: Arc<Membership>,
}

impl AdminState {
    /// Connected and consuming, the broker confirming durable writes, and not panicking
    /// repeatedly.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
            && self.writable.load(Ordering::SeqCst)
            && !self.panics.too_many(tokio::time::Instant::now())
    }
}

/// The `/status` document.
#[derive(Debug, Serialize)]
pub struct Status {
    pub ready: bool,
    /// This replica's id, and every live replica's (this one's view of the membership).
    pub replica: String,
    pub replicas: Vec<String>,
    pub tenants: Vec<TenantStatus>,
    /// Tenant files (or the tenants directory) that cannot be used now; each named tenant
    /// keeps its last good settings (or is absent if it never had any).
    pub tenant_config_errors: Vec<Problem>,
}

#[derive(Debug, Serialize)]
pub struct TenantStatus {
    pub tenant: String,
    pub queue: String,
    /// The replica that owns the tenant among the live ones (this replica pushes for it
    /// when that is its own id).
    pub owner: Option<String>,
    /// Deliveries taken from the queue and not yet settled.
    pub unacked: i64,
    /// Rows in the tenant's Genesys data table, once listed (an alert fires near the cap).
    pub datatable_rows: Option<i64>,
    /// The prefetch of this replica's consumer of the tenant (its share of
    /// `broker.max_inflight`), while it consumes it.
    pub prefetch: Option<u16>,
    pub targets: Vec<TargetStatus>,
}

#[derive(Debug, Serialize)]
pub struct TargetStatus {
    pub target: &'static str,
    /// `open` or `paused`.
    pub gate: &'static str,
    /// RFC 3339; present while paused.
    pub paused_until: Option<String>,
    /// Seconds until the gate reopens (0 when open): what `scriptsync_gate_reopens_in_seconds`
    /// says, so an alert can fire on a long pause rather than on a flood of dead letters.
    pub reopens_in_seconds: Option<f64>,
    /// Changes handed to the wait queue because this gate stayed closed past the hold limit.
    pub parked: u64,
    pub rate_per_minute: Option<f64>,
    pub ceiling_per_minute: Option<f64>,
    pub in_flight: Option<usize>,
    pub last_success: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub last_status: Option<u16>,
}

/// The router of the four endpoints.
pub fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .with_state(state)
}

/// Serves the endpoints on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AdminState>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Binds `addr` now (so a bad address fails at start and port 0 resolves at once).
pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

async fn readyz(State(state): State<Arc<AdminState>>) -> impl IntoResponse {
    if state.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn metrics(State(state): State<Arc<AdminState>>) -> impl IntoResponse {
    state.metrics.ready(state.is_ready());
    // Pauses end by themselves: the seconds until each gate reopens are read now.
    for (id, parts) in state.tenants.snapshot() {
        for target in &parts.targets {
            let left = target.gate().paused_for().unwrap_or_default();
            state
                .metrics
                .gate_reopens_in(&id, target.kind(), left.as_secs_f64());
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn status(State(state): State<Arc<AdminState>>) -> Json<Status> {
    Json(snapshot(&state))
}

/// The `/status` document, now.
pub fn snapshot(state: &AdminState) -> Status {
    let now = SystemTime::now();
    let replicas = state.membership.watch().borrow().clone();
    let all = state.tenants.snapshot();
    let owners = assign(all.keys().map(String::as_str), &replicas);
    let tenants = all
        .iter()
        .map(|(id, parts)| {
            let board = state.board.tenant(id);
            TenantStatus {
                tenant: id.clone(),
                queue: state.names.tenant_queue(id),
                owner: owners.get(id).cloned(),
                unacked: board.inflight,
                datatable_rows: board.datatable_rows,
                prefetch: board.prefetch,
                targets: parts
                    .targets
                    .iter()
                    .map(|t| target_status(&board, t.kind(), Some(t.gate().as_ref()), now))
                    .collect(),
            }
        })
        .collect();
    Status {
        ready: state.is_ready(),
        replica: state.membership.me().to_owned(),
        replicas: replicas.iter().cloned().collect(),
        tenants,
        tenant_config_errors: state.tenants.problems(),
    }
}

fn target_status(
    board: &TenantState,
    kind: TargetKind,
    gate: Option<&Gate>,
    now: SystemTime,
) -> TargetStatus {
    let snap = gate.map(Gate::snapshot);
    let paused_for = snap.as_ref().and_then(|s| s.paused_for);
    let last = board.target(kind).last;
    TargetStatus {
        target: kind.as_str(),
        gate: if paused_for.is_some() {
            "paused"
        } else {
            "open"
        },
        paused_until: paused_for.map(|d| rfc3339(now + d)),
        reopens_in_seconds: snap
            .as_ref()
            .map(|s| round2(s.paused_for.unwrap_or_default().as_secs_f64())),
        parked: board.target(kind).parked,
        rate_per_minute: snap.as_ref().map(|s| round2(s.per_minute)),
        ceiling_per_minute: snap.as_ref().map(|s| round2(s.ceiling_per_minute)),
        in_flight: snap.as_ref().map(|s| s.in_flight),
        last_success: last.last_success.map(rfc3339),
        last_error: last.last_error,
        last_error_at: last.last_error_at.map(rfc3339),
        last_status: last.last_status,
    }
}

fn rfc3339(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "?".into())
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
