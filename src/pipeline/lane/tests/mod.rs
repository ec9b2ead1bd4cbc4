//! The lane on paused time against a scripted target ([`scripted_target`]): how it lives
//! through failures ([`failures`]: each 429 form, 5xx, the failure budget, a permanent
//! refusal) and in what order it sends ([`ordering`]: supersede while in flight, compliance
//! first, capacity, parking past the hold limit, the drain). Virtual time: the whole suite
//! runs in milliseconds. This module is the harness: a lane run on its own task, offers in,
//! reports and requests out.

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

mod failures;
mod ordering;
mod scripted_target;

use scripted_target::{Request, Scripted, ScriptedTarget};

use super::*;
use crate::change::{Priority, TargetKind};
use crate::config::RetrySettings;
use crate::targets::FailureReason;

const LINGER: Duration = Duration::from_millis(50);
pub(super) const G: TargetKind = TargetKind::Genesys;
pub(super) const S: TargetKind = TargetKind::Servicenow;

pub(super) struct Harness {
    pub offers: UnboundedSender<Offer>,
    pub reports: Arc<Mutex<Vec<Report>>>,
    pub target: Arc<ScriptedTarget>,
    pub lane: JoinHandle<()>,
}

pub(super) fn start(target: ScriptedTarget, retry: RetrySettings, hold_limit: Duration) -> Harness {
    let target = Arc::new(target);
    let lane = Arc::new(LaneContext {
        tenant: "t".into(),
        target: target.clone(),
        high_water: Arc::default(),
        schedule: Schedule::new(&retry),
        metrics: Arc::new(Metrics::new()),
        linger: LINGER,
        hold_limit,
    });
    let (offers, rx) = unbounded_channel();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let reporter: Reporter = {
        let reports = reports.clone();
        Arc::new(move |report| reports.lock().push(report))
    };
    let lane = tokio::spawn(run_lane(lane, rx, reporter, CancellationToken::new()));
    Harness {
        offers,
        reports,
        target,
        lane,
    }
}

pub(super) fn answering(kind: TargetKind, answers: Vec<Scripted>) -> Harness {
    let target = ScriptedTarget::new(kind, 1, answers);
    start(target, RetrySettings::default(), Duration::from_secs(3_600))
}

impl Harness {
    pub(super) fn offer(&self, script: &str, version: u64, priority: Priority) {
        let change =
            ScriptChange::builder(format!("{script}-{version}"), "t", script, version, "h")
                .priority(priority)
                .build()
                .unwrap();
        let offer = Offer {
            change: Arc::new(change),
            check_first: false,
            returning: false,
            span: tracing::Span::none(),
        };
        self.offers.send(offer).unwrap();
    }

    /// Waits (in virtual time, at most about a quarter of an hour) until `done` holds.
    pub(super) async fn until(&self, what: &str, done: impl Fn(&[Report], &[Request]) -> bool) {
        for _ in 0..100_000 {
            if done(&self.reports.lock(), &self.target.requests.lock()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never: {what}; reports {:?}", self.reports.lock());
    }

    pub(super) fn requests(&self) -> Vec<Request> {
        self.target.requests.lock().clone()
    }

    /// What was sent, request by request.
    pub(super) fn sent(&self) -> Vec<Vec<(String, u64)>> {
        self.requests().into_iter().map(|r| r.changes).collect()
    }
}

pub(super) fn reached(reports: &[Report], script: &str, at: u64) -> bool {
    reports.iter().any(|r| {
        matches!(r, Report::Reached { script: s, version, pushed: true } if s == script && *version == at)
    })
}

pub(super) fn failed(reports: &[Report]) -> Option<&PushFailure> {
    reports.iter().find_map(|r| match r {
        Report::Failed { failure, .. } => Some(failure),
        _ => None,
    })
}

pub(super) fn http(status: u16, headers: &[(&'static str, &str)], body: &str) -> Scripted {
    let headers = headers.iter().map(|(n, v)| (*n, v.to_string())).collect();
    Scripted::Http {
        status,
        headers,
        body: body.to_owned(),
    }
}

pub(super) fn s(script: &str, version: u64) -> (String, u64) {
    (script.to_owned(), version)
}
