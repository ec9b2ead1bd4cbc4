//! A target driven the way the worker drives it: through a real lane (`run_lane`, its
//! schedule and high-water marks), fed a list of offers, and what the lane reported in the
//! end for each script.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scriptsync::change::ScriptChange;
use scriptsync::pipeline::lane::{LaneContext, Offer, Report, Reporter, run_lane};
use scriptsync::push::Schedule;
use scriptsync::targets::{PushFailure, Target, TargetContext};
use tokio_util::sync::CancellationToken;

/// What a lane ended with for one script.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Outcome {
    Delivered(u64),
    AlreadyHeld(u64),
    Failed(PushFailure),
}

/// Runs `target` through a real lane: offers `changes` (`replay` marks them all as replays),
/// closes the offers and waits until the lane is idle. The last report per script.
pub(super) async fn drive(
    target: Arc<dyn Target>,
    ctx: &TargetContext,
    changes: Vec<Arc<ScriptChange>>,
    replay: bool,
) -> BTreeMap<String, Outcome> {
    let lane = Arc::new(LaneContext {
        tenant: changes
            .first()
            .map(|c| c.tenant().to_owned())
            .unwrap_or_default(),
        target,
        high_water: Arc::default(),
        schedule: Schedule::new(&ctx.retry),
        metrics: ctx.metrics.clone(),
        linger: Duration::ZERO,
        hold_limit: Duration::from_secs(3600),
    });
    let outcomes = Arc::new(Mutex::new(BTreeMap::new()));
    let reporter: Reporter = {
        let outcomes = outcomes.clone();
        Arc::new(move |report| {
            let (script, outcome) = match report {
                Report::Reached {
                    script,
                    version,
                    pushed: true,
                } => (script, Outcome::Delivered(version)),
                Report::Reached {
                    script, version, ..
                } => (script, Outcome::AlreadyHeld(version)),
                Report::Failed {
                    script, failure, ..
                } => (script, Outcome::Failed(failure)),
                other => panic!("no gate stays closed for an hour here: {other:?}"),
            };
            outcomes.lock().unwrap().insert(script, outcome);
        })
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    for change in changes {
        let span = tracing::Span::none();
        tx.send(Offer {
            change,
            check_first: replay,
            returning: false,
            span,
        })
        .unwrap();
    }
    drop(tx);
    run_lane(lane, rx, reporter, CancellationToken::new()).await;
    outcomes.lock().unwrap().clone()
}

pub(super) fn assert_all_delivered(outcomes: &BTreeMap<String, Outcome>, n: usize) {
    assert_eq!(outcomes.len(), n, "{outcomes:?}");
    for (script, o) in outcomes {
        assert!(matches!(o, Outcome::Delivered(_)), "{script}: {o:?}");
    }
}
