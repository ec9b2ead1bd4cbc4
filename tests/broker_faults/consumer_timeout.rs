//! A gate closed longer than the broker's `consumer_timeout` (shortened to 5 s on the node
//! with `rabbitmqctl eval`, put back afterwards): a worker not told the timeout holds its
//! deliveries and the broker closes the channel; a worker told it parks them in the wait
//! queue instead, so no channel is closed and every change arrives after the pause.

use std::process::Command;
use std::time::Duration;

use crate::common;
use common::eventually;
use common::process::{Harness, Options, readyz};
use scriptsync_sim::{Faults, SimConfig, SimTarget};

use super::{SERIAL, rabbitmqctl, reconnect_attempts};

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
