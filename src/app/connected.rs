//! One broker connection's life: declare the topology, join the replicas' membership, consume
//! the tenants this replica owns (and only those), and follow ownership as replicas come and
//! go. A tenant that moves away is drained first (its in-flight pushes finish and settle),
//! then its channel closes, which returns what it still held to the queue and lets the next
//! single active consumer (the new owner) start: the old owner stops sending before the new
//! one starts. A tenant that arrives from another replica starts with a conservative gate and
//! the pause its old owner reported; a process that starts alone starts its gates normally.
//!
//! The tenant set changes too (a `tenants_dir`): a tenant added is declared and started where
//! it is owned; one removed is drained and stopped (its queues stay); one changed is drained
//! and started again on its new parts, with the pauses its gates had. Tenants move between
//! replicas only while every replica sees the same tenant set (see `cluster::membership`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context as _;
use lapin::Connection;
use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;

use super::Application;
use crate::broker::{self, Publisher, QueueConsumer, Topology};
use crate::budget::{prefetch_for, should_restart};
use crate::cluster::owned_by;
use crate::pipeline::tenant::task_panicked;
use crate::pipeline::{LoopEnd, LoopSettings, run_tenant, run_unrouted};
use crate::tenants::TenantParts;

/// A tenant this replica is consuming.
struct Running {
    stop: CancellationToken,
    /// The parts it runs on (a changed tenant gets new ones).
    parts: Arc<TenantParts>,
    /// The prefetch its consumer started with (its share of `broker.max_inflight`).
    prefetch: u16,
    /// Stopping on purpose: another replica owns it now, it was removed, it changed, or its
    /// share of the in-flight budget did (not a loss).
    releasing: bool,
    /// Start it again once drained, if this replica still owns it (a new share).
    restart: bool,
}

/// What one connection runs: its tasks, and which tenant each task is.
struct Tasks {
    set: JoinSet<LoopEnd>,
    tenant_of: HashMap<Id, String>,
    running: HashMap<String, Running>,
    /// Tenants whose queues this connection has declared.
    declared: HashSet<String>,
}

