//! Found by the chaos run (seed 20261204, finding 4 of docs/reliability.md): after a storm of
//! refusals on an in-quota tenant's Genesys (`chaos-01`: 5 × 429 without a hint; `chaos-04`:
//! 3 × 503 with `Retry-After`), its gate's rate stayed low for minutes and its next bursts
//! waited well past 5 s. Each 429 of the storm came back on the probe after the previous one's
//! pause and cut again (270 → 8.4 a minute after five); a 503 cut it as if it were the quota.
//! Now a storm is one throttling episode, which cuts (or teaches) once, and a 503 with
//! `Retry-After` pauses without touching the rate. The gate's rate is read on the worker's
//! status board, before the storm and once the change that met it is delivered.

use super::*;
use common::genesys_only;
use scriptsync::change::TargetKind;
use scriptsync_sim::InjectedResponse;

/// (tenant, the storm its Genesys meets, what the rate is after it as a share of before).
fn storms() -> [(&'static str, InjectedResponse, f64); 3] {
    [
        ("storm-no-hint", InjectedResponse::new(429).times(5), 0.5),
        (
            "storm-wait",
            InjectedResponse::new(429).with_retry_after("1").times(4),
            0.5,
        ),
        (
            "storm-busy",
            InjectedResponse::new(503).with_retry_after("1").times(3),
            1.0,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_refusals_cuts_the_rate_once_and_a_busy_server_not_at_all() {
    let tenants = storms().map(|(t, _, _)| t);
    let app = spawn_app(&tenants, |_| {}).await;
    for tenant in tenants {
        app.publish(&genesys_only(tenant, "s0", 1)).await;
    }
    for tenant in tenants {
        app.wait_settled(tenant, 1).await;
    }
    let rate = |tenant: &str| {
        app.board
            .tenant(tenant)
            .target(TargetKind::Genesys)
            .gate_rate
            .expect("the Genesys gate has a rate")
    };
    let before: Vec<f64> = tenants.iter().map(|t| rate(t)).collect();
    for (tenant, storm, _) in storms() {
        let faults = Faults {
            inject: vec![storm],
            ..Faults::default()
        };
        app.sim.set_faults(Some(tenant), SimTarget::Genesys, faults);
        app.publish(&genesys_only(tenant, "s0", 2)).await;
    }
    for tenant in tenants {
        app.wait_settled(tenant, 2).await;
    }
    for ((tenant, storm, share), before) in storms().into_iter().zip(before) {
        let g = app.sim_state().tenant(tenant).genesys;
        let refused = g.answered(storm.status);
        assert_eq!(
            u64::from(storm.count),
            refused,
            "{tenant}: the whole storm met"
        );
        assert_eq!(g.held["s0"].version, 2, "{tenant}");
        assert_eq!(g.violations, 0, "{tenant}: nothing sent into a pause");
        let after = rate(tenant);
        println!(
            "{tenant}: {refused} × {} → gate rate {before}/min → {after}/min",
            storm.status
        );
        assert_eq!(after, before * share, "{tenant}: rate after the storm");
    }
    app.stop().await;
}
