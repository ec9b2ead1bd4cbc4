//! One paced run of D, E, H, I or J: a fresh simulator at the scenario's quota, a fresh rig, and
//! either the worker (child process) or the naive baseline consuming; changes published on a
//! schedule, each publish instant and every applied write fed into [`Arrivals`]; then a
//! bounded wait until the changes of interest have arrived, and the clean-up.

use std::time::Duration;

use scriptsync_sim::{Applied, Arrivals, SimHandle, SimTarget};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use super::context::{Ctx, simulator};
use super::naive::Naive;
use super::progress::ScenarioProgress;
use super::rig::{Rig, Timed};
use super::worker::{Quota, WorkerProcess};

/// Who consumes the changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Scriptsync,
    Naive,
}

impl Who {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scriptsync => "scriptsync",
            Self::Naive => "naive",
        }
    }
}

enum Consumer {
    Worker(WorkerProcess),
    Naive(Naive),
}

/// A paced run in progress.
pub struct Paced {
    pub sim: SimHandle,
    pub rig: Rig,
    pub arrivals: Arrivals,
    consumer: Consumer,
    events: UnboundedReceiver<Applied>,
}

impl Paced {
    /// Simulator, rig and consumer, ready for publishing.
    pub async fn start(
        ctx: &Ctx,
        who: Who,
        kind: &str,
        tenants: Vec<String>,
        quota: Quota,
    ) -> anyhow::Result<Self> {
        Self::start_told(ctx, who, kind, tenants, (quota, quota)).await
    }

    /// [`Paced::start`] with a simulator at the real `quota` and a worker `told` another one
    /// (its `requests_per_minute`; the naive baseline knows no quota).
    pub async fn start_told(
        ctx: &Ctx,
        who: Who,
        kind: &str,
        tenants: Vec<String>,
        (quota, told): (Quota, Quota),
    ) -> anyhow::Result<Self> {
        let sim = simulator(quota).await?;
        Self::start_on(ctx, (who, kind), tenants, sim, (told, None)).await
    }

    /// [`Paced::start`] on a simulator of the caller's, the worker told `told` and, if given,
    /// ServiceNow's (scaled) rate-limit window.
    pub async fn start_on(
        ctx: &Ctx,
        (who, kind): (Who, &str),
        tenants: Vec<String>,
        sim: SimHandle,
        told: (Quota, Option<Duration>),
    ) -> anyhow::Result<Self> {
        let rig = match Rig::open(&ctx.broker_url, kind, tenants).await {
            Ok(rig) => rig,
            Err(e) => {
                sim.shutdown();
                return Err(e);
            }
        };
        let consumer = match who {
            Who::Scriptsync => ctx
                .worker_with(&rig, &sim, told)
                .await
                .map(Consumer::Worker),
            Who::Naive => Naive::start(&ctx.broker_url, &rig, &sim.base_url())
                .await
                .map(Consumer::Naive),
        };
        let consumer = match consumer {
            Ok(c) => c,
            Err(e) => {
                let _ = rig.cleanup().await;
                sim.shutdown();
                return Err(e);
            }
        };
        let events = sim.watch_applied();
        Ok(Self {
            sim,
            rig,
            arrivals: Arrivals::new(),
            consumer,
            events,
        })
    }

    /// Publishes `schedule` (each at its instant), noting every publish; returns the count.
    pub async fn publish(&mut self, schedule: Vec<Timed>) -> anyhow::Result<u64> {
        let arrivals = &mut self.arrivals;
        self.rig
            .publish(schedule, |c, at| {
                arrivals.published(c.tenant(), c.script_id(), c.version(), at)
            })
            .await
    }

    /// Waits until every change of the tenants `include` accepts has reached all `targets`,
    /// or fails at `deadline` saying how many are missing.
    pub async fn wait_arrived(
        &mut self,
        targets: &[SimTarget],
        include: impl Fn(&str) -> bool,
        deadline: Instant,
        progress: &mut ScenarioProgress,
    ) -> anyhow::Result<()> {
        loop {
            self.arrivals.drain(&mut self.events);
            let latencies = self.arrivals.latencies(targets, &include);
            let total = latencies.reached.len() + latencies.missing;
            progress.update(
                latencies.reached.len() as u64,
                &format!("of {total} arrived"),
            );
            if latencies.missing == 0 {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} of {total} changes had not arrived by the deadline",
                latencies.missing
            );
            tokio::time::sleep(super::context::POLL).await;
        }
    }

    /// The worker under test (`None` for the naive baseline).
    pub fn worker(&self) -> Option<&super::worker::WorkerProcess> {
        match &self.consumer {
            Consumer::Worker(worker) => Some(worker),
            Consumer::Naive(_) => None,
        }
    }

    /// The worker's `/metrics`, parsed (an error for the naive baseline, which has none).
    pub async fn worker_metrics(&self) -> anyhow::Result<super::scrape::Scrape> {
        match &self.consumer {
            Consumer::Worker(worker) => worker.metrics().await,
            Consumer::Naive(_) => anyhow::bail!("the naive baseline has no metrics"),
        }
    }

    /// Stops the consumer, deletes the queues, stops the simulator.
    pub async fn finish(self) -> anyhow::Result<()> {
        match self.consumer {
            Consumer::Worker(worker) => drop(worker),
            Consumer::Naive(naive) => naive.stop().await,
        }
        let cleaned = self.rig.cleanup().await;
        self.sim.shutdown();
        cleaned
    }
}
