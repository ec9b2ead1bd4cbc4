//! [`PushClient`]: the requests of one (tenant, target) through the token cache and the gate;
//! the answer is classified and handed to the target to judge.
//!
//! Per attempt: get a credential → the gate admits it (slot, pause, rate) → send → classify.
//! A 401 renews the token once and resends at once without counting a failure; a 429 (or a
//! 503 with `Retry-After`) pauses the whole gate for the server's wait (+ jitter) and cuts its
//! rate. [`PushClient::send`] runs one logical request to its end with the retry engine
//! ([`Retries`]); [`PushClient::attempt_admitted`] is one attempt of a request a lane already
//! had admitted (the lane keeps the `Retries` of each change). Every response is counted in
//! `scriptsync_http_requests_total`, every retry in `scriptsync_retries_total`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::RequestBuilder;
use tokio::time::Instant;
use tracing::Instrument;

use super::attempt::AttemptError;

use super::auth::TokenCache;
use super::classify::{Observed, TransportKind, classify};
use super::gate::{Gate, GatePermit};
use super::outcome::{PushFailure, TargetContext};
use super::reply::Reply;
use super::retries::{self, Retries};
use super::retry_after;
use super::schedule::Schedule;
use crate::change::TargetKind;
use crate::metrics::Metrics;

/// ServiceNow's rule size for our user, in requests per hour.
const X_RATELIMIT_LIMIT: &str = "x-ratelimit-limit";
/// The furthest a ServiceNow rate-limit window can end from now (its rules count per hour).
const MAX_WINDOW_AHEAD: Duration = Duration::from_secs(3600);
/// How long a request of an attempt already under way (a fallback, a publish, a resend after
/// a renewed token) waits for the gate before it hands its change back to the lane, where it
/// waits for the gate without holding anything (and may be replaced by a newer version).
pub const GATE_PATIENCE: Duration = Duration::from_secs(10);

/// A target's judgement of a 2xx response.
#[derive(Debug)]
pub enum Judged<T> {
    Done(T),
    /// Something in it is still owed (ServiceNow items answered 429/5xx or not serviced):
    /// retry as transient, with this text if the budget runs out.
    Retry(String),
}

/// Sends the requests of one (tenant, target).
pub struct PushClient {
    tenant: String,
    target: TargetKind,
    http: reqwest::Client,
    gate: Arc<Gate>,
    auth: Arc<TokenCache>,
    schedule: Schedule,
    metrics: Arc<Metrics>,
}

impl PushClient {
    pub fn new(
        tenant: &str,
        target: TargetKind,
        ctx: &TargetContext,
        gate: Arc<Gate>,
        auth: Arc<TokenCache>,
    ) -> Self {
        Self {
            tenant: tenant.to_owned(),
            target,
            http: ctx.http.clone(),
            gate,
            auth,
            schedule: Schedule::new(&ctx.retry),
            metrics: ctx.metrics.clone(),
        }
    }

    /// A client with its own gate and token cache: what each target of a tenant needs.
    pub fn for_tenant(
        tenant: &str,
        target: TargetKind,
        ctx: &TargetContext,
        gate: super::gate::GateConfig,
        auth: super::credential::AuthMethod,
    ) -> Self {
        let gate = Arc::new(Gate::new(tenant, target, gate, ctx.metrics.clone()));
        let auth = Arc::new(TokenCache::new(
            tenant,
            target,
            auth,
            ctx.http.clone(),
            &ctx.retry,
            ctx.metrics.clone(),
        ));
        Self::new(tenant, target, ctx, gate, auth)
    }

