//! One tenant's pipeline: deliveries → intake → the ack tracker → one lane per target
//! (DESIGN §2). The consumer loop only decodes and hands out: each delivery is tracked with
//! the targets it owes and offered to each of those lanes, which push on their own and report
//! back; the tracker settles a delivery (ack, or DLQ-then-ack) once it owes nothing more. The
//! prefetch bounds how many deliveries are held, and so the tracker and the lanes.
//!
//! On shutdown: stop taking deliveries, let the lanes send what is pending and finish their
//! requests within `drain_timeout`; whatever is still unsettled then is requeued when the
//! channel closes. On a lost stream or a lost connection (`lost`, even mid-drain) the lanes
//! stop at once: the broker has handed the deliveries back, and a lane that went on would send
//! old versions beside the next owner's newer ones. However the loop ends (even aborted), what
//! the tracker still holds stops counting as held (`scriptsync_inflight`, `/status`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use parking_lot::Mutex;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::broker::{Delivery, Inbound};
use crate::change::{ScriptChange, TargetKind};
use crate::push::attempt::give_up;
use crate::push::{AttemptError, FailureReason, Schedule};
use crate::targets::genesys;

use super::context::TenantContext;
use super::intake::{Admitted, intake};
use super::lane::{LaneContext, Offer, Reporter, run_lane};
use super::settler::Settler;
use super::tracker::Settled;

/// Batching parameters of the tenant's lanes.
#[derive(Debug, Clone, Copy)]
pub struct LoopSettings {
    /// Most changes one ServiceNow call carries (and how many make it go without lingering).
    pub max_changes: usize,
    pub linger: Duration,
    pub drain_timeout: Duration,
    /// Longest a change waits for a closed gate before it goes to a wait queue.
    pub hold_limit: Duration,
}

/// How the loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum LoopEnd {
    /// Shutdown was requested and the drain finished (or timed out).
    Shutdown,
    /// The delivery stream failed or ended (connection or channel lost).
    StreamLost(String),
    /// A task of the tenant panicked (logged and counted): start again on a new connection,
    /// so that the broker requeues what it held.
    TaskPanicked(String),
}

/// Runs until `shutdown` is cancelled (a drain), `lost` is (the connection is gone: no
/// drain) or the stream ends.
pub async fn run_tenant<S>(
    ctx: Arc<TenantContext>,
    mut deliveries: S,
    settings: LoopSettings,
    shutdown: CancellationToken,
    lost: CancellationToken,
) -> LoopEnd
where
    S: Stream<Item = Delivery> + Unpin,
{
    let settler = Arc::new(Settler {
        ctx: ctx.clone(),
        tracker: Mutex::default(),
        tasks: TaskTracker::new(),
    });
    let _release = ReleaseHeld(settler.clone());
    let abort = CancellationToken::new();
    let mut lanes = JoinSet::new();
    let mut lane_targets = HashMap::new();
    let mut offers: Vec<(TargetKind, UnboundedSender<Offer>)> = Vec::new();
    for target in &ctx.targets {
        let kind = target.kind();
        let lane = Arc::new(LaneContext {
            tenant: ctx.tenant.clone(),
            target: target.clone(),
            high_water: ctx.high_water.clone(),
            schedule: Schedule::new(&ctx.retry),
            metrics: ctx.metrics.clone(),
            linger: settings.linger,
            hold_limit: settings.hold_limit,
        });
        let (tx, rx) = unbounded_channel();
        offers.push((kind, tx));
        let reporter: Reporter = {
            let settler = settler.clone();
            Arc::new(move |report| settler.report(kind, report))
        };
        let id = lanes
            .spawn(run_lane(lane, rx, reporter, abort.clone()))
            .id();
        lane_targets.insert(id, kind);
    }
    let end = loop {
        tokio::select! {
            _ = lost.cancelled() => break LoopEnd::StreamLost("connection lost".into()),
            _ = shutdown.cancelled() => break LoopEnd::Shutdown,
            next = deliveries.next() => match next {
                Some(Ok(inbound)) => {
                    if let Some(admitted) = intake(&ctx, inbound).await {
                        admit(&settler, &offers, admitted);
                    }
                }
                Some(Err(e)) => break LoopEnd::StreamLost(e.to_string()),
                None => break LoopEnd::StreamLost("consumer stream ended".into()),
            },
            // While offers are open a lane only ends by panicking.
            Some(ended) = lanes.join_next_with_id() => {
                let (id, why) = match ended {
                    Ok((id, ())) => (id, "stopped".to_owned()),
                    Err(e) => (e.id(), e.to_string()),
                };
                let target = lane_targets.get(&id).map_or("lane", |k| k.as_str());
                break LoopEnd::TaskPanicked(task_panicked(&ctx, target, &why));
            }
        }
    };
    drop(offers);
    if end == LoopEnd::Shutdown {
        let drained = async { while lanes.join_next().await.is_some() {} };
        tokio::select! {
            timed = tokio::time::timeout(settings.drain_timeout, drained) => if timed.is_err() {
                tracing::warn!(
                    tenant = %ctx.tenant, timeout = ?settings.drain_timeout,
                    "drain timed out; unsettled deliveries will be requeued"
                );
            },
            _ = lost.cancelled() => {
                tracing::info!(tenant = %ctx.tenant, "connection lost while draining; the broker requeues what is unsettled");
            }
        }
    }
    abort.cancel();
    while lanes.join_next().await.is_some() {}
    settler.tasks.close();
    settler.tasks.wait().await;
    end
}

