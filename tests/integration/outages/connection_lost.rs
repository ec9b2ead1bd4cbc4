//! Found by the chaos run (seed 20261204, `close_connections` at 95 s): when the broker drops
//! the worker's connection, its deliveries are the broker's again (requeued, to this worker's
//! next connection or to another replica). A lane that went on draining them sent an old
//! version after the new owner had written a newer one. Now nothing of a lost connection is
//! sent: a change waiting out a pause when the connection drops is sent only by the next
//! connection's lane, after the reconnection.

use super::*;
use common::{broker_connection_pid as connection_pid, eventually, genesys_only};

/// Tenants whose loops race the connection's loss: a loop that saw the connection stop before
/// its consumer's error used to drain.
const TENANTS: [&str; 8] = [
    "conn-lost-0",
    "conn-lost-1",
    "conn-lost-2",
    "conn-lost-3",
    "conn-lost-4",
    "conn-lost-5",
    "conn-lost-6",
    "conn-lost-7",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_sends_nothing_more_of_its_deliveries() {
    // A drain long enough to outlast the pause below.
    let app = spawn_app(&TENANTS, |s| {
        s.shutdown.drain_timeout = Duration::from_secs(30);
    })
    .await;
    for tenant in TENANTS {
        app.publish(&genesys_only(tenant, "s0", 1)).await;
    }
    for tenant in TENANTS {
        app.wait_settled(tenant, 1).await;
    }
    let pid = connection_pid(&app.connection_name).expect("the worker's connection is listed");
    // Each v2's first request is told to wait 8 s: v2 waits in its lane, behind the closed gate.
    for tenant in TENANTS {
        app.sim.set_faults(
            Some(tenant),
            SimTarget::Genesys,
            Faults {
                inject: vec![scriptsync_sim::InjectedResponse::new(429).with_retry_after("8")],
                ..Faults::default()
            },
        );
        app.publish(&genesys_only(tenant, "s0", 2)).await;
    }
    within("every v2 told to wait", Duration::from_secs(10), || async {
        let state = app.sim_state();
        TENANTS
            .iter()
            .all(|t| state.tenant(t).genesys.answered(429) >= 1)
    })
    .await;
    let held = |app: &TestApp, tenant: &str| {
        app.sim_state()
            .tenant(tenant)
            .genesys
            .held
            .get("s0")
            .map(|h| h.version)
    };
    for tenant in TENANTS {
        assert_eq!(
            held(&app, tenant),
            Some(1),
            "{tenant}: v2 waits out the pause"
        );
    }
    let closed = std::process::Command::new("rabbitmqctl")
        .args(["close_connection", &pid, "connection_lost test"])
        .output()
        .expect("rabbitmqctl runs");
    assert!(closed.status.success(), "{closed:?}");
    // Per tenant, which comes first: the worker's next connection, or v2 at Genesys?
    let mut first: Vec<(&str, &str)> = Vec::new();
    within(
        "reconnected and every v2 delivered",
        Duration::from_secs(60),
        || {
            let reconnected = connection_pid(&app.connection_name).is_some_and(|p| p != pid);
            let mut all = reconnected;
            for tenant in TENANTS {
                let delivered = held(&app, tenant) == Some(2);
                all &= delivered;
                if !first.iter().any(|(t, _)| *t == tenant) {
                    if delivered && !reconnected {
                        first.push((tenant, "v2 at Genesys"));
                    } else if reconnected {
                        first.push((tenant, "reconnected"));
                    }
                }
            }
            async move { all }
        },
    )
    .await;
    let early: Vec<&str> = first
        .iter()
        .filter(|(_, what)| *what != "reconnected")
        .map(|(t, _)| *t)
        .collect();
    assert!(
        early.is_empty(),
        "v2 sent by the lost connection's lanes, before the reconnection: {early:?}"
    );
    for tenant in TENANTS {
        app.wait_settled(tenant, 2).await;
        assert_eq!(app.sim_state().tenant(tenant).genesys.older_writes, 0);
    }
    // What the lost connection held went back to the broker: it no longer counts as held
    // (the aborted loops used to leave it on the board, and `/status` said unacked forever).
    eventually("nothing counted as held once all is settled", || async {
        TENANTS.iter().all(|t| app.board.tenant(t).inflight == 0)
    })
    .await;
    println!("after the broker closed the connection: every v2 sent after the reconnection");
    app.stop().await;
}
