//! The two steps of one attempt of [`PushClient`] after the gate admitted it: the request goes
//! out and its answer comes back within the body limit ([`PushClient::exchange`]), and the
//! answer is classified (DESIGN §6) and judged by the target ([`PushClient::interpret`]),
//! pausing and cutting the gate on a 429.

use std::time::{Duration, SystemTime};

use reqwest::RequestBuilder;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

use super::{Judged, PushClient};
use crate::push::attempt::AttemptError;
use crate::push::body::{self, BodyError};
use crate::push::classify::{Class, Observed, Refusal, classify};
use crate::push::credential::Credential;
use crate::push::reply::{self, Reply};
use crate::push::retry_after::{self, effective_wait};

/// A whole answer: status, headers and a body within `MAX_TARGET_BODY`.
pub(super) struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// What an attempt is, for the texts and the gate.
pub(super) struct Call<'a> {
    pub(super) what: &'a str,
    pub(super) attempt: u32,
    /// When the gate let it through (a 429 to it cuts the rate once).
    pub(super) issued_at: Instant,
}

/// How an answer ends the attempt.
pub(super) enum Interpreted<T> {
    Done(Result<T, AttemptError>),
    /// A 401: the caller renews the token once and resends, else this is the failure.
    Unauthorized(AttemptError),
}

impl PushClient {
    /// Sends the request `build` makes with `credential` and reads the answer (the body up
    /// to `MAX_TARGET_BODY`); every answer is counted in `scriptsync_http_requests_total`.
    pub(super) async fn exchange<B>(
        &self,
        credential: &Credential,
        build: &B,
        what: &str,
    ) -> Result<Answer, AttemptError>
    where
        B: Fn(&reqwest::Client) -> RequestBuilder,
    {
        let (client, request) = credential.apply(build(&self.http)).build_split();
        let request = request.map_err(|e| self.transport(what, &e, None))?;
        let span = tracing::Span::current();
        span.record("http.request.method", request.method().as_str());
        span.record("url.full", request.url().as_str());
        span.record("server.address", request.url().host_str());
        span.record("server.port", request.url().port_or_known_default());
        let started = tokio::time::Instant::now();
        let response = client
            .execute(request)
            .await
            .map_err(|e| self.transport(what, &e, None))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match body::read_limited(response, body::MAX_TARGET_BODY).await {
            Ok(body) => body,
            Err(BodyError::Transport(e)) => return Err(self.transport(what, &e, Some(status))),
            Err(too_large @ BodyError::TooLarge { .. }) => {
                self.metrics.http_request(self.target, &status.to_string());
                let message = format!("{what}: {status}, {too_large}");
                return Err(AttemptError::new(Class::Transient, message)
                    .with_status(Some(status))
                    .with_correlation_id(reply::correlation_id(&headers)));
            }
        };
        self.metrics.http_request(self.target, &status.to_string());
        self.metrics
            .http_duration(&self.tenant, self.target, started.elapsed().as_secs_f64());
        span.record("http.response.status_code", status);
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Classifies `answer` and, for a 2xx, lets `judge` decide. A 429 (or 503 with a wait)
    /// counts, cuts the gate's rate and pauses the gate before the caller's permit goes.
    pub(super) fn interpret<T, J>(
        &self,
        answer: Answer,
        call: &Call<'_>,
        judge: &J,
    ) -> Interpreted<T>
    where
        J: Fn(Reply) -> Judged<T>,
    {
        let Answer {
            status,
            headers,
            body,
        } = answer;
        self.observe_limit(&headers);
        let observed = Observed::Response {
            status,
            headers: &headers,
            body: &body,
        };
        let class = classify(self.target, observed, SystemTime::now());
        let correlation_id = reply::correlation_id(&headers);
        let fail = |class, wait, message| {
            AttemptError::new(class, message)
                .with_wait(wait)
                .with_status(Some(status))
                .with_correlation_id(correlation_id.clone())
        };
        if class == Class::Success {
            // The answer goes to the target's judge as it is (no copy).
            let reply = Reply {
                status,
                headers,
                body,
                attempts: call.attempt,
                correlation_id: correlation_id.clone(),
            };
            return Interpreted::Done(match judge(reply) {
                Judged::Done(value) => {
                    self.metrics
                        .request_succeeded(&self.tenant, self.target, status);
                    tracing::debug!(
                        tenant = %self.tenant, target = %self.target, attempt = call.attempt,
                        status, correlation_id = correlation_id.as_deref(), what = call.what,
                        "push request succeeded"
                    );
                    Ok(value)
                }
                Judged::Retry(message) => Err(fail(
                    Class::Transient,
                    None,
                    format!("{}: {message}", call.what),
                )),
            });
        }
        let message = reply::describe(call.what, status, &body);
        let result = match class {
            Class::Auth => {
                return Interpreted::Unauthorized(fail(Class::Transient, None, message));
            }
            Class::RateLimited { wait } => {
                let refusal = Refusal::of_status(status);
                let wait = self.throttled(call.issued_at, refusal, wait, call.what);
                Err(fail(Class::RateLimited { wait }, wait, message))
            }
            other => Err(fail(other, None, message)),
        };
        Interpreted::Done(result)
    }

    /// A request let through at `issued_at` was refused 429 (or 503 with a wait), the server
    /// saying `wait` (raw): counts it, lets the gate learn or cut its rate (a 429 only: the
    /// quota's answer), and closes the gate for every caller. Without a wait, the end of the server's window where it is known (a
    /// Genesys window seen in an earlier 429); else no hint: a short provisional pause until
    /// the retry engine's throttle backoff decides. Returns the wait honoured, if known.
    fn throttled(
        &self,
        issued_at: Instant,
        refusal: Refusal,
        wait: Option<Duration>,
        what: &str,
    ) -> Option<Duration> {
        self.metrics.rate_limited(&self.tenant, self.target);
        let honour = |w| self.honoured_wait(w, what);
        let no_hint = self.schedule.settings().initial;
        self.gate
            .throttled(issued_at, refusal, wait, honour, no_hint)
    }

    /// Items inside a 2xx answer (a ServiceNow batch) were refused 429: such a sub-response
    /// carries no headers of its own (`exclude_response_headers`), so the answer's own
    /// rate-limit headers say how long: `Retry-After`, else `X-RateLimit-Reset` (the rule's
    /// window end). The gate closes for that wait, like for a 429 of the call itself; the
    /// wait honoured is returned (`None`: none known, the retry engine backs off).
    pub fn throttled_items(&self, reply: &Reply, what: &str) -> Option<Duration> {
        let wait = retry_after::server_wait(self.target, &reply.headers, b"", SystemTime::now());
        let issued_at = Instant::now();
        self.throttled(
            issued_at,
            Refusal::Quota,
            wait.filter(|w| !w.is_zero()),
            what,
        )
    }

    /// The wait honoured for a server's `wait`: all of it (never sending before the server's
    /// time), plus 0–10 % jitter; only an absurd value (beyond `retry.max_retry_after`, a day
    /// by default) is clamped, with a log line and `scriptsync_retry_after_clamped_total`.
    fn honoured_wait(&self, wait: Duration, what: &str) -> Duration {
        let max = self.schedule.settings().max_retry_after;
        if wait > max {
            self.metrics.retry_after_clamped(&self.tenant, self.target);
            tracing::warn!(
                tenant = %self.tenant, target = %self.target, what,
                asked_secs = wait.as_secs(), clamped_to_secs = max.as_secs(),
                "the server asked for an absurd wait; clamped to retry.max_retry_after"
            );
        }
        effective_wait(wait, max)
    }
}
