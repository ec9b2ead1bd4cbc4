//! `scriptsync_sim`: Genesys Cloud and ServiceNow on one loopback port (DESIGN §12). The
//! `scriptsync sim` command serves it for integrators' rehearsals; scriptsync's integration
//! tests, `scriptsync demo` and `scriptsync bench` start it in-process with
//! [`Simulator::start`] and read what it holds with [`SimHandle::state`]. It knows nothing of
//! the worker beyond the HTTP calls it makes.
//!
//! Quotas behave like the real ones (fixed Genesys windows, hourly ServiceNow rules scaled by a
//! factor), every 429 carries `Retry-After`, tokens expire, faults can be injected, and
//! `GET /_sim/state` reports per tenant what each target holds and how many requests arrived
//! during a pause (`violations`, which the worker must keep at 0).
//!
//! # What the simulator models
//! - Genesys: the login; data-table rows (create, list, read, update, and delete → 204), with
//!   the table's limits (`genesys_max_rows_per_table`, keys of at most
//!   [`GENESYS_MAX_ROW_KEY_CHARS`] characters, a duplicate `POST` answered
//!   `genesys_duplicate_row_status`); script publishing; the org limits,
//!   `GET /api/v2/organizations/limits/namespaces/{namespace}`, which lists
//!   [`GENESYS_RATE_LIMIT_KEY`] = `genesys_requests_per_minute` in
//!   [`GENESYS_LIMITS_NAMESPACE`] (404 for any other namespace; 403 `missing.permissions` with
//!   the `limits_refused` fault); the org's data tables themselves (read with
//!   `?expand=schema`, searched by name, created; with `genesys_datatables` set only those
//!   exist and rows must fit their schema) and the OAuth clients' permissions
//!   (`genesys_permissions`: a 403 `missing.any.permissions` listing those the call accepts). Quotas per principal (OAuth client id): the per-window quota,
//!   optionally shared with another integration of the same org
//!   ([`Faults::other_integration_share`], counted in [`TargetState::other_requests`]), and an
//!   optional daily limit (`genesys_daily_limit` per `genesys_day`). Their 429s say
//!   "Retry the request in \[N\] seconds" with `Retry-After`, or, with
//!   [`Faults::genesys_legacy_429`], the pre-November-2021 wording without any wait (and then
//!   record no pause).
//! - ServiceNow: the login (client credentials, password, refresh), the Import Set API (single
//!   and insertMultiple, and the read of one staging record), the staging tables the instance
//!   has (`servicenow_staging_tables`; any other is "Invalid table"), the Batch API, and the
//!   integrator's transform: coalesce on
//!   (`u_tenant`, `u_script_id`), skip older versions, and retire records whose `u_operation`
//!   is "retire" ([`HeldRecord::retired`]).
//! - Both: injected responses (any status, `Retry-After`, or a raw body), error rates, latency,
//!   dropped or hung connections, outages, expired tokens; [`SimHandle::watch_applied`] streams
//!   every applied write, delete and retire ([`Applied::deleted`]).
//!
//! # Layout
//! - `config`: [`SimConfig`]; [`fixtures`]: the shared fake org (table names, secret) and
//!   ready-made configs, for scriptsync's demo, bench and tests; [`duration_text`]: durations
//!   as text ("30s", "1h 30m") in both crates' configurations;
//! - `arrivals`: [`Arrivals`], time from a change's publication to each target holding it;
//! - `state`: the snapshot types ([`SimState`] and below);
//! - `world`: the locked mutable state shared by handlers;
//! - `quota`: fixed windows and pauses; `allowance`: a principal's gate (quota window with the
//!   other integration's share, daily window, pause); `gate` (+ `gate_tests`): the admission
//!   order of an API request;
//! - `faults`: [`Faults`]; `injected`: [`InjectedResponse`]; `fault_state`: their live
//!   countdowns; `tokens`: tokens and credentials;
//! - `genesys`: the Genesys routes and handlers (`genesys_tables`: those of the tables
//!   themselves); `genesys_api`: their common path and error dialect; `codes`: Genesys
//!   statuses and error codes (the public constants below); `datatable` (+
//!   `datatable_tests`) and `rows_page`: the row store and its listing; `limits`: the org
//!   limits endpoint; `table_defs`: the tables themselves and their schemas; `permissions`:
//!   which permission each call needs;
//! - `servicenow` + `oauth` + `batch` + `staging`: the ServiceNow endpoints; `servicenow_api`:
//!   their common path and error answers; `transform` (+ `transform_tests`) + `coalesce` +
//!   `import_result`: the import transform, its decision (upsert or retire) and its result
//!   rows;
//! - `request_head`: a request's line and headers as both common paths take them, and the
//!   same with the path's table for the calls on one table; `respond`: shared response
//!   builders; `admin`: the `/_sim` endpoints.
//!
//! Processing order of an API request: auth (401) → attribute to the principal (and note its
//! path) → violation check → outage → dropped connection → injected response → error rate →
//! quota (daily limit, then the window with the other integration's share) → latency →
//! handler; `requests[status]` counts whatever status is finally answered. A request that
//! matches no endpoint is answered 404 and listed in `unrouted`.

