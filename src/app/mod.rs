//! Wiring: `Application::build(settings)` makes the long-lived parts (HTTP client, the tenant
//! set with each tenant's targets, gates, token caches and ordering state, metrics);
//! `run_until(shutdown)` connects to RabbitMQ, declares the topology, runs one consumer loop
//! per tenant plus the unrouted one, reconnects with backoff when the broker connection is
//! lost, and (with a `tenants_dir`) follows the tenant files while it runs. When
//! [`Application::bind_admin`] was called, `run_until` also serves the admin endpoints
//! (`/healthz`, `/readyz`, `/metrics`, `/status`) for as long as it runs.
//!
//! Layout: this file builds the application and runs it (`reconnect_loop`: one connection
//! after another, with backoff); `http` the HTTP client every target shares; `connected` one
//! connection's life (the `Connected` value: the connection, its publisher, its tasks);
//! `own_tasks` what every connection runs besides the tenants; `follow` which tenants run
//! here; `tenant_task` one tenant's consumer; `watch` what a running connection waits for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, AdminState};
use crate::broker::{self, Names, Publisher, Topology};
use crate::cluster::Membership;
use crate::cluster::membership::PauseNote;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::pipeline::TenantContext;
use crate::status::PanicLog;
use crate::status::StatusBoard;
use crate::targets::{TargetContext, TargetLayer};
use crate::telemetry;
use crate::tenants::{Catalog, PartsFactory, TenantParts, TenantSet};

mod connected;
mod follow;
mod http;
mod own_tasks;
mod tenant_task;
mod watch;

pub use http::http_client;
use http::warn_plaintext;

/// A connection that lasted this long resets the reconnection backoff.
const STABLE_CONNECTION: Duration = Duration::from_secs(10);

/// A configured worker, ready to run.
pub struct Application {
    settings: Settings,
    names: Names,
    metrics: Arc<Metrics>,
    /// Recent task panics (readiness reads them).
    panics: Arc<PanicLog>,
    /// Every tenant this process knows; changes while it runs with a `tenants_dir`.
    tenants: Arc<TenantSet>,
    /// Who else is alive (heartbeats), for the tenants this replica owns.
    membership: Arc<Membership>,
    /// When the first connection was made: tenants are taken only after the settle time.
    first_connected: Mutex<Option<tokio::time::Instant>>,
    ready: Arc<AtomicBool>,
    /// The broker confirms durable writes (the write probe; false while a cluster has lost
    /// its majority).
    writable: Arc<AtomicBool>,
    /// The admin listener, bound by [`Application::bind_admin`] and served by `run_until`.
    admin: Option<(std::net::TcpListener, SocketAddr)>,
}

