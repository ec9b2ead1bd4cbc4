//! Broker loss: the worker's connections are closed from the broker side, and separately the
//! broker app is stopped and started, while pushes are in flight. The worker reconnects with
//! backoff, `/readyz` is false meanwhile and true after, and every change is delivered at its
//! newest version with nothing lost and no older version over a newer one.
//!
//! These tests disturb every client of the local broker, so this binary serializes its own
//! tests (cargo runs test binaries one after another), and the broker app is always started
//! again, even when a test fails.

mod common;

use std::process::Command;
use std::time::Duration;

use common::eventually;
use common::process::{Harness, Options, readyz};
use scriptsync_sim::{Faults, SimConfig, SimTarget};

const SCRIPTS: u64 = 30;
const VERSIONS: u64 = 8;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn rabbitmqctl(args: &[&str]) -> bool {
    Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Starts the broker app again when dropped (also on panic), and waits for it.
struct BrokerAppGuard;

impl Drop for BrokerAppGuard {
    fn drop(&mut self) {
        rabbitmqctl(&["start_app"]);
        rabbitmqctl(&["await_startup", "--timeout", "120"]);
    }
}

async fn slow_harness(tenant: &str) -> Harness {
    let sim_config = SimConfig {
        genesys_requests_per_minute: 100_000,
        ..SimConfig::default()
    };
    let h = Harness::new(tenant, sim_config, Options::default()).await;
    let slow = Faults {
        latency: Duration::from_millis(100),
        ..Faults::default()
    };
    h.sim.set_faults(Some(tenant), SimTarget::Genesys, slow);
    h
}

fn reconnect_attempts(h: &Harness) -> usize {
    std::fs::read_to_string(&h.log)
        .unwrap_or_default()
        .matches("broker connection lost; reconnecting")
        .count()
}

/// Polls `/readyz` every 10 ms until it has answered "not ready" (or not at all) at least
/// once and then 200 again. Returns how many polls were not ready.
async fn wait_not_ready_then_ready(admin: &str) -> u32 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut not_ready = 0;
    loop {
        match readyz(admin).await {
            Some(200) if not_ready > 0 => return not_ready,
            Some(200) => {}
            _ => not_ready += 1,
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "readyz never went false and back to true ({not_ready} not-ready polls)"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_closed_by_the_broker_mid_run() {
    if !common::broker_node_tests_allowed("connections_closed_by_the_broker_mid_run") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let h = slow_harness("brk-close").await;
    let worker = h.spawn_mid_flight(SCRIPTS, VERSIONS).await;
    let admin = h.admin_addr().await;
    eventually("worker ready", || async {
        readyz(&admin).await == Some(200)
    })
    .await;

    assert!(rabbitmqctl(&[
        "close_all_connections",
        "scriptsync broker fault test"
    ]));
    let not_ready = wait_not_ready_then_ready(&admin).await;
    println!(
        "close_all_connections: readyz not ready for {not_ready} polls, {} reconnect(s) logged, {} Genesys writes so far",
        reconnect_attempts(&h),
        h.genesys_writes()
    );
    assert!(reconnect_attempts(&h) >= 1);
    h.finish(worker, SCRIPTS, VERSIONS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_app_stopped_and_started_mid_run() {
    if !common::broker_node_tests_allowed("broker_app_stopped_and_started_mid_run") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let h = slow_harness("brk-restart").await;
    let worker = h.spawn_mid_flight(SCRIPTS, VERSIONS).await;
    let admin = h.admin_addr().await;
    eventually("worker ready", || async {
        readyz(&admin).await == Some(200)
    })
    .await;

    let guard = BrokerAppGuard;
    assert!(rabbitmqctl(&["stop_app"]));
    eventually("readyz false while the broker is down", || async {
        readyz(&admin).await != Some(200)
    })
    .await;
    // Keep the broker down until the worker has failed to reconnect at least twice.
    eventually("two failed reconnects", || async {
        reconnect_attempts(&h) >= 2
    })
    .await;
    let writes_while_down = h.genesys_writes();
    drop(guard); // start_app + await_startup
    eventually("ready again", || async {
        readyz(&admin).await == Some(200)
    })
    .await;
    println!(
        "stop_app/start_app: {} reconnect attempt(s) logged, {writes_while_down} Genesys writes before the restart",
        reconnect_attempts(&h)
    );
    h.finish(worker, SCRIPTS, VERSIONS).await;
}

/// Sets the broker's `consumer_timeout` (and the channel tick that enforces it, 60 s on 3.10)
/// for channels opened from now on, and puts both back as they were when dropped. RabbitMQ
/// 3.10 ignores the per-queue `x-consumer-timeout` argument (3.12+), so the node-wide setting
/// is what a test can shorten, at run time, with `rabbitmqctl eval`.
struct ConsumerTimeoutGuard {
    previous: Vec<(&'static str, Option<String>)>,
}

fn rabbit_env(key: &str) -> Option<String> {
    let out = Command::new("rabbitmqctl")
        .args([
            "-q",
            "eval",
            &format!("application:get_env(rabbit, {key})."),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    text.strip_prefix("{ok,")
        .and_then(|v| v.strip_suffix('}'))
        .map(str::to_owned)
}

fn set_rabbit_env(key: &str, value: Option<&str>) -> bool {
    let expr = match value {
        Some(v) => format!("application:set_env(rabbit, {key}, {v})."),
        None => format!("application:unset_env(rabbit, {key})."),
    };
    rabbitmqctl(&["eval", &expr])
}

impl ConsumerTimeoutGuard {
    fn set(timeout_ms: u64, tick_ms: u64) -> Self {
        let keys = ["consumer_timeout", "channel_tick_interval"];
        let previous = keys.iter().map(|k| (*k, rabbit_env(k))).collect();
        let guard = Self { previous };
        assert!(set_rabbit_env(
            "consumer_timeout",
            Some(&timeout_ms.to_string())
        ));
        assert!(set_rabbit_env(
            "channel_tick_interval",
            Some(&tick_ms.to_string())
        ));
        guard
    }
}

impl Drop for ConsumerTimeoutGuard {
    fn drop(&mut self) {
        for (key, value) in &self.previous {
            set_rabbit_env(key, value.as_deref());
        }
    }
}

/// One tenant whose ServiceNow gate a 429 closes for `pause`, the worker told the broker's
/// `consumer_timeout` (or not); three changes published. Returns the harness, the worker and
/// how the broker closed its channels (reconnects logged) by the time every change was
/// delivered to both targets, or by `give_up`.
async fn paused_servicenow(
    tenant: &str,
    told: Option<Duration>,
    pause: Duration,
) -> (Harness, common::KillOnDrop) {
    let options = Options {
        consumer_timeout: told,
        ..Options::default()
    };
    let h = Harness::new(tenant, SimConfig::default(), options).await;
    let inject =
        scriptsync_sim::InjectedResponse::new(429).with_retry_after(pause.as_secs().to_string());
    let faults = Faults {
        inject: vec![inject],
        ..Faults::default()
    };
    h.sim
        .set_faults(Some(tenant), SimTarget::Servicenow, faults);
    let worker = h.spawn_worker();
    let admin = h.admin_addr().await;
    eventually("worker ready", || async {
        readyz(&admin).await == Some(200)
    })
    .await;
    for script in ["a", "b", "c"] {
        h.publish_one(script, 1).await;
    }
    (h, worker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_pause_never_holds_deliveries_past_the_consumer_timeout() {
    if !common::broker_node_tests_allowed(
        "a_long_pause_never_holds_deliveries_past_the_consumer_timeout",
    ) {
        return;
    }
    let _serial = SERIAL.lock().await;
    // The broker closes a channel holding a delivery unacked for 5 s (checked every second).
    let _timeout = ConsumerTimeoutGuard::set(5_000, 1_000);
    let pause = Duration::from_secs(20);

    // Without being told, the worker holds its deliveries for the whole pause: the broker
    // closes the channel (and the worker reconnects). This proves the setting bites.
    let (h, worker) = paused_servicenow("ct-untold", None, pause).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while reconnect_attempts(&h) == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let untold = reconnect_attempts(&h);
    assert!(
        untold >= 1,
        "the broker closed the channel of held deliveries"
    );
    let closed = std::fs::read_to_string(&h.log).unwrap_or_default();
    h.stop_and_clean(worker).await;

    // Told the broker's timeout, it parks what would wait past half of it: no channel is
    // closed, everything arrives after the pause, nothing is dead-lettered.
    let (h, worker) = paused_servicenow("ct-told", Some(Duration::from_secs(5)), pause).await;
    let sn_holds_all = || {
        let sn = h.sim.state().tenant("ct-told").servicenow;
        ["a", "b", "c"].iter().all(|s| sn.held.contains_key(*s))
    };
    let deadline = tokio::time::Instant::now() + pause + Duration::from_secs(40);
    while !sn_holds_all() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let state = h.sim.state().tenant("ct-told");
    assert!(
        sn_holds_all(),
        "ServiceNow holds every change after the pause"
    );
    assert_eq!(state.genesys.held.len(), 3, "Genesys was not held up");
    assert_eq!(state.servicenow.violations, 0);
    assert_eq!(
        reconnect_attempts(&h),
        0,
        "no channel was closed by the broker"
    );
    assert_eq!(h.depth(&h.names.dlq()).await, 0, "nothing dead-lettered");
    let wait_queue = h
        .names
        .wait_queue("ct-told", scriptsync::change::TargetKind::Servicenow);
    eventually("the wait queue drained", || async {
        h.depth(&wait_queue).await == 0
    })
    .await;
    println!(
        "consumer_timeout 5 s (tick 1 s), ServiceNow paused {pause:?}: untold, the broker closed \
         the channel ({untold} reconnect(s); log mentions the timeout: {}); told, 0 reconnects, \
         3 changes parked and delivered after the pause, 0 violations, 0 dead-lettered",
        closed.contains("timed out") || closed.contains("PRECONDITION_FAILED")
    );
    h.stop_and_clean(worker).await;
}
