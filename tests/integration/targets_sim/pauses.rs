//! The shared pause: a 429 with `Retry-After` on one request pauses every concurrent push of
//! the tenant to that target, so nothing is sent into the pause (zero violations), on Genesys
//! and on ServiceNow's batch call alike.

use scriptsync_sim::{Faults, InjectedResponse, SimTarget};

use super::lane::{assert_all_delivered, drive};
use super::{bounded, changes, context, genesys, servicenow, sim};

#[tokio::test]
async fn a_429_pauses_every_concurrent_push_with_zero_violations() {
    bounded(async {
        let sim = sim().await;
        let inject = vec![InjectedResponse::new(429).with_retry_after("2")];
        sim.set_faults(
            Some("p1"),
            SimTarget::Genesys,
            Faults {
                inject,
                ..Faults::default()
            },
        );
        let ctx = context(10);
        let out = drive(genesys(&sim, "p1", &ctx), &ctx, changes("p1", 20, 1), false).await;
        assert_all_delivered(&out, 20);
        let state = sim.state().tenant("p1").genesys;
        assert_eq!(state.violations, 0, "{state:?}");
        assert_eq!(state.answered(429), 1);
        assert_eq!(state.held.len(), 20);
        let limited = ctx
            .metrics
            .board()
            .tenant("p1")
            .sum_targets(|t| t.rate_limited);
        assert_eq!(limited, 1);

        // The same on ServiceNow: a 429 on the batch call retries the whole call.
        let inject = vec![InjectedResponse::new(429).with_retry_after("1")];
        sim.set_faults(
            Some("p1"),
            SimTarget::Servicenow,
            Faults {
                inject,
                ..Faults::default()
            },
        );
        let sn = servicenow(&sim, "p1", "batch", &ctx);
        assert_all_delivered(&drive(sn, &ctx, changes("p1", 20, 1), false).await, 20);
        let state = sim.state().tenant("p1").servicenow;
        assert_eq!(
            (state.violations, state.batch_calls),
            (0, 1),
            "the 429 is no call"
        );
        sim.shutdown();
    })
    .await;
}
