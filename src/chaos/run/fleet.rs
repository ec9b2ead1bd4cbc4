//! The workers of a chaos run: release-binary child processes of one prefix, each a replica
//! of its own id (`worker-1`, `worker-2`, …), killed, stopped and started again by the
//! nemesis. A worker started again is a new incarnation (`worker-2.3`: its third), so its
//! memory is sampled apart from the process it replaces.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use scriptsync_sim::SimHandle;

use crate::bench::worker::{Quota, Replica, WorkerProcess, WorkerSettings, WorkerSpec};

/// How often the replicas tell each other they are alive (the worker's default).
pub const REPLICA_HEARTBEAT: Duration = Duration::from_secs(1);

/// How a fleet's workers are started.
pub struct FleetSpec {
    pub bin: PathBuf,
    pub broker_url: String,
    pub prefix: String,
    pub tenants: Vec<String>,
    pub quota: Quota,
}

/// One worker slot: its current process, if running, and how many it has had.
struct Slot {
    id: String,
    process: Option<WorkerProcess>,
    incarnation: u32,
}

/// The workers.
pub struct Fleet {
    spec: FleetSpec,
    slots: Vec<Slot>,
}

impl Fleet {
    /// Starts `n` workers, one after the other.
    pub async fn start(spec: FleetSpec, n: usize, sim: &SimHandle) -> anyhow::Result<Self> {
        let mut fleet = Self {
            spec,
            slots: (1..=n)
                .map(|i| Slot {
                    id: format!("worker-{i}"),
                    process: None,
                    incarnation: 0,
                })
                .collect(),
        };
        for i in 0..n {
            fleet.restart(i, sim).await?;
        }
        Ok(fleet)
    }

    /// How many workers.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Starts worker `i` (a new incarnation) if it is not running.
    pub async fn restart(&mut self, i: usize, sim: &SimHandle) -> anyhow::Result<()> {
        let slot = &mut self.slots[i];
        if let Some(p) = &mut slot.process
            && p.exited().is_none()
        {
            return Ok(());
        }
        slot.process = None;
        let process = WorkerProcess::start(&WorkerSpec {
            bin: &self.spec.bin,
            broker_url: &self.spec.broker_url,
            prefix: &self.spec.prefix,
            sim,
            tenants: &self.spec.tenants,
            settings: WorkerSettings::default(),
            quota: self.spec.quota,
            servicenow_window: None,
            replica: Some(Replica {
                id: &slot.id,
                heartbeat: REPLICA_HEARTBEAT,
            }),
        })
        .await
        .with_context(|| format!("chaos: starting {}", slot.id))?;
        slot.process = Some(process);
        slot.incarnation += 1;
        Ok(())
    }

    /// Sends `signal` (`KILL`, `TERM`, `STOP`, `CONT`) to worker `i`, if it runs.
    pub fn signal(&self, i: usize, signal: &str) -> anyhow::Result<()> {
        let Some(p) = &self.slots[i].process else {
            return Ok(());
        };
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(p.pid().to_string())
            .status()
            .context("chaos: running kill")?;
        anyhow::ensure!(status.success(), "chaos: kill -{signal} {} failed", p.pid());
        Ok(())
    }

    /// Waits (at most `within`) for worker `i` to exit; true if it did.
    pub async fn exited(&mut self, i: usize, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let gone = self.slots[i]
                .process
                .as_mut()
                .is_none_or(|p| p.exited().is_some());
            if gone {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Each running worker's incarnation name and resident memory (bytes).
    pub fn memory(&self) -> Vec<(String, u64)> {
        self.slots
            .iter()
            .filter_map(|s| {
                let bytes = s.process.as_ref()?.rss_bytes()?;
                Some((self.incarnation_name(s), bytes))
            })
            .collect()
    }

    /// `worker-1` for a first incarnation, `worker-1.2` for the second, and so on.
    fn incarnation_name(&self, slot: &Slot) -> String {
        if slot.incarnation <= 1 {
            slot.id.clone()
        } else {
            format!("{}.{}", slot.id, slot.incarnation)
        }
    }

    /// The id of worker `i` (its replica id).
    pub fn id(&self, i: usize) -> &str {
        &self.slots[i].id
    }
}