mod admin;
mod allowance;
mod arrivals;
mod batch;
mod coalesce;
mod codes;
mod config;
mod credentials;
mod datatable;
pub mod duration_text;
mod fault_state;
mod faults;
pub mod fixtures;
mod gate;
mod genesys;
mod genesys_api;
mod genesys_tables;
mod import_result;
mod injected;
mod limits;
mod oauth;
pub mod permissions;
mod quota;
mod request_head;
mod respond;
mod rows_page;
mod servicenow;
mod servicenow_api;
mod staging;
mod state;
pub mod table_defs;
mod tokens;
mod transform;
mod world;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use admin::{ExpireTokens, SetFaults};
pub use arrivals::{Arrivals, Latencies, LatencySummary, percentile};
pub use codes::{
    GENESYS_DATATABLE_NOT_FOUND_CODE, GENESYS_LEGACY_429_CODE, GENESYS_LIMITS_NAMESPACE,
    GENESYS_MAX_ROW_KEY_CHARS, GENESYS_MAX_ROWS_CODE, GENESYS_MAX_ROWS_STATUS,
    GENESYS_MISSING_ANY_PERMISSIONS_CODE, GENESYS_MISSING_PERMISSIONS_CODE, GENESYS_RATE_LIMIT_KEY,
    GENESYS_RETRY_AFTER_CODE, GENESYS_ROW_EXISTS_CODE, GENESYS_ROW_NOT_FOUND_CODE,
    GENESYS_SCHEMA_CODE,
};
pub use config::SimConfig;
pub use faults::{Faults, Outage, OutageMode};
pub use genesys_api::legacy_rate_limit_body as genesys_legacy_rate_limit_body;
pub use genesys_api::rate_limit_body as genesys_rate_limit_body;
pub use injected::InjectedResponse;
pub use state::{
    AnsweredRequest, Applied, HeldRecord, PublishedScript, RECENT_REQUESTS, ReplicaRun, SimState,
    SimTarget, TargetState, TenantState,
};
pub use table_defs::DataTableSpec;
pub use tokens::TOKEN_PREFIX;

use world::{Shared, Sim};

/// Largest request body accepted: ServiceNow allows 5 MB per batch sub-request.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Starts simulators.
#[derive(Debug, Clone, Copy)]
pub struct Simulator;

impl Simulator {
    /// Binds `listen` (port 0 picks a free port) and serves in a background task until
    /// [`SimHandle::shutdown`].
    pub async fn start(config: SimConfig, listen: SocketAddr) -> anyhow::Result<SimHandle> {
        let (listener, shared) = bind(config, listen).await?;
        let addr = listener.local_addr().context("sim: local address")?;
        let cancel = CancellationToken::new();
        let stopped = CancellationToken::new();
        let app = router(shared.clone());
        let (until, done) = (cancel.clone(), stopped.clone());
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(until.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "simulator stopped with an error");
            }
            done.cancel();
        });
        Ok(SimHandle {
            addr,
            shared,
            cancel,
            stopped,
        })
    }
}

/// A running simulator. Clones share it; it stops on [`SimHandle::shutdown`], not on drop.
#[derive(Clone)]
pub struct SimHandle {
    addr: SocketAddr,
    shared: Sim,
    cancel: CancellationToken,
    stopped: CancellationToken,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: use it as Genesys `api_base` and `login_base` and as the
    /// ServiceNow instance URL.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// A snapshot, the same data as `GET /_sim/state`.
    pub fn state(&self) -> SimState {
        self.shared.snapshot()
    }

    /// Sets the faults of `principal` on `target` (`None`: the default for every principal
    /// without its own setting), restarting their one-shot counts.
    pub fn set_faults(&self, principal: Option<&str>, target: SimTarget, faults: Faults) {
        self.shared.lock().set_faults(principal, target, faults);
    }

    /// Every access token issued so far (to `principal`, or to anyone) becomes invalid: the
    /// next API call with it gets 401. Refresh tokens and basic auth keep working.
    pub fn expire_tokens(&self, principal: Option<&str>) {
        self.shared.lock().tokens.expire(principal);
    }

    /// From now on `principal` (a Genesys client id, a ServiceNow client id or user) accepts
    /// `secret` and nothing else: a secret rotated at the service.
    pub fn rotate_secret(&self, principal: &str, secret: &str) {
        self.shared.lock().credentials.rotate(principal, secret);
    }

    /// How often `principal` presented `secret` (token requests and basic auth) so far.
    pub fn presented(&self, principal: &str, secret: &str) -> u64 {
        self.shared.lock().credentials.presented(principal, secret)
    }

    /// Every write applied from now on, as it happens (unbounded: read it steadily).
    pub fn watch_applied(&self) -> tokio::sync::mpsc::UnboundedReceiver<Applied> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.shared.lock().watchers.push(tx);
        rx
    }

    /// Stops accepting connections and lets in-flight requests finish.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// Resolves once the server has stopped after [`SimHandle::shutdown`].
    pub async fn stopped(&self) {
        self.stopped.cancelled().await;
    }
}

/// Runs the simulator on `listen` until `shutdown` is cancelled (the `scriptsync sim` command).
pub async fn serve(
    config: SimConfig,
    listen: SocketAddr,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (listener, shared) = bind(config, listen).await?;
    tracing::info!(address = %shared.base_url, "simulator listening (Genesys + ServiceNow)");
    axum::serve(listener, router(shared))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("sim: server failed")
}

async fn bind(config: SimConfig, listen: SocketAddr) -> anyhow::Result<(TcpListener, Sim)> {
    config.validate()?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("sim: cannot bind {listen}"))?;
    let addr = listener.local_addr().context("sim: local address")?;
    let shared = Arc::new(Shared::new(config, format!("http://{}", reachable(addr))));
    Ok((listener, shared))
}

/// The address clients should use: a wildcard bind is reached through loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

fn router(shared: Sim) -> Router {
    Router::new()
        .merge(genesys::routes())
        .merge(servicenow::routes())
        .merge(admin::routes())
        .fallback(admin::unrouted)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}
