//! Without an endpoint: the real binary opens no connection for telemetry and logs nothing
//! about it.

use super::*;

/// Remote ports of the TCP sockets `pid` holds (from /proc), and the local ports it listens on.
fn tcp_peers(pid: u32) -> (Vec<u16>, Vec<u16>) {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    l.strip_prefix("socket:[")?
                        .strip_suffix(']')
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    let (mut remote, mut listening) = (Vec::new(), Vec::new());
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 || !inodes.contains(cols[9]) {
                continue;
            }
            let port =
                |addr: &str| u16::from_str_radix(addr.rsplit(':').next().unwrap(), 16).unwrap();
            if cols[3] == "0A" {
                listening.push(port(cols[1]));
            } else {
                remote.push(port(cols[2]));
            }
        }
    }
    (remote, listening)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_nothing_connects_and_nothing_is_logged() {
    // The simulator and a prefix from the helper; the worker is the real binary.
    let helper = common::spawn_app(&["quiet"], |_| {}).await;
    let config = helper.write_config();
    let stderr_path = config.with_file_name("worker.log");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_scriptsync"));
    cmd.args(["run", "--config"])
        .arg(&config)
        .env("SCRIPTSYNC__ADMIN__LISTEN", "127.0.0.1:0")
        .env(
            "SCRIPTSYNC__BROKER__PREFIX",
            format!("{}-bin", helper.settings.broker.prefix),
        )
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("OTEL_")) {
        cmd.env_remove(k);
    }
    let mut child = cmd.spawn().expect("the scriptsync binary starts");
    let pid = child.id();
    // If the test fails before reaping the worker, do not leave it running.
    let _reaper = KillPidOnDrop(pid);

    // The worker consumes from its own prefix: publish there and wait for the simulator.
    let names = scriptsync::broker::Names::new(&format!("{}-bin", helper.settings.broker.prefix));
    let sim_port = url::Url::parse(&helper.sim.base_url())
        .unwrap()
        .port()
        .unwrap();
    let broker_port = url::Url::parse(BROKER_URL).unwrap().port().unwrap();
    let mut peers = Vec::new();
    let mut listening = Vec::new();
    let mut published = false;
    eventually("the binary delivered the change to both targets", || {
        let (remote, listen) = tcp_peers(pid);
        peers.extend(remote);
        listening.extend(listen);
        let held = helper.sim_state();
        let done = held.tenants.get("quiet").is_some_and(|t| {
            t.genesys.held.contains_key("s") && t.servicenow.held.contains_key("s")
        });
        let publish = !published;
        published = true;
        let names = &names;
        let helper = &helper;
        let stderr_path = &stderr_path;
        async move {
            if publish {
                // Wait until the worker has declared its whole topology (queue AND binding)
                // and consumes: it logs "consuming" then. A queue that merely exists may
                // not be bound yet, and a message published then goes to the unrouted queue.
                eventually("the binary is consuming", || async {
                    std::fs::read_to_string(stderr_path)
                        .unwrap_or_default()
                        .contains("\"message\":\"consuming\"")
                })
                .await;
                let body = serde_json::to_vec(&change("quiet", "s", 1)).unwrap();
                let props = BasicProperties::default().with_content_type("application/json".into());
                helper
                    .publisher
                    .publish(&names.exchange(), "quiet", &body, props, false)
                    .await
                    .unwrap();
            }
            done
        }
    })
    .await;
    let (remote, listen) = tcp_peers(pid);
    peers.extend(remote);
    listening.extend(listen);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");

    let log = std::fs::read_to_string(&stderr_path).unwrap();
    let admin_port: Vec<u16> = listening.clone();
    let strangers: Vec<u16> = peers
        .iter()
        .copied()
        .filter(|p| *p != broker_port && *p != sim_port && *p != 0 && !admin_port.contains(p))
        .collect();
    assert!(!peers.is_empty(), "the worker's sockets were seen");
    assert!(
        strangers.is_empty(),
        "unexpected peers {strangers:?}; log:\n{log}"
    );
    for line in log.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or(Value::Null);
        assert_ne!(v["level"], "ERROR", "{line}");
        let lower = line.to_lowercase();
        assert!(
            !lower.contains("opentelemetry") && !lower.contains("otlp"),
            "{line}"
        );
    }
    assert!(log.contains("admin endpoints listening"), "{log}");
    // Clean up the binary's own queues too.
    let topology =
        scriptsync::broker::Topology::new(&names, &helper.settings.broker, ["quiet".to_string()]);
    let _ = topology.delete(helper.publisher.channel()).await;
    helper.stop().await;
}

/// Sends SIGKILL to `pid` when dropped (a no-op once the worker has exited and been reaped).
struct KillPidOnDrop(u32);

impl Drop for KillPidOnDrop {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .status();
        }
    }
}