/// Dropped when the loop ends, however it ends (returned, or aborted with its task): what
/// the tracker still holds goes back to the broker with the channel, so it no longer counts
/// as held here. Taken out of the tracker, so that a lane still reporting (an aborted loop's
/// lanes stop a moment later) settles nothing of it and nothing is released twice.
struct ReleaseHeld(Arc<Settler>);

impl Drop for ReleaseHeld {
    fn drop(&mut self) {
        let held = std::mem::take(&mut *self.0.tracker()).len() as i64;
        if held > 0 {
            self.0.ctx.metrics.inflight_add(&self.0.ctx.tenant, -held);
        }
    }
}

/// Logs, counts and remembers a panicked task of the tenant; what to say when restarting.
pub fn task_panicked(ctx: &TenantContext, task: &str, why: &str) -> String {
    tracing::error!(tenant = %ctx.tenant, task, error = %why, "a pipeline task panicked; restarting the tenant's consumers (the broker requeues what they held)");
    ctx.metrics.task_panic(&ctx.tenant, task);
    ctx.panics.record(tokio::time::Instant::now());
    format!("tenant {}: {task} task panicked: {why}", ctx.tenant)
}

/// Tracks a delivery, then offers its change to every lane it owes.
fn admit(settler: &Settler, offers: &[(TargetKind, UnboundedSender<Offer>)], a: Admitted) {
    let Admitted {
        change,
        owed,
        check_first,
        returning,
        token,
    } = a;
    let span = token.span.clone();
    let mut settled: Vec<_> = {
        let mut tracker = settler.tracker();
        let admitted = tracker.admit(token, change.clone(), owed.clone());
        admitted.into_iter().collect()
    };
    let unkeyable =
        owed.contains(&TargetKind::Genesys) && refuse_unkeyable(settler, &change, &mut settled);
    settler.settle_all(settled);
    for (kind, tx) in offers {
        if owed.contains(kind) && !(unkeyable && *kind == TargetKind::Genesys) {
            let offer = Offer {
                change: change.clone(),
                check_first,
                returning,
                span: span.clone(),
            };
            // A lane ends only after its offers close: the send cannot fail while we run.
            let _ = tx.send(offer);
        }
    }
}

/// A script id that cannot be a data-table key never reaches the Genesys lane: that part of
/// the delivery is dead-lettered as `invalid_key` at once (what else it owes goes on). True
/// when it was refused; what that settled is added to `settled`.
fn refuse_unkeyable(
    settler: &Settler,
    change: &ScriptChange,
    settled: &mut Vec<Settled<Inbound>>,
) -> bool {
    let Some(why) = genesys::table::key_problem(change.script_id()) else {
        return false;
    };
    let ctx = &settler.ctx;
    tracing::warn!(
        tenant = %ctx.tenant, script_id = %change.script_id(), error = %why,
        "the script id cannot be a Genesys data-table key"
    );
    let label = crate::metrics::PushOutcomeLabel::Permanent;
    ctx.metrics
        .push_outcome(&ctx.tenant, TargetKind::Genesys, label);
    let refusal = AttemptError::refused_as(FailureReason::InvalidKey, why);
    let failure = give_up(refusal, 0, 0, None);
    let (script, version) = (change.script_id(), change.version());
    settled.extend(
        settler
            .tracker()
            .failed(TargetKind::Genesys, script, version, &failure),
    );
    true
}
