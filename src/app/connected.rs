//! One broker connection's life: declare the topology, join the replicas' membership, consume
//! the tenants this replica owns (and only those), and follow ownership as replicas come and
//! go. A tenant that moves away is drained first (its in-flight pushes finish and settle),
//! then its channel closes, which returns what it still held to the queue and lets the next
//! single active consumer (the new owner) start: the old owner stops sending before the new
//! one starts. A tenant that arrives from another replica starts with a conservative gate and
//! the pause its old owner reported; a process that starts alone starts its gates normally.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context as _;
use lapin::Connection;
use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;

use super::{Application, TenantParts};
use crate::broker::{self, Publisher, QueueConsumer};
use crate::cluster::owned_by;
use crate::pipeline::tenant::task_panicked;
use crate::pipeline::{LoopEnd, LoopSettings, run_tenant, run_unrouted};

/// A tenant this replica is consuming.
struct Running {
    stop: CancellationToken,
    /// Stopping because another replica owns it now (not a loss).
    releasing: bool,
}

/// What one connection runs: its tasks, and which tenant each task is.
struct Tasks {
    set: JoinSet<LoopEnd>,
    tenant_of: HashMap<Id, String>,
    running: HashMap<String, Running>,
}

impl Application {
    /// One connection's life: Ok when shut down, Err when the connection was lost.
    pub(super) async fn run_connected(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let broker_settings = &self.settings.broker;
        let conn = broker::connect(broker_settings, &self.connection_name()).await?;
        let publisher = Publisher::open(&conn, broker_settings.confirm_timeout).await?;
        self.topology()
            .declare(publisher.channel())
            .await
            .context("cannot declare the topology")?;
        let stop = shutdown.child_token();
        let mut tasks = Tasks {
            set: JoinSet::new(),
            tenant_of: HashMap::new(),
            running: HashMap::new(),
        };
        let membership = self.membership.clone();
        let (beat_channel, exchange) = (conn.create_channel().await?, self.names.replicas());
        let (beat_stop, leaving) = (stop.clone(), shutdown.clone());
        tasks.set.spawn(async move {
            match membership
                .run(beat_channel, &exchange, beat_stop, leaving)
                .await
            {
                Ok(()) => LoopEnd::Shutdown,
                Err(e) => LoopEnd::StreamLost(format!("replica heartbeats: {e}")),
            }
        });
        let probe_publisher = Publisher::open(&conn, broker_settings.confirm_timeout).await?;
        let (probe_queue, writable) = (self.names.probe(), self.writable.clone());
        let probe_stop = stop.clone();
        tasks.set.spawn(async move {
            match broker::probe::run(probe_publisher, probe_queue, writable, probe_stop).await {
                Ok(()) => LoopEnd::Shutdown,
                Err(e) => LoopEnd::StreamLost(format!("write probe: {e}")),
            }
        });
        let (unrouted, stream) =
            QueueConsumer::start(&conn, &self.names.unrouted(), 50, "").await?;
        let unrouted_ctx = self.unrouted_context(&publisher);
        let unrouted_stop = stop.clone();
        tasks.set.spawn(async move {
            match run_unrouted(&unrouted_ctx, stream, unrouted_stop).await {
                None => LoopEnd::Shutdown,
                Some(e) => LoopEnd::StreamLost(e),
            }
        });

        // A starting replica listens before it takes tenants, so that it hears the others.
        let (settle_until, first_start) = {
            let mut first = self
                .first_connected
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let first_start = first.is_none();
            let at = *first
                .get_or_insert_with(|| tokio::time::Instant::now() + self.membership.settle_time());
            (at, first_start)
        };
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep_until(settle_until) => {}
        }
        let mut live = self.membership.watch();
        let lost = if shutdown.is_cancelled() {
            None
        } else {
            live.mark_unchanged();
            let replicas = live.borrow().clone();
            // A process that starts alone takes its tenants from nobody: full burst. Every
            // later take-over (or a start beside other replicas) is conservative.
            let taking_over = !(first_start && replicas.len() == 1);
            self.follow(
                &conn,
                &publisher,
                &mut tasks,
                &stop,
                (&replicas, taking_over),
            )
            .await?;
            self.ready.store(true, Ordering::SeqCst);
            tracing::info!(
                replica = self.replica(), owned = tasks.running.len(), tenants = self.tenants.len(),
                prefix = %broker_settings.prefix, "consuming"
            );
            self.watch_loop(&conn, &publisher, &mut tasks, &stop, shutdown, &mut live)
                .await?
        };
        self.ready.store(false, Ordering::SeqCst);
        let _ = unrouted.cancel().await;
        stop.cancel();
        // The tenants drain within `drain_timeout`; a task stuck on a dying connection must
        // not hold the reconnect back beyond that.
        let drained = async { while tasks.set.join_next().await.is_some() {} };
        let grace = self.settings.shutdown.drain_timeout + broker::CLOSE_MARGIN;
        if tokio::time::timeout(grace, drained).await.is_err() {
            tracing::warn!(
                ?grace,
                "connection tasks still running after the drain; aborting them"
            );
            tasks.set.abort_all();
            while tasks.set.join_next().await.is_some() {}
        }
        let _ = tokio::time::timeout(
            broker::CLOSE_MARGIN,
            conn.close(200, "scriptsync stopping".into()),
        )
        .await;
        match lost {
            None => Ok(()),
            Some(e) => Err(anyhow::anyhow!(e)),
        }
    }

    /// Runs until shutdown (`None`) or a loss (`Some(why)`), following membership changes.
    async fn watch_loop(
        &self,
        conn: &Connection,
        publisher: &Publisher,
        tasks: &mut Tasks,
        stop: &CancellationToken,
        shutdown: &CancellationToken,
        live: &mut tokio::sync::watch::Receiver<BTreeSet<String>>,
    ) -> anyhow::Result<Option<String>> {
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(None),
                Ok(()) = live.changed() => {
                    let replicas = live.borrow_and_update().clone();
                    self.follow(conn, publisher, tasks, stop, (&replicas, true)).await?;
                }
                Some(res) = tasks.set.join_next_with_id() => {
                    let (id, end) = match res {
                        Ok(done) => done,
                        Err(e) => {
                            let tenant = tasks.tenant_of.remove(&e.id());
                            let ctx = tenant.and_then(|t| self.tenants.iter().find(|p| p.id == t));
                            return Ok(Some(match ctx {
                                Some(t) => task_panicked(&self.tenant_context(t, publisher), "tenant", &e.to_string()),
                                None => format!("a connection task panicked: {e}"),
                            }));
                        }
                    };
                    let tenant = tasks.tenant_of.remove(&id);
                    let released = tenant
                        .as_ref()
                        .and_then(|t| tasks.running.get(t))
                        .is_some_and(|r| r.releasing);
                    match end {
                        LoopEnd::Shutdown if released => {
                            let tenant = tenant.unwrap_or_default();
                            tasks.running.remove(&tenant);
                            tracing::info!(%tenant, replica = self.replica(), "tenant handed over");
                        }
                        LoopEnd::Shutdown if shutdown.is_cancelled() => return Ok(None),
                        LoopEnd::Shutdown => return Ok(Some("a consumer loop stopped".into())),
                        LoopEnd::StreamLost(e) | LoopEnd::TaskPanicked(e) => return Ok(Some(e)),
                    }
                }
            }
        }
    }

    /// Starts the tenants this replica owns among `replicas` and releases the others;
    /// `taking_over`: a tenant it starts may have been another replica's this quota window.
    async fn follow(
        &self,
        conn: &Connection,
        publisher: &Publisher,
        tasks: &mut Tasks,
        stop: &CancellationToken,
        (replicas, taking_over): (&BTreeSet<String>, bool),
    ) -> anyhow::Result<()> {
        let ids = self.tenants.iter().map(|t| t.id.as_str());
        let owned = owned_by(self.replica(), ids, replicas);
        for (tenant, running) in tasks.running.iter_mut() {
            if !owned.contains(tenant) && !running.releasing {
                tracing::info!(%tenant, replica = self.replica(), "tenant moves to another replica: draining");
                running.releasing = true;
                running.stop.cancel();
            }
        }
        for t in self.tenants.iter().filter(|t| owned.contains(&t.id)) {
            if !tasks.running.contains_key(&t.id) {
                self.start_tenant(conn, publisher, tasks, stop, (t, taking_over))
                    .await?;
            }
        }
        Ok(())
    }

    /// Consumes `t`'s queue (single active consumer: it starts receiving once no other
    /// replica's consumer is active); when `taking_over`, with a conservative gate.
    async fn start_tenant(
        &self,
        conn: &Connection,
        publisher: &Publisher,
        tasks: &mut Tasks,
        stop: &CancellationToken,
        (t, taking_over): (&TenantParts, bool),
    ) -> anyhow::Result<()> {
        let queue = self.names.tenant_queue(&t.id);
        let (consumer, mut stream) = QueueConsumer::start(conn, &queue, t.prefetch, "").await?;
        for target in &t.targets {
            let gate = target.gate();
            if taking_over {
                gate.start_conservatively();
            }
            // A pause the previous owner reported (a 429's wait) still holds here.
            if let Some(left) = self.membership.heard_pause(&t.id, target.kind()) {
                tracing::info!(tenant = %t.id, target = %target.kind(), wait = ?left, "taking over a paused gate");
                gate.pause_until(tokio::time::Instant::now() + left);
            }
        }
        let ctx = Arc::new(self.tenant_context(t, publisher));
        let settings = LoopSettings {
            max_changes: self.settings.batch.max_changes,
            linger: self.settings.batch.linger,
            drain_timeout: self.settings.shutdown.drain_timeout,
            hold_limit: self.settings.broker.hold_limit(),
        };
        let tenant_stop = stop.child_token();
        let task_stop = tenant_stop.clone();
        let id = tasks
            .set
            .spawn(async move {
                let end = run_tenant(ctx, &mut stream, settings, task_stop).await;
                // Whatever the channel still holds goes back to the queue, and the next
                // consumer (another replica, after a handover) becomes the active one. The
                // consumer is dropped after its channel is closed (see `close_channel`).
                broker::close_channel(&consumer.channel, "tenant stopped").await;
                drop(stream);
                end
            })
            .id();
        tasks.tenant_of.insert(id, t.id.clone());
        tasks.running.insert(
            t.id.clone(),
            Running {
                stop: tenant_stop,
                releasing: false,
            },
        );
        Ok(())
    }
}
