//! A scripted target for the lane's paused-time tests ([`super`]): each request takes the
//! next scripted answer (delivered; an HTTP error answer, classified and, for a 429 or a 503
//! with a wait, closing the gate through `Gate::throttled` as `PushClient` does; or either of
//! those after a delay) and records what it carried, when, and whether the gate was closed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use parking_lot::Mutex;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;

use crate::change::TargetKind;
use crate::config::{ConfigError, TenantSettings};
use crate::metrics::Metrics;
use crate::push::retry_after::effective_wait;
use crate::push::{AttemptError, Class, Gate, GateConfig, GatePermit, Observed, classify};
use crate::targets::{Attempted, Job, Target};

/// The answer to one request.
#[derive(Debug, Clone)]
pub enum Scripted {
    Deliver,
    /// An error answer as the server sends it.
    Http {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// The answer, after this long on the wire.
    Slow(Duration, Box<Scripted>),
}

impl Scripted {
    pub fn status(status: u16) -> Self {
        Self::Http {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }
}

/// One request as the target saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub at: Instant,
    pub changes: Vec<(String, u64)>,
    /// The gate was closed when the request left (a request into a pause).
    pub into_pause: bool,
}

pub struct ScriptedTarget {
    kind: TargetKind,
    gate: Arc<Gate>,
    capacity: usize,
    answers: Mutex<VecDeque<Scripted>>,
    pub requests: Mutex<Vec<Request>>,
}

impl ScriptedTarget {
    /// A target of `kind` carrying `capacity` changes a request, with a gate of 6,000 a
    /// minute (never the bottleneck unless a test pauses it) and one request at a time.
    pub fn new(kind: TargetKind, capacity: usize, answers: Vec<Scripted>) -> Self {
        let config = GateConfig {
            per_minute: 6_000.0,
            burst: 1,
            max_concurrency: 1,
            headroom: 0.9,
            recovery_period: Duration::from_secs(60),
            window: Duration::from_secs(60),
            learns_from_429: false,
        };
        let gate = Gate::new("t", kind, config, Arc::new(Metrics::new()));
        Self {
            kind,
            gate: Arc::new(gate),
            capacity,
            answers: Mutex::new(answers.into()),
            requests: Mutex::default(),
        }
    }

    async fn answer(&self, issued_at: Instant, scripted: Scripted) -> Result<(), AttemptError> {
        match scripted {
            Scripted::Deliver => Ok(()),
            Scripted::Slow(delay, then) => {
                tokio::time::sleep(delay).await;
                Box::pin(self.answer(issued_at, *then)).await
            }
            Scripted::Http {
                status,
                headers,
                body,
            } => Err(self.refused(issued_at, status, &headers, body.as_bytes())),
        }
    }

    /// What `PushClient` makes of an error answer: its class, and for a 429 (or a 503 with a
    /// wait) the gate closed for the server's wait (else the schedule's first step).
    fn refused(
        &self,
        issued_at: Instant,
        status: u16,
        headers: &[(&'static str, String)],
        body: &[u8],
    ) -> AttemptError {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let value = HeaderValue::from_str(value).expect("a valid header value");
            map.insert(HeaderName::from_static(name), value);
        }
        let observed = Observed::Response {
            status,
            headers: &map,
            body,
        };
        let class = classify(self.kind, observed, SystemTime::now());
        let e = AttemptError::new(class, format!("scripted {status}")).with_status(Some(status));
        let Class::RateLimited { wait } = class else {
            return e;
        };
        let honour = |w| effective_wait(w, Duration::from_secs(86_400));
        let no_hint = crate::config::RetrySettings::default().initial;
        let refusal = crate::push::Refusal::of_status(status);
        let wait = self
            .gate
            .throttled(issued_at, refusal, wait, honour, no_hint);
        AttemptError::new(Class::RateLimited { wait }, e.message)
            .with_wait(wait)
            .with_status(Some(status))
    }
}

impl Target for ScriptedTarget {
    fn kind(&self) -> TargetKind {
        self.kind
    }
    fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }
    fn capacity(&self) -> usize {
        self.capacity
    }
    fn rotate_credentials<'a>(
        &'a self,
        _tenant: &'a TenantSettings,
    ) -> BoxFuture<'a, Result<(), ConfigError>> {
        Box::pin(async { Ok(()) })
    }
    fn attempt<'a>(
        &'a self,
        permit: GatePermit,
        jobs: &'a mut [Job],
    ) -> BoxFuture<'a, Vec<Attempted>> {
        Box::pin(async move {
            let request = Request {
                at: Instant::now(),
                changes: jobs
                    .iter()
                    .map(|j| (j.change.script_id().to_owned(), j.change.version()))
                    .collect(),
                into_pause: self.gate.paused_for().is_some(),
            };
            self.requests.lock().push(request);
            for job in jobs.iter_mut() {
                job.retries.count();
            }
            let scripted = self.answers.lock().pop_front().unwrap_or(Scripted::Deliver);
            let answer = self.answer(permit.issued_at(), scripted).await;
            drop(permit);
            let each = |_: &Job| match &answer {
                Ok(()) => Attempted::Delivered,
                Err(e) => Attempted::Failed(e.clone()),
            };
            jobs.iter().map(each).collect()
        })
    }
}
