//! What every scenario shares: the bench's options ([`Ctx`]), starting the worker under test
//! against a scenario's rig and simulator, and waiting (bounded) until it has settled every
//! published change, read from its own `/metrics`.

use std::path::PathBuf;
use std::time::Duration;

use scriptsync_sim::{SimHandle, fixtures};
use tokio::time::Instant;

use super::progress::ScenarioProgress;
use super::rig::Rig;
use super::worker::{Quota, WorkerProcess, WorkerSettings, WorkerSpec};

/// How often the bench polls the worker's metrics.
pub const POLL: Duration = Duration::from_millis(100);

/// A quota no scenario of B, C or G comes near: "no quota".
pub const UNLIMITED: Quota = Quota {
    requests: 100_000_000,
    window: Duration::from_secs(60),
};

/// The bench's options, as every scenario needs them.
pub struct Ctx {
    pub broker_url: String,
    pub worker_bin: PathBuf,
    pub settings: WorkerSettings,
    pub plain: bool,
    pub quick: bool,
}

impl Ctx {
    /// `full` or `quick`, by the bench's mode.
    pub fn size<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }

    /// Starts the worker for `rig`'s tenants against `sim`, every tenant at `quota`.
    pub async fn worker(
        &self,
        rig: &Rig,
        sim: &SimHandle,
        quota: Quota,
    ) -> anyhow::Result<WorkerProcess> {
        self.worker_with(rig, sim, (quota, None)).await
    }

    /// [`Ctx::worker`], told ServiceNow's rate-limit window too (a rehearsal's scaled hour).
    pub async fn worker_with(
        &self,
        rig: &Rig,
        sim: &SimHandle,
        (quota, servicenow_window): (Quota, Option<Duration>),
    ) -> anyhow::Result<WorkerProcess> {
        WorkerProcess::start(&WorkerSpec {
            bin: &self.worker_bin,
            broker_url: &self.broker_url,
            prefix: &rig.prefix,
            sim,
            tenants: &rig.tenants,
            settings: self.settings,
            quota,
            servicenow_window,
            replica: None,
        })
        .await
    }
}

/// A simulator on a free loopback port whose Genesys quota is `quota`.
pub async fn simulator(quota: Quota) -> anyhow::Result<SimHandle> {
    fixtures::start(fixtures::genesys_quota(quota.requests, quota.window)).await
}

/// Waits until the worker has consumed `published` changes and holds none in flight (all
/// acked after both targets, or dead-lettered); returns that instant. Fails at `deadline`.
pub async fn wait_settled(
    worker: &WorkerProcess,
    published: impl Fn() -> u64,
    deadline: Instant,
    progress: &mut ScenarioProgress,
) -> anyhow::Result<Instant> {
    loop {
        let m = worker.metrics().await?;
        let consumed = m.sum("scriptsync_changes_consumed_total", &[]) as u64;
        let inflight = m.sum("scriptsync_inflight", &[]) as u64;
        let target = published();
        progress.update(
            consumed.saturating_sub(inflight),
            &format!("in flight {inflight}"),
        );
        if target > 0 && consumed >= target && inflight == 0 {
            return Ok(Instant::now());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "not settled in time: consumed {consumed} of {target}, {inflight} in flight"
        );
        tokio::time::sleep(POLL).await;
    }
}
