//! ServiceNowTarget's batch calls: each record of a Batch API answer judged on its own (one
//! refused record fails alone), only the unserviced items retried, a truncated 200 retried,
//! and the `insert_multiple` mode delivering in one call.

use std::collections::BTreeSet;

use scriptsync::targets::FailureReason;
use scriptsync_sim::{Faults, SimTarget};

use super::lane::{Outcome, assert_all_delivered, drive};
use super::{bounded, changes, context, servicenow, sim};

#[tokio::test]
async fn servicenow_batch_judges_each_record() {
    bounded(async {
        let sim = sim().await;
        let faults = Faults {
            record_errors: BTreeSet::from(["s2".to_string()]),
            ..Faults::default()
        };
        sim.set_faults(Some("n1"), SimTarget::Servicenow, faults);
        let ctx = context(10);
        let out = drive(
            servicenow(&sim, "n1", "batch", &ctx),
            &ctx,
            changes("n1", 5, 1),
            false,
        )
        .await;
        for (script, o) in &out {
            match (script.as_str(), o) {
                ("s2", Outcome::Failed(f)) => {
                    assert_eq!(f.reason, FailureReason::Permanent);
                    assert!(f.error.contains("error"), "{}", f.error);
                }
                (s, Outcome::Delivered(1)) if s != "s2" => {}
                other => panic!("{other:?}"),
            }
        }
        let state = sim.state().tenant("n1").servicenow;
        assert_eq!(state.batch_calls, 1);
        assert_eq!(state.held.len(), 4);
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn servicenow_retries_only_unserviced_items() {
    bounded(async {
        let sim = sim().await;
        let faults = Faults {
            unserviced: BTreeSet::from(["s1".to_string()]),
            ..Faults::default()
        };
        sim.set_faults(Some("n2"), SimTarget::Servicenow, faults);
        let ctx = context(3);
        let out = drive(
            servicenow(&sim, "n2", "batch", &ctx),
            &ctx,
            changes("n2", 3, 1),
            false,
        )
        .await;
        assert_eq!(out["s0"], Outcome::Delivered(1));
        assert_eq!(out["s2"], Outcome::Delivered(1));
        let Outcome::Failed(f) = &out["s1"] else {
            panic!("{:?}", out["s1"])
        };
        assert_eq!((f.reason, f.attempts), (FailureReason::Exhausted, 3));
        let state = sim.state().tenant("n2").servicenow;
        assert_eq!(state.batch_calls, 3);
        assert_eq!(
            state.sub_requests, 5,
            "3 in the first call, then s1 alone twice"
        );
        assert!(
            state.held.values().all(|h| h.writes == 1),
            "delivered items were not resent"
        );
        sim.shutdown();
    })
    .await;
}

#[tokio::test]
async fn servicenow_truncated_200_is_retried_and_insert_multiple_delivers_all() {
    bounded(async {
        let sim = sim().await;
        sim.set_faults(
            Some("n3"),
            SimTarget::Servicenow,
            Faults {
                truncated_200: 1,
                ..Faults::default()
            },
        );
        let ctx = context(10);
        let out = drive(
            servicenow(&sim, "n3", "batch", &ctx),
            &ctx,
            changes("n3", 2, 1),
            false,
        )
        .await;
        assert_all_delivered(&out, 2);
        assert_eq!(sim.state().tenant("n3").servicenow.batch_calls, 2);

        let target = servicenow(&sim, "n4", "insert_multiple", &ctx);
        assert_all_delivered(&drive(target, &ctx, changes("n4", 5, 1), false).await, 5);
        let state = sim.state().tenant("n4").servicenow;
        assert_eq!((state.batch_calls, state.held.len()), (1, 5));
        sim.shutdown();
    })
    .await;
}
