//! [`PushClient`]: sends ONE logical request of one (tenant, target) through the token cache,
//! the gate and the retry schedule, and hands the final response to the target to judge.
//!
//! Per attempt: get a credential → acquire the gate (slot, pause, rate) → send → classify.
//! A 401 renews the token once and resends at once without spending an attempt; a 429 (or a
//! 503 with `Retry-After`) pauses the whole gate for the clamped, jittered wait and cuts its
//! rate; transient failures back off with full jitter; permanent ones end at once. Every
//! response is counted in `scriptsync_http_requests_total`, every retry in
//! `scriptsync_retries_total`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::RequestBuilder;
use tokio::time::Instant;
use tracing::Instrument;

use super::attempt::{AttemptError, Progress};

use super::auth::TokenCache;
use super::classify::{Class, Observed, TransportKind, classify};
use super::gate::{Gate, GatePermit};
use super::outcome::{PushFailure, TargetContext};
use super::reply::Reply;
use super::retry_after;
use super::schedule::{Budget, Schedule};
use crate::change::TargetKind;
use crate::metrics::Metrics;

/// ServiceNow's rule size for our user, in requests per hour.
const X_RATELIMIT_LIMIT: &str = "x-ratelimit-limit";
/// The furthest a ServiceNow rate-limit window can end from now (its rules count per hour).
const MAX_WINDOW_AHEAD: Duration = Duration::from_secs(3600);

/// A target's judgement of a 2xx response.
#[derive(Debug)]
pub enum Verdict<T> {
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

    /// A fresh time budget for one change (share it between the requests of that change).
    pub fn budget(&self) -> Budget {
        self.schedule.budget()
    }

    /// Sends one logical request; `Ok` with the 2xx reply, else the failure. A permanent
    /// failure keeps its status (a target may react to 404 or 409). `what` names the
    /// request in error texts ("PUT row").
    pub async fn send<B>(&self, budget: &Budget, what: &str, build: B) -> Result<Reply, PushFailure>
    where
        B: Fn(&reqwest::Client) -> RequestBuilder,
    {
        self.send_judged(budget, what, build, Verdict::Done).await
    }

    /// Like [`send`](Self::send), with the target judging each 2xx reply: `Retry` makes it
    /// one more (transient) failure. `build` is called once per attempt.
    pub async fn send_judged<T, B, J>(
        &self,
        budget: &Budget,
        what: &str,
        build: B,
        judge: J,
    ) -> Result<T, PushFailure>
    where
        B: Fn(&reqwest::Client) -> RequestBuilder,
        J: Fn(Reply) -> Verdict<T>,
    {
        let progress = Progress::default();
        let on_retry = |e: &AttemptError, wait: Duration| {
            self.metrics.retried(&self.tenant, self.target);
            if matches!(e.class, Class::RateLimited { wait: None }) {
                // A 429 without a hint still closes the gate for everyone, for our backoff.
                self.gate.pause_until(Instant::now() + wait);
            }
            tracing::debug!(
                tenant = %self.tenant, target = %self.target, what, error = %e.message,
                correlation_id = ?e.correlation_id, ?wait, "retrying"
            );
        };
        let result = self
            .schedule
            .run(
                budget,
                || self.attempt(budget.deadline(), None, what, &build, &judge, &progress),
                on_retry,
            )
            .await;
        result.map_err(|e| {
            let failure = progress.failure(e);
            // Debug only: a 404 before a row is created is normal; the pipeline logs DLQs.
            tracing::debug!(
                tenant = %self.tenant, target = %self.target, reason = failure.reason.as_str(),
                status = ?failure.status, correlation_id = ?failure.correlation_id,
                error = %failure.error, "request failed for good"
            );
            failure
        })
    }

    /// Waits until the gate admits one request, or fails when it cannot before `deadline`.
    pub async fn admit(&self, deadline: Instant) -> Result<GatePermit, AttemptError> {
        self.gate
            .acquire(deadline)
            .await
            .map_err(|_| AttemptError::budget_spent("gate"))
    }

