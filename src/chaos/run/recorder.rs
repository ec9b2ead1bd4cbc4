//! The recorder: writes the run's history as it happens, one JSON line per event
//! ([`crate::chaos::history::Event`]), timed from the run's start, and keeps a copy in memory
//! for the checker and the report. It follows the simulator's stream of applied writes, and
//! samples each worker's memory and the simulator's count of requests into a pause.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use parking_lot::Mutex;
use scriptsync::change::TargetKind;
use scriptsync_sim::{Applied, SimHandle, SimState, SimTarget};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::chaos::history::Event;

/// The history being written; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    start: Instant,
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    out: BufWriter<std::fs::File>,
    events: Vec<Event>,
    failed: Option<String>,
}

impl Recorder {
    /// A history written to `path` (created, or emptied), timed from now.
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let file = std::fs::File::create(path)
            .with_context(|| format!("chaos: cannot write the history {}", path.display()))?;
        Ok(Self {
            start: Instant::now(),
            inner: Arc::new(Mutex::new(Inner {
                out: BufWriter::new(file),
                events: Vec::new(),
                failed: None,
            })),
        })
    }

    /// Milliseconds from the run's start to `at`.
    pub fn ms(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.start).as_millis()).unwrap_or(u64::MAX)
    }

    /// Milliseconds since the run's start.
    pub fn now_ms(&self) -> u64 {
        self.ms(Instant::now())
    }

    /// Appends one event to the file and to the copy in memory.
    pub fn record(&self, event: Event) {
        let mut inner = self.inner.lock();
        let line = serde_json::to_string(&event).unwrap_or_else(|e| format!("{{\"error\":{e:?}}}"));
        if let Err(e) = writeln!(inner.out, "{line}") {
            inner.failed.get_or_insert(e.to_string());
        }
        inner.events.push(event);
    }

    /// Everything recorded so far.
    pub fn events(&self) -> Vec<Event> {
        self.inner.lock().events.clone()
    }

    /// Flushes the file; an earlier write error is reported here.
    pub fn finish(&self) -> anyhow::Result<()> {
        let mut inner = self.inner.lock();
        inner.out.flush().context("chaos: writing the history")?;
        match &inner.failed {
            Some(e) => anyhow::bail!("chaos: writing the history: {e}"),
            None => Ok(()),
        }
    }

    /// Records every write the simulator applies until `stop`, and then those already
    /// streamed.
    pub fn follow_applied(
        &self,
        sim: &SimHandle,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let mut applied = sim.watch_applied();
        let me = self.clone();
        let record = move |a: Applied| {
            me.record(Event::Applied {
                at_ms: me.ms(a.at),
                tenant: a.tenant,
                target: target_kind(a.target),
                script: a.script_id,
                version: a.version,
                deleted: a.deleted,
            });
        };
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    Some(a) = applied.recv() => record(a),
                    _ = stop.cancelled() => break,
                }
            }
            while let Ok(a) = applied.try_recv() {
                record(a);
            }
        })
    }

    /// Records the simulator's count of requests into a pause for every (tenant, target).
    pub fn pauses(&self, state: &SimState) {
        let at_ms = self.now_ms();
        for (tenant, t) in &state.tenants {
            for target in [SimTarget::Genesys, SimTarget::Servicenow] {
                self.record(Event::IntoPause {
                    at_ms,
                    tenant: tenant.clone(),
                    target: target_kind(target),
                    count: t.target(target).violations,
                });
            }
        }
    }

    /// Records whose credentials wrote each tenant's records, at each target.
    pub fn credentials(&self, state: &SimState) {
        let at_ms = self.now_ms();
        for (tenant, t) in &state.tenants {
            for target in [SimTarget::Genesys, SimTarget::Servicenow] {
                for principal in &t.target(target).tokens_seen {
                    self.record(Event::Credential {
                        at_ms,
                        tenant: tenant.clone(),
                        target: target_kind(target),
                        principal: principal.clone(),
                    });
                }
            }
        }
    }
}

/// The simulator's name for a target, as the worker's.
pub fn target_kind(target: SimTarget) -> TargetKind {
    match target {
        SimTarget::Genesys => TargetKind::Genesys,
        SimTarget::Servicenow => TargetKind::Servicenow,
    }
}

/// The worker's name for a target, as the simulator's.
pub fn sim_target(target: TargetKind) -> SimTarget {
    match target {
        TargetKind::Genesys => SimTarget::Genesys,
        TargetKind::Servicenow => SimTarget::Servicenow,
    }
}