impl Application {
    /// One connection's life: Ok when shut down, Err when the connection was lost.
    pub(super) async fn run_connected(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let broker_settings = &self.settings.broker;
        let conn = broker::connect(broker_settings, &self.connection_name()).await?;
        let publisher = Publisher::open(&conn, broker_settings.confirm_timeout).await?;
        let topology = self.topology();
        topology
            .declare(publisher.channel())
            .await
            .context("cannot declare the topology")?;
        let stop = shutdown.child_token();
        let mut tasks = Tasks {
            set: JoinSet::new(),
            tenant_of: HashMap::new(),
            running: HashMap::new(),
            declared: topology.tenants().iter().cloned().collect(),
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
        let (depth_channel, dlq) = (conn.create_channel().await?, self.names.dlq());
        let (metrics, depth_stop) = (self.metrics.clone(), stop.clone());
        tasks.set.spawn(async move {
            let report = |messages| metrics.dlq_messages(messages);
            broker::depth::watch(depth_channel, dlq, report, depth_stop).await;
            LoopEnd::Shutdown
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
            let mut first = self.first_connected.lock();
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

    /// Runs until shutdown (`None`) or a loss (`Some(why)`), following membership and tenant
    /// set changes.
    async fn watch_loop(
        &self,
        conn: &Connection,
        publisher: &Publisher,
        tasks: &mut Tasks,
        stop: &CancellationToken,
        shutdown: &CancellationToken,
        live: &mut tokio::sync::watch::Receiver<BTreeSet<String>>,
    ) -> anyhow::Result<Option<String>> {
        let mut tenant_set = self.tenants.subscribe();
        let mut agreement = self.membership.agreement();
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(None),
                Ok(()) = live.changed() => {
                    let replicas = live.borrow_and_update().clone();
                    self.follow(conn, publisher, tasks, stop, (&replicas, true)).await?;
                }
                Ok(()) = tenant_set.changed() => {
                    tenant_set.mark_unchanged();
                    let replicas = live.borrow().clone();
                    self.follow(conn, publisher, tasks, stop, (&replicas, true)).await?;
                }
                Ok(()) = agreement.changed() => {
                    agreement.mark_unchanged();
                    let replicas = live.borrow().clone();
                    self.follow(conn, publisher, tasks, stop, (&replicas, true)).await?;
                }
                Some(res) = tasks.set.join_next_with_id() => {
                    let (id, end) = match res {
                        Ok(done) => done,
                        Err(e) => {
                            let tenant = tasks.tenant_of.remove(&e.id());
                            let ctx = tenant.and_then(|t| self.tenants.get(&t));
                            return Ok(Some(match ctx {
                                Some(t) => task_panicked(&self.tenant_context(&t, publisher), "tenant", &e.to_string()),
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
                            let ended = tasks.running.remove(&tenant);
                            self.after_release(conn, publisher, tasks, stop, (&tenant, ended)).await?;
                        }
                        LoopEnd::Shutdown if shutdown.is_cancelled() => return Ok(None),
                        LoopEnd::Shutdown => return Ok(Some("a consumer loop stopped".into())),
                        LoopEnd::StreamLost(e) | LoopEnd::TaskPanicked(e) => return Ok(Some(e)),
                    }
                }
            }
        }
    }

    /// A tenant stopped on purpose: handed over, removed, or to start again on new parts
    /// (carrying its gates' pauses over) if this replica still runs it.
    async fn after_release(
        &self,
        conn: &Connection,
        publisher: &Publisher,
        tasks: &mut Tasks,
        stop: &CancellationToken,
        (tenant, ended): (&str, Option<Running>),
    ) -> anyhow::Result<()> {
        let replica = self.replica();
        let Some(parts) = self.tenants.get(tenant) else {
            tracing::info!(%tenant, %replica, "tenant removed: stopped here (its queues stay)");
            return Ok(());
        };
        let Some(ended) = ended.filter(|_| !stop.is_cancelled()) else {
            return Ok(());
        };
        let changed = !Arc::ptr_eq(&ended.parts, &parts);
        if !changed && !ended.restart {
            tracing::info!(%tenant, %replica, "tenant handed over");
            return Ok(());
        }
        if changed {
            parts.carry_pauses_from(&ended.parts);
        }
        let replicas = self.membership.watch().borrow().clone();
        let ids = self.tenants.snapshot();
        let (still_mine, owned) = if *self.membership.agreement().borrow() {
            let owned = owned_by(replica, ids.keys().map(String::as_str), &replicas);
            (owned.contains(tenant), owned.len())
        } else {
            (true, tasks.running.len() + 1)
        };
        if still_mine {
            let prefetch = prefetch_for(parts.prefetch, self.settings.broker.max_inflight, owned);
            tracing::info!(%tenant, %replica, prefetch, "tenant started again");
            self.start_tenant(conn, publisher, tasks, stop, (&parts, prefetch, false))
                .await?;
        }
        Ok(())
    }

    /// Starts the tenants this replica owns among `replicas` and releases the others;
    /// `taking_over`: a tenant it starts may have been another replica's this quota window.
    /// While the replicas see different tenant sets, nothing new is taken: tenants removed or
    /// changed here are still stopped (and the changed ones started again).
    async fn follow(
        &self,
        conn: &Connection,
        publisher: &Publisher,
        tasks: &mut Tasks,
        stop: &CancellationToken,
        (replicas, taking_over): (&BTreeSet<String>, bool),
    ) -> anyhow::Result<()> {
        let all = self.tenants.snapshot();
        let new: Vec<String> = all
            .keys()
            .filter(|id| !tasks.declared.contains(*id))
            .cloned()
            .collect();
        if !new.is_empty() {
            Topology::new(&self.names, &self.settings.broker, new.iter().cloned())
                .declare(publisher.channel())
                .await
                .context("cannot declare the queues of new tenants")?;
            tasks.declared.extend(new);
        }
        let agreed = *self.membership.agreement().borrow();
        let owned: BTreeSet<String> = if agreed {
            owned_by(self.replica(), all.keys().map(String::as_str), replicas)
        } else {
            tasks
                .running
                .keys()
                .filter(|t| all.contains_key(*t))
                .cloned()
                .collect()
        };
        let max_inflight = self.settings.broker.max_inflight;
        for (tenant, running) in tasks.running.iter_mut() {
            if running.releasing {
                continue;
            }
            let why = match all.get(tenant) {
                None => "tenant removed: draining",
                Some(parts) if !Arc::ptr_eq(parts, &running.parts) => {
                    "tenant settings changed: draining, then starting again on them"
                }
                Some(_) if !owned.contains(tenant) => "tenant moves to another replica: draining",
                Some(parts)
                    if should_restart(
                        running.prefetch,
                        prefetch_for(parts.prefetch, max_inflight, owned.len()),
                    ) =>
                {
                    "the tenant's share of broker.max_inflight changed: draining, then \
                     consuming again with the new prefetch"
                }
                Some(_) => continue,
            };
            tracing::info!(%tenant, replica = self.replica(), "{why}");
            running.releasing = true;
            running.restart = owned.contains(tenant);
            running.stop.cancel();
        }
        for (id, parts) in all.iter().filter(|(id, _)| owned.contains(*id)) {
            if !tasks.running.contains_key(id) {
                let prefetch = prefetch_for(parts.prefetch, max_inflight, owned.len());
                self.start_tenant(conn, publisher, tasks, stop, (parts, prefetch, taking_over))
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
        (t, prefetch, taking_over): (&Arc<TenantParts>, u16, bool),
    ) -> anyhow::Result<()> {
        let queue = self.names.tenant_queue(&t.id);
        let (consumer, mut stream) = QueueConsumer::start(conn, &queue, prefetch, "").await?;
        tracing::debug!(tenant = %t.id, prefetch, "consuming");
        self.metrics.consumer_prefetch(&t.id, Some(prefetch));
        self.metrics.consuming(&t.id, true);
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
        let parts = t.clone();
        let settings = LoopSettings {
            max_changes: self.settings.batch.max_changes,
            linger: self.settings.batch.linger,
            drain_timeout: self.settings.shutdown.drain_timeout,
            hold_limit: self.settings.broker.hold_limit(),
        };
        let tenant_stop = stop.child_token();
        let task_stop = tenant_stop.clone();
        let (metrics, tenant) = (self.metrics.clone(), t.id.clone());
        let set = self.tenants.clone();
        let id = tasks
            .set
            .spawn(async move {
                let end = run_tenant(ctx, &mut stream, settings, task_stop).await;
                // Whatever the channel still holds goes back to the queue, and the next
                // consumer (another replica, after a handover) becomes the active one. The
                // consumer is dropped after its channel is closed (see `close_channel`).
                broker::close_channel(&consumer.channel, "tenant stopped").await;
                drop(stream);
                metrics.consumer_prefetch(&tenant, None);
                // A tenant removed from the set has no series left to say so.
                if set.get(&tenant).is_some() {
                    metrics.consuming(&tenant, false);
                } else {
                    metrics.consuming_forgotten(&tenant);
                }
                end
            })
            .id();
        tasks.tenant_of.insert(id, t.id.clone());
        tasks.running.insert(
            t.id.clone(),
            Running {
                stop: tenant_stop,
                parts,
                prefetch,
                releasing: false,
                restart: false,
            },
        );
        Ok(())
    }
}