impl Application {
    /// Builds every part that does not need the broker. `settings` must be validated.
    /// Logs a warning for each plaintext endpoint on a non-loopback host.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_layer(settings, None)
    }

    /// Like [`build`](Self::build), with every target the worker builds wrapped by `layer`.
    pub fn build_with_layer(
        settings: Settings,
        layer: Option<TargetLayer>,
    ) -> anyhow::Result<Self> {
        let otlp = telemetry::otlp_metrics(&settings.telemetry);
        let metrics = Arc::new(
            Metrics::with_otlp(otlp.as_ref())
                .context("cannot set up the OTLP metrics exporter")?
                .with_per_tenant_series(settings.telemetry.per_tenant_series),
        );
        warn_plaintext(&settings);
        let replica = settings.replica.resolve(None);
        tracing::info!(replica = %replica, "replica identity");
        let http = http_client(&settings.http, &replica)?;
        let target_ctx = TargetContext {
            http,
            max_changes: settings.batch.max_changes,
            retry: settings.retry.clone(),
            metrics: metrics.clone(),
        };
        let factory = PartsFactory {
            targets: target_ctx,
            prefetch: settings.broker.prefetch,
            layer,
        };
        let tenants = TenantSet::new(factory, metrics.clone(), Catalog::load(&settings, None))?;
        let membership = Membership::new(&replica, settings.replica.heartbeat);
        membership.set_tenant_digest(tenants.digest());
        let source = tenants.clone();
        membership.set_pause_source(Box::new(move || {
            let mut notes = Vec::new();
            for (id, parts) in source.snapshot() {
                for target in &parts.targets {
                    if let Some(left) = target.gate().paused_for() {
                        notes.push(PauseNote::lasting(&id, target.kind(), left));
                    }
                }
            }
            notes
        }));
        Ok(Self {
            names: Names::new(&settings.broker.prefix),
            settings,
            metrics,
            panics: Arc::default(),
            tenants,
            membership,
            first_connected: Mutex::default(),
            ready: Arc::default(),
            writable: Arc::new(AtomicBool::new(true)),
            admin: None,
        })
    }

    /// Binds the admin endpoints on `admin.listen` (port 0 picks a free port) and returns the
    /// bound address; `run_until` serves them. Without this call nothing listens.
    pub fn bind_admin(&mut self) -> anyhow::Result<SocketAddr> {
        let listen = self.settings.admin.listen;
        let listener = admin::bind(listen)
            .with_context(|| format!("cannot listen on admin.listen = {listen}"))?;
        let addr = listener.local_addr()?;
        self.admin = Some((listener, addr));
        Ok(addr)
    }

    /// Where the admin endpoints listen, once bound.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(_, addr)| *addr)
    }

    /// What the admin endpoints read.
    pub fn admin_state(&self) -> Arc<AdminState> {
        Arc::new(AdminState {
            membership: self.membership.clone(),
            metrics: self.metrics.clone(),
            board: self.metrics.board(),
            ready: self.ready.clone(),
            writable: self.writable.clone(),
            panics: self.panics.clone(),
            tenants: self.tenants.clone(),
            names: self.names.clone(),
        })
    }

    /// Every tenant this process knows (changes while it runs with a `tenants_dir`).
    pub fn tenant_set(&self) -> Arc<TenantSet> {
        self.tenants.clone()
    }

    /// This replica's id (`X-Scriptsync-Replica`).
    pub fn replica(&self) -> &str {
        self.membership.me()
    }

    /// The AMQP connection name: unique per broker prefix, so an operator (or a test) can
    /// find this worker's connection among others on the same broker.
    pub fn connection_name(&self) -> String {
        format!("scriptsync worker {}", self.settings.broker.prefix)
    }

    /// The metrics every component records into.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The typed per-tenant state recorded beside the metrics (what `/status` reads).
    pub fn board(&self) -> Arc<StatusBoard> {
        self.metrics.board()
    }

    /// True while connected, with the topology declared and every consumer running.
    pub fn readiness(&self) -> Arc<AtomicBool> {
        self.ready.clone()
    }

    /// The topology this worker declares.
    pub fn topology(&self) -> Topology<'_> {
        Topology::new(
            &self.names,
            &self.settings.broker,
            self.tenants.snapshot().into_keys(),
        )
    }

    /// Runs until `shutdown` is cancelled; reconnects on broker loss.
    pub async fn run_until(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let admin_stop = CancellationToken::new();
        let admin_task = match self.admin.take() {
            Some((listener, addr)) => {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                let state = self.admin_state();
                tracing::info!(%addr, "admin endpoints listening");
                Some(tokio::spawn(admin::serve(
                    listener,
                    state,
                    admin_stop.clone(),
                )))
            }
            None => None,
        };
        let watch_stop = shutdown.child_token();
        let watcher = self.settings.tenants_dir.clone().map(|dir| {
            let follow = crate::tenants::Follow {
                settings: self.settings.clone(),
                dir,
                tenants: self.tenants.clone(),
                membership: self.membership.clone(),
            };
            tokio::spawn(follow.run(watch_stop.clone()))
        });
        let result = self.reconnect_loop(&shutdown).await;
        watch_stop.cancel();
        if let Some(task) = watcher {
            let _ = task.await;
        }
        admin_stop.cancel();
        if let Some(task) = admin_task {
            let _ = task.await;
        }
        let metrics = self.metrics.clone();
        let _ = tokio::task::spawn_blocking(move || metrics.flush()).await;
        result
    }

    async fn reconnect_loop(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let mut backoff = broker::reconnect_backoff();
        while !shutdown.is_cancelled() {
            let began = tokio::time::Instant::now();
            let outcome = self.run_connected(shutdown).await;
            // A connection that lived was a success: the next loss starts the backoff afresh
            // (a worker that lost its node after a day must not wait 30 s to try the next).
            if began.elapsed() >= STABLE_CONNECTION {
                backoff = broker::reconnect_backoff();
            }
            let delay = backoff.next().unwrap_or(broker::MAX_RECONNECT_DELAY);
            match outcome {
                Ok(()) => break,
                Err(e) => {
                    self.ready.store(false, Ordering::SeqCst);
                    tracing::warn!(error = %format!("{e:#}"), retry_in = ?delay, "broker connection lost; reconnecting");
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        self.ready.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// What a consumer loop on this connection runs with: `t`'s targets and ordering state,
    /// or for the unrouted queue (`None`) no target.
    fn loop_context(&self, t: Option<&TenantParts>, publisher: &Publisher) -> TenantContext {
        TenantContext {
            tenant: t.map_or_else(|| "unrouted".into(), |t| t.id.clone()),
            targets: t.map(|t| t.targets.clone()).unwrap_or_default(),
            publisher: publisher.clone(),
            names: self.names.clone(),
            metrics: self.metrics.clone(),
            high_water: t.map(|t| t.high_water.clone()).unwrap_or_default(),
            max_message_bytes: self.settings.broker.max_message_bytes,
            retry: self.settings.retry.clone(),
            panics: self.panics.clone(),
            wait_queue_type: self.settings.broker.queue_type,
        }
    }
}