    pub fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }

    /// Takes rotated credentials: the next request fetches a token with them.
    pub async fn rotate_credentials(&self, method: super::credential::AuthMethod) {
        self.auth.rotate(method).await;
    }

    /// A fresh retry budget for one logical request or change.
    pub fn retries(&self) -> Retries {
        Retries::start(&self.schedule)
    }

    /// Sends one logical request to its end: `Ok` with the 2xx reply, else the failure the
    /// retry engine gave up with. A permanent failure keeps its status (a target may react to
    /// 404 or 409). `what` names the request in error texts ("GET rows").
    pub async fn send<B>(&self, what: &str, build: B) -> Result<Reply, PushFailure>
    where
        B: Fn(&reqwest::Client) -> RequestBuilder,
    {
        self.send_judged(what, build, Judged::Done).await
    }

    /// Like [`send`](Self::send), with the target judging each 2xx reply: `Retry` makes it
    /// one more (transient) failure. `build` is called once per attempt.
    pub async fn send_judged<T, B, J>(
        &self,
        what: &str,
        build: B,
        judge: J,
    ) -> Result<T, PushFailure>
    where
        B: Fn(&reqwest::Client) -> RequestBuilder,
        J: Fn(Reply) -> Judged<T>,
    {
        let mut retries = self.retries();
        loop {
            // Waiting for the gate is never a failure: no deadline.
            let permit = self.gate.admit().instrument(self.gate_wait_span()).await;
            let attempt = retries.count();
            let result = self
                .attempt_admitted(permit, attempt, what, &build, &judge)
                .await;
            let e = match result {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            match retries::decide(&mut retries, &e, &self.gate, rand::random::<f64>()) {
                Some(wait) => {
                    self.metrics.retried(&self.tenant, self.target);
                    tracing::debug!(
                        tenant = %self.tenant, target = %self.target, what, error = %e.message,
                        correlation_id = ?e.correlation_id, ?wait, "retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                None => {
                    let failure = retries.give_up(e);
                    // Debug only: a 404 is often normal; the pipeline logs what it dead-letters.
                    tracing::debug!(
                        tenant = %self.tenant, target = %self.target, reason = failure.reason.as_str(),
                        status = ?failure.status, correlation_id = ?failure.correlation_id,
                        error = %failure.error, "request failed for good"
                    );
                    return Err(failure);
                }
            }
        }
    }

    /// Waits until the gate admits one request, for at most [`GATE_PATIENCE`]; a gate closed
    /// longer answers [`AttemptError::gate_closed`] (a wait, not a failure).
    pub async fn admit(&self, what: &str) -> Result<GatePermit, AttemptError> {
        self.gate
            .acquire(Instant::now() + GATE_PATIENCE)
            .instrument(self.gate_wait_span())
            .await
            .map_err(|_| {
                let reopens_in = self.gate.paused_for().unwrap_or(GATE_PATIENCE);
                AttemptError::gate_closed(what, reopens_in)
            })
    }

    fn gate_wait_span(&self) -> tracing::Span {
        tracing::info_span!("gate wait", tenant = %self.tenant, target = %self.target)
    }

    fn transport(&self, what: &str, e: &reqwest::Error, status: Option<u16>) -> AttemptError {
        self.metrics.http_request(self.target, "error");
        let kind = TransportKind::of(e);
        let class = classify(self.target, Observed::Transport(kind), SystemTime::now());
        AttemptError::transport(what, kind, class, status)
    }

    fn observe_limit(&self, headers: &reqwest::header::HeaderMap) {
        if self.target != TargetKind::Servicenow {
            return;
        }
        let limit = headers
            .get(X_RATELIMIT_LIMIT)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u32>().ok());
        if let Some(per_hour) = limit.filter(|n| *n > 0) {
            self.gate.observe_limit(per_hour);
        }
        // Rules count per hour: a reset further ahead than that is garbage, not a window.
        let reset = retry_after::ratelimit_reset(headers, SystemTime::now());
        if let Some(ahead) = reset.filter(|d| !d.is_zero() && *d <= MAX_WINDOW_AHEAD) {
            self.gate.align_window(Instant::now() + ahead);
        }
    }
}

mod attempt;
mod exchange;

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