    /// ONE attempt of a request the gate already admitted (`permit`): the caller chose what
    /// to send at admission (a lane's late binding) and keeps the retry schedule itself.
    /// `attempt` is the attempt's number for this change (spans and logs). A 401 renews the
    /// token once and resends at once, through the gate again (before `deadline`), without
    /// counting an attempt. The answer is the judged 2xx, or the attempt's failure.
    pub async fn attempt_admitted<T, B, J>(
        &self,
        permit: GatePermit,
        attempt: u32,
        deadline: Instant,
        what: &str,
        build: B,
        judge: J,
    ) -> Result<T, AttemptError>
    where
        B: Fn(&reqwest::Client) -> RequestBuilder,
        J: Fn(Reply) -> Verdict<T>,
    {
        let progress = Progress::starting_at(attempt);
        self.attempt(deadline, Some(permit), what, &build, &judge, &progress)
            .await
    }

    async fn attempt<T, B, J>(
        &self,
        deadline: Instant,
        admitted: Option<GatePermit>,
        what: &str,
        build: &B,
        judge: &J,
        progress: &Progress,
    ) -> Result<T, AttemptError>
    where
        B: Fn(&reqwest::Client) -> RequestBuilder,
        J: Fn(Reply) -> Verdict<T>,
    {
        let attempt = progress.start_attempt();
        let span = tracing::info_span!(
            "attempt",
            otel.name = what,
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            tenant = %self.tenant,
            target = %self.target,
            attempt,
            http.request.resend_count = attempt - 1,
            http.request.method = tracing::field::Empty,
            url.full = tracing::field::Empty,
            server.address = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
        );
        let result = self
            .attempt_in_span(
                attempt,
                (deadline, admitted),
                what,
                (build, judge),
                progress,
            )
            .instrument(span.clone())
            .await;
        if let Err(e) = &result {
            progress.record(e);
            span.record("otel.status_code", "ERROR");
            if !e.budget_spent {
                self.metrics
                    .request_failed(&self.tenant, self.target, e.status, &e.message);
            }
            span.in_scope(|| {
                tracing::info!(
                    tenant = %self.tenant, target = %self.target, attempt, status = e.status,
                    correlation_id = e.correlation_id.as_deref(), error = %e.message,
                    "push request failed"
                )
            });
        }
        result
    }

    /// One attempt inside its span: token, gate ([`Self::admit_once`]), send
    /// ([`Self::exchange`]), classify and judge ([`Self::interpret`]); a first 401 renews the
    /// token and goes round once more.
    async fn attempt_in_span<T, B, J>(
        &self,
        attempt: u32,
        (deadline, mut admitted): (Instant, Option<GatePermit>),
        what: &str,
        (build, judge): (&B, &J),
        progress: &Progress,
    ) -> Result<T, AttemptError>
    where
        B: Fn(&reqwest::Client) -> RequestBuilder,
        J: Fn(Reply) -> Verdict<T>,
    {
        loop {
            let credential = self.auth.get().await.map_err(AttemptError::from)?;
            // The permit lives to the end of this iteration: any pause is set before it goes.
            let permit = self.admit_once(&mut admitted, deadline, what).await?;
            let answer = self.exchange(&credential, build, what).await?;
            let call = Call {
                what,
                attempt,
                issued_at: permit.issued_at(),
            };
            match self.interpret(answer, &call, judge) {
                Interpreted::Done(result) => return result,
                Interpreted::Unauthorized(e) if progress.renew_once() => {
                    // Renew once and resend at once; not an attempt of its own.
                    tracing::debug!(error = %e.message, "token refused; renewing it once");
                    self.auth.invalidate(&credential).await;
                }
                Interpreted::Unauthorized(e) => return Err(e),
            }
        }
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
            self.gate.observe_limit_per_hour(per_hour);
        }
        // Rules count per hour: a reset further ahead than that is garbage, not a window.
        let reset = retry_after::ratelimit_reset(headers, SystemTime::now());
        if let Some(ahead) = reset.filter(|d| !d.is_zero() && *d <= MAX_WINDOW_AHEAD) {
            self.gate.align_window(Instant::now() + ahead);
        }
    }
}

mod exchange;
use exchange::{Call, Interpreted};

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
