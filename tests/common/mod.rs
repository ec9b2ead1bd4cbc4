//! Test helpers: the worker in this process against the local RabbitMQ (random prefix) and
//! the simulator (port 0) ([`TestApp`], in `app`; its queue helpers in `queues`), the worker
//! as a child process (`process`), a local 3-node cluster (`cluster`), tenant directories
//! (`tenant_dir`); here, changes, waiting by polling with a deadline, and running the CLI.
#![allow(dead_code)]

mod app;
// The local cluster is the chaos run's too (`scriptsync chaos --cluster`): one copy, in the
// binary's tree, compiled here as a module of the tests.
#[path = "../../src/chaos/cluster/mod.rs"]
pub mod cluster;
pub mod process;
mod queues;
pub mod tenant_dir;

#[allow(unused_imports)]
pub use app::{TestApp, spawn_app, spawn_app_layered, spawn_app_with_admin, spawn_app_with_sim};
#[allow(unused_imports)]
pub use queues::{DeadLetterCopy, PeekedLetter};

use std::future::Future;
use std::time::Duration;

use scriptsync::change::ScriptChange;

pub const BROKER_URL: &str = "amqp://127.0.0.1:5672/%2f";
/// Upper bound for any wait in a test; generous because the machine is shared.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Whether the tests that stop or restart broker nodes (`broker_faults` stops the local
/// broker's app; `broker_cluster` runs nodes of its own) may run here: only when asked with
/// `SCRIPTSYNC_BROKER_NODE_TESTS=1` (`.ci/run` sets it; a plain `cargo test` must not stop a
/// broker someone uses for other work), and only where `rabbitmqctl` can reach the local
/// node (not with a broker in a container). Otherwise says why on stderr and skips.
pub fn broker_node_tests_allowed(what: &str) -> bool {
    use std::io::Write;
    let why = if std::env::var("SCRIPTSYNC_BROKER_NODE_TESTS").as_deref() != Ok("1") {
        "they stop broker nodes; set SCRIPTSYNC_BROKER_NODE_TESTS=1 to run them (.ci/run does)"
    } else if !std::process::Command::new("rabbitmqctl")
        .args(["-q", "status"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        "rabbitmqctl cannot reach a local node (a broker in a container?)"
    } else {
        return true;
    };
    // Straight to the process's stderr: libtest captures `eprintln!` of passing tests.
    let _ = writeln!(std::io::stderr(), "SKIPPED {what}: {why}");
    false
}

/// A valid change for `tenant`/`script` at `version`.
pub fn change(tenant: &str, script: &str, version: u64) -> ScriptChange {
    let id = format!(
        "{tenant}-{script}-v{version}-{}",
        uuid::Uuid::new_v4().simple()
    );
    ScriptChange::builder(id, tenant, script, version, format!("hash-{version}"))
        .published_at("2026-11-27T10:00:00Z")
        .disclaimer(format!("Disclaimer v{version}"))
        .build()
        .unwrap_or_else(|e| panic!("test change {tenant}/{script} v{version}: {e}"))
}

/// A change of `tenant`'s `script` at `version` owed to Genesys only.
pub fn genesys_only(tenant: &str, script: &str, version: u64) -> ScriptChange {
    change(tenant, script, version)
        .to_builder()
        .targets([scriptsync::change::TargetKind::Genesys])
        .build()
        .unwrap()
}

/// The broker-side pid of the connection named `name` (client property `connection_name`),
/// from `rabbitmqctl list_connections`.
pub fn broker_connection_pid(name: &str) -> Option<String> {
    let out = std::process::Command::new("rabbitmqctl")
        .args(["list_connections", "pid", "client_properties", "-q"])
        .output()
        .expect("rabbitmqctl runs");
    let wanted = format!("{{\"connection_name\",\"{name}\"}}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.contains(&wanted))
        .find_map(|line| line.split('\t').next().map(str::to_owned))
}

/// Polls `cond` every 50 ms until it holds or [`DEADLINE`] passes (then panics with `what`).
pub async fn eventually<F, Fut>(what: &str, cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    within(what, DEADLINE, cond).await
}

/// [`eventually`] with a deadline of the caller's (`limit`), for waits longer than the usual
/// one: an outage, a server's pause.
pub async fn within<F, Fut>(what: &str, limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the `scriptsync` binary with `args` and returns (exit code, stdout, stderr).
pub async fn run_cli(args: &[&str]) -> (i32, String, String) {
    run_cli_with_stdin(args, b"").await
}

/// Like [`run_cli`], with `stdin` as the command's standard input.
pub async fn run_cli_with_stdin(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_scriptsync"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("scriptsync starts");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    // Written beside the wait: a large input must not block on a full pipe.
    let writer = tokio::spawn(async move {
        let _ = input.write_all(&stdin).await;
    });
    let out = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("scriptsync {args:?} finishes"))
        .unwrap();
    let _ = writer.await;
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A child process that is killed if the test ends (or panics) before it is reaped, so a
/// failed test never leaves a worker running.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
