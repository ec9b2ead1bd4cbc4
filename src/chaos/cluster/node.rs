//! One node of the local cluster: its folder, `rabbitmq.conf`, env file and empty plugins
//! file, started from the package's own `rabbitmq-server` script in a process group of its
//! own with the `rabbitmq` user's home (for the Erlang cookie); `rabbitmqctl` against it; the
//! wait for its boot, and its shutdown (VM and process group). Where that cannot run here.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// The package's own start script (not the PATH wrapper, which switches user).
const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
/// Home of the `rabbitmq` user, where the CLI's Erlang cookie lives.
const RABBITMQ_HOME: &str = "/var/lib/rabbitmq";
/// Upper bound for one node's boot or one `rabbitmqctl` step.
const STEP_TIMEOUT_SECS: u64 = 120;

pub(super) struct Node {
    pub(super) name: String,
    pub(super) port: u16,
    pub(super) dir: PathBuf,
    pub(super) child: Child,
    /// False between [`LocalCluster::stop_node`] and [`LocalCluster::start_node`].
    pub(super) up: AtomicBool,
}

/// Runs `rabbitmqctl -q -n node args…`; Ok(stdout) on success, Err(stdout + stderr) otherwise.
pub(super) fn ctl(node: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("rabbitmqctl")
        .args(["-q", "-n", node])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("rabbitmqctl: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Why the cluster cannot run here, if it cannot.
pub(super) fn unavailable() -> Option<String> {
    if !Path::new(SERVER).exists() {
        return Some("rabbitmq-server not found, cluster tests need it".into());
    }
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some(
            "cluster tests need root (the nodes must read the rabbitmq user's Erlang cookie, \
             which rabbitmqctl uses)"
                .into(),
        );
    }
    None
}

pub(super) fn spawn_node(dir: &Path, name: &str, port: u16, dist_port: u16) -> Child {
    std::fs::create_dir_all(dir.join("mnesia")).unwrap();
    std::fs::create_dir_all(dir.join("log")).unwrap();
    let conf = dir.join("rabbitmq.conf");
    std::fs::write(
        &conf,
        format!(
            "listeners.tcp.1 = 127.0.0.1:{port}\n\
             # guest may log in from loopback only (the default); the tests connect from 127.0.0.1\n\
             loopback_users.guest = true\n"
        ),
    )
    .unwrap();
    let plugins = dir.join("enabled_plugins");
    std::fs::write(&plugins, "[].\n").unwrap();
    // Our own env file, so the machine's (which names its node) is not read; distribution
    // on loopback only, like the machine's node.
    let env_file = dir.join("rabbitmq-env.conf");
    std::fs::write(
        &env_file,
        "export ERL_FLAGS=\"-kernel inet_dist_use_interface {127,0,0,1}\"\n",
    )
    .unwrap();
    let out = std::fs::File::create(dir.join("stdout.log")).unwrap();
    let err = out.try_clone().unwrap();
    use std::os::unix::process::CommandExt;
    Command::new(SERVER)
        .current_dir(dir)
        .env("HOME", RABBITMQ_HOME)
        .env("RABBITMQ_NODENAME", name)
        .env("RABBITMQ_DIST_PORT", dist_port.to_string())
        .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
        .env("RABBITMQ_LOG_BASE", dir.join("log"))
        .env("RABBITMQ_ENABLED_PLUGINS_FILE", &plugins)
        .env("RABBITMQ_CONFIG_FILE", &conf)
        .env("RABBITMQ_ADVANCED_CONFIG_FILE", dir.join("advanced.config"))
        .env("RABBITMQ_CONF_ENV_FILE", &env_file)
        .env("RABBITMQ_PID_FILE", dir.join("pid"))
        // A marker on the VM's command line, so `ps aux | grep ssc` finds the nodes (the node
        // name itself travels in the environment).
        .env(
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
            format!("-scriptsync_test_node {name}"),
        )
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .expect("rabbitmq-server starts")
}

impl Node {
    pub(super) fn ctl_ok(&self, args: &[&str]) -> String {
        ctl(&self.name, args)
            .unwrap_or_else(|e| panic!("rabbitmqctl -n {} {args:?}: {e}", self.name))
    }

    /// `rabbitmqctl wait` on the pid file: waits for the VM to write it, then for the app.
    pub(super) fn wait_booted(&self) {
        let pid_file = self.dir.join("pid");
        let pid_file = pid_file.to_str().unwrap();
        let timeout = STEP_TIMEOUT_SECS.to_string();
        if let Err(e) = ctl(&self.name, &["wait", pid_file, "--timeout", &timeout]) {
            let log = std::fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default();
            panic!(
                "node {} did not boot: {e}\n--- its output ---\n{log}",
                self.name
            );
        }
    }

    /// Stops the node (VM included), then kills whatever is left of its process group.
    pub(super) fn shut_down(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = ctl(&self.name, &["stop", "--timeout", "30"]);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        // The process group (the script, the VM, its port programs), alive or not.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}
