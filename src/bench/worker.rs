//! The worker under test, as a child process: `<worker-bin> run --config <tmp>/worker.toml`.
//!
//! The config uses only keys that exist today (so an older build accepts it) and a secret
//! file; the admin port is picked here so no log needs reading. Its peak RSS (`VmHWM`) and
//! CPU time (utime + stime) come from `/proc/<pid>`, so they are the worker's own. The child
//! is killed when the [`WorkerProcess`] is dropped, on every exit path.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context as _;
use scriptsync_sim::SimHandle;

use super::scrape::Scrape;
use super::worker_config::write_config;

/// How long a started worker may take to report ready, plus [`READY_PER_TENANT`] each.
const READY_WITHIN: Duration = Duration::from_secs(30);
const READY_PER_TENANT: Duration = Duration::from_millis(100);

/// The knobs a production operator would set, printed in the report header.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct WorkerSettings {
    pub prefetch: u16,
    pub max_changes: usize,
    pub linger: Duration,
    pub max_concurrency: usize,
    pub headroom: f64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            prefetch: 500,
            max_changes: 100,
            linger: Duration::from_millis(100),
            max_concurrency: 4,
            headroom: 0.9,
        }
    }
}

/// The Genesys quota one run gives every tenant (the simulator gets the same).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub requests: u32,
    pub window: Duration,
}

/// Everything the worker's config is made of.
pub struct WorkerSpec<'a> {
    pub bin: &'a Path,
    pub broker_url: &'a str,
    pub prefix: &'a str,
    pub sim: &'a SimHandle,
    pub tenants: &'a [String],
    pub settings: WorkerSettings,
    pub quota: Quota,
    /// ServiceNow's rate-limit window as the worker is told it (`servicenow.window`; `None`:
    /// the hour of the real service).
    pub servicenow_window: Option<Duration>,
    /// The replica's id and heartbeat (`None`: the host name's, every 100 ms): workers of one
    /// prefix side by side need ids of their own.
    pub replica: Option<Replica<'a>>,
}

/// One of several replicas of a prefix.
#[derive(Debug, Clone, Copy)]
pub struct Replica<'a> {
    pub id: &'a str,
    pub heartbeat: Duration,
}

/// A running worker; killed on drop.
pub struct WorkerProcess {
    child: Child,
    dir: PathBuf,
    admin: SocketAddr,
    http: reqwest::Client,
    /// The highest allocator figures seen in its `/metrics` (bytes): (allocated, resident).
    peak_allocator: parking_lot::Mutex<(f64, f64)>,
    /// From its start until `/readyz` said every tenant is consumed.
    ready_after: Duration,
}

impl WorkerProcess {
    /// Writes the config, starts the worker and waits until `/readyz` says it consumes.
    pub async fn start(spec: &WorkerSpec<'_>) -> anyhow::Result<Self> {
        let name = match spec.replica {
            Some(r) => format!("{}-{}", spec.prefix, r.id),
            None => spec.prefix.to_owned(),
        };
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("bench: {}", dir.display()))?;
        let admin = free_port()?;
        let config = write_config(&dir, spec, admin)?;
        let log = std::fs::File::create(dir.join("worker.log")).context("bench: worker log")?;
        let child = Command::new(spec.bin)
            .args(["run", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("bench: cannot start {}", spec.bin.display()))?;
        let mut worker = Self {
            child,
            dir,
            admin,
            http: reqwest::Client::new(),
            peak_allocator: parking_lot::Mutex::default(),
            ready_after: Duration::ZERO,
        };
        let started = tokio::time::Instant::now();
        let tenants = u32::try_from(spec.tenants.len()).unwrap_or(u32::MAX);
        let ready_within = READY_WITHIN + READY_PER_TENANT * tenants;
        let deadline = started + ready_within;
        loop {
            if let Some(status) = worker.child.try_wait()? {
                anyhow::bail!(
                    "the worker exited at start ({status}); its log: {}",
                    worker.log_tail()
                );
            }
            let url = format!("http://{}/readyz", worker.admin);
            if let Ok(r) = worker.http.get(&url).send().await
                && r.status().is_success()
            {
                worker.ready_after = started.elapsed();
                return Ok(worker);
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "the worker was not ready within {ready_within:?}; its log: {}",
                worker.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The worker's `/metrics`, parsed (the allocator's figures are noted for
    /// [`WorkerProcess::peak_allocator_mib`]).
    pub async fn metrics(&self) -> anyhow::Result<Scrape> {
        let url = format!("http://{}/metrics", self.admin);
        let text = self.http.get(&url).send().await?.text().await?;
        let scrape = Scrape::parse(&text);
        let bytes = |kind| scrape.sum("scriptsync_allocator_bytes", &[("kind", kind)]);
        let mut peak = self.peak_allocator.lock();
        *peak = (
            peak.0.max(bytes("allocated")),
            peak.1.max(bytes("resident")),
        );
        Ok(scrape)
    }

    /// The highest (allocated, resident) the allocator reported in the scrapes so far, MiB:
    /// what the program held, and what the allocator kept in RAM for it.
    pub fn peak_allocator_mib(&self) -> (f64, f64) {
        let peak = *self.peak_allocator.lock();
        (peak.0 / 1048576.0, peak.1 / 1048576.0)
    }

    /// How long it took from its start until it said it is ready (every tenant consumed).
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// The process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status, once it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Resident memory now, in bytes (`VmRSS`).
    pub fn rss_bytes(&self) -> Option<u64> {
        self.status_kib("VmRSS:").map(|kib| (kib * 1024.0) as u64)
    }

    /// Resident memory now, in MiB (`VmRSS`).
    pub fn rss_mib(&self) -> Option<f64> {
        self.status_kib("VmRSS:").map(|kib| kib / 1024.0)
    }

    fn status_kib(&self, field: &str) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Peak resident memory so far, in MiB (`VmHWM`).
    pub fn peak_rss_mib(&self) -> Option<f64> {
        self.status_kib("VmHWM:").map(|kib| kib / 1024.0)
    }

    /// CPU seconds used so far (user + system).
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the command name "(…)": state is field 3, utime 14, stime 15.
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some(ticks / clock_ticks())
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("worker.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// A loopback port free right now, for the worker's admin endpoints.
fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("bench: no free port")?;
    Ok(listener.local_addr()?)
}
