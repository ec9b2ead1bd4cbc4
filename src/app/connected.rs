//! One broker connection's life. [`Connected`] is the connection and what runs on it: its
//! publisher, its tasks and the token that stops them. `run_connected` opens one, starts the
//! connection's own tasks (`own_tasks`), listens for the other replicas before it takes any
//! tenant, takes the tenants this replica owns (`follow`, each started by `tenant_task`) and
//! follows the replicas and the tenant set as they change (`watch`) until shutdown or a loss;
//! then every tenant drains within `shutdown.drain_timeout` and the connection closes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use lapin::Connection;
use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;

use super::Application;
use super::tenant_task::Running;
use crate::broker::{self, Publisher};
use crate::pipeline::LoopEnd;

/// One broker connection and what runs on it.
pub(super) struct Connected {
    pub conn: Connection,
    /// The confirming publisher the tenants' pipelines share (dead letters, wait queues).
    pub publisher: Publisher,
    /// Cancelled when the connection's life ends: every task on it stops.
    pub stop: CancellationToken,
    /// Cancelled when the connection was lost: its tenants stop at once, without a drain.
    pub lost: CancellationToken,
    pub tasks: Tasks,
}

/// What one connection runs: its tasks, and which tenant each task is.
pub(super) struct Tasks {
    pub set: JoinSet<LoopEnd>,
    pub tenant_of: HashMap<Id, String>,
    pub running: HashMap<String, Running>,
    /// Tenants whose queues this connection has declared.
    pub declared: HashSet<String>,
}

impl Connected {
    /// Connects, opens the publisher and declares the topology of every tenant known now.
    async fn open(app: &Application, shutdown: &CancellationToken) -> anyhow::Result<Self> {
        let settings = &app.settings.broker;
        let conn = broker::connect(settings, &app.connection_name()).await?;
        let publisher = Publisher::open(&conn, settings.confirm_timeout).await?;
        let topology = app.topology();
        topology
            .declare(publisher.channel())
            .await
            .context("cannot declare the topology")?;
        let tasks = Tasks {
            set: JoinSet::new(),
            tenant_of: HashMap::new(),
            running: HashMap::new(),
            declared: topology.tenants().iter().cloned().collect(),
        };
        Ok(Self {
            conn,
            publisher,
            stop: shutdown.child_token(),
            lost: CancellationToken::new(),
            tasks,
        })
    }

    /// Stops every task, waits for them (the tenants drain) at most `grace`, aborting what
    /// still runs then, and closes the connection. Without a grace (the connection was lost)
    /// the tenants stop at once, with no drain (`lost`): the broker has already handed this
    /// connection's deliveries back, to this replica's next connection or to another replica,
    /// and a lane that went on draining would send old versions beside the new owner's newer
    /// ones. They still end their own way (channel closed, gauges put right); what has not
    /// ended within [`broker::CLOSE_MARGIN`] is aborted.
    async fn close(mut self, grace: Option<Duration>) {
        let (why, wait) = match grace {
            Some(grace) => ("scriptsync stopping", grace),
            None => {
                self.lost.cancel();
                ("scriptsync reconnecting", broker::CLOSE_MARGIN)
            }
        };
        self.stop.cancel();
        let ended = async { while self.tasks.set.join_next().await.is_some() {} };
        if tokio::time::timeout(wait, ended).await.is_err() {
            tracing::warn!(
                ?wait,
                "connection tasks still running after the drain; aborting them"
            );
            self.tasks.set.abort_all();
            while self.tasks.set.join_next().await.is_some() {}
        }
        let _ = tokio::time::timeout(broker::CLOSE_MARGIN, self.conn.close(200, why.into())).await;
    }
}

impl Application {
    /// One connection's life: Ok when shut down, Err when the connection was lost.
    pub(super) async fn run_connected(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let mut c = Connected::open(self, shutdown).await?;
        let unrouted = self.start_own_tasks(&mut c, shutdown).await?;

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
            self.follow(&mut c, &replicas, taking_over).await?;
            self.ready.store(true, Ordering::SeqCst);
            tracing::info!(
                replica = self.replica(), owned = c.tasks.running.len(), tenants = self.tenants.len(),
                prefix = %self.settings.broker.prefix, "consuming"
            );
            self.watch_loop(&mut c, shutdown, &mut live).await?
        };
        self.ready.store(false, Ordering::SeqCst);
        let _ = unrouted.cancel().await;
        // On a shutdown the tenants drain within `drain_timeout` (a task stuck on a dying
        // connection must not hold the exit back beyond that); on a lost connection nothing
        // of it may be sent any more: its tasks are aborted.
        let grace = lost
            .is_none()
            .then(|| self.settings.shutdown.drain_timeout + broker::CLOSE_MARGIN);
        c.close(grace).await;
        match lost {
            None => Ok(()),
            Some(e) => Err(anyhow::anyhow!(e)),
        }
    }
}
