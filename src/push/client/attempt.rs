//! One attempt of a request the gate already admitted ([`PushClient::attempt_admitted`]):
//! its `attempt` span (OpenTelemetry's HTTP client conventions), the token, the exchange and
//! the judgement, and the one renewal a 401 earns; a failed attempt is logged and counted.

use reqwest::RequestBuilder;
use tokio::time::Instant;
use tracing::Instrument;

use super::exchange::{Call, Interpreted};
use super::{Judged, PushClient};
use crate::push::attempt::AttemptError;
use crate::push::gate::GatePermit;
use crate::push::reply::Reply;

impl PushClient {
    /// ONE attempt of a request the gate already admitted (`permit`): the caller chose what
    /// to send at admission (a lane's late binding) and keeps the retry engine itself.
    /// `attempt` is the request's number for this change (spans and logs). A 401 renews the
    /// token once and resends at once, through the gate again (see [`Self::admit`]), without
    /// counting a failure. The answer is the judged 2xx, or the attempt's failure.
    pub async fn attempt_admitted<T, B, J>(
        &self,
        permit: GatePermit,
        attempt: u32,
        what: &str,
        build: B,
        judge: J,
    ) -> Result<T, AttemptError>
    where
        B: Fn(&reqwest::Client) -> RequestBuilder,
        J: Fn(Reply) -> Judged<T>,
    {
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
            server.port = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        let result = self
            .attempt_in_span(attempt, permit, what, &build, &judge)
            .instrument(span.clone())
            .await;
        if let Err(e) = &result {
            span.record("otel.status_code", "ERROR");
            // The status code, or a low-cardinality name for a request that got no answer.
            let error_type = e
                .status
                .map_or_else(|| "transport".to_owned(), |s| s.to_string());
            span.record("error.type", error_type.as_str());
            if e.status.is_some() || !e.is_throttled() {
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

    /// One attempt inside its span: token, send ([`Self::exchange`]), classify and judge
    /// ([`Self::interpret`]); a first 401 renews the token and goes round once more, through
    /// the gate again. A failure carries how long its request took.
    async fn attempt_in_span<T, B, J>(
        &self,
        attempt: u32,
        permit: GatePermit,
        what: &str,
        build: &B,
        judge: &J,
    ) -> Result<T, AttemptError>
    where
        B: Fn(&reqwest::Client) -> RequestBuilder,
        J: Fn(Reply) -> Judged<T>,
    {
        let mut admitted = Some(permit);
        let mut renewed = false;
        loop {
            let started = Instant::now();
            let took = |mut e: AttemptError| {
                e.took = started.elapsed();
                e
            };
            let credential = self.auth.get().await.map_err(|e| took(e.into()))?;
            // The permit lives to the end of this iteration: any pause is set before it goes.
            let permit = match admitted.take() {
                Some(permit) => permit,
                None => self.admit(what).await?,
            };
            let started = Instant::now();
            let took = |mut e: AttemptError| {
                e.took = started.elapsed();
                e
            };
            let answer = self
                .exchange(&credential, build, what)
                .await
                .map_err(took)?;
            let call = Call {
                what,
                attempt,
                issued_at: permit.issued_at(),
            };
            match self.interpret(answer, &call, judge) {
                Interpreted::Done(result) => return result.map_err(took),
                Interpreted::Unauthorized(e) if !renewed => {
                    // Renew once and resend at once; not a failure of its own.
                    renewed = true;
                    tracing::debug!(error = %e.message, "token refused; renewing it once");
                    self.auth.invalidate(&credential).await;
                }
                Interpreted::Unauthorized(e) => return Err(took(e)),
            }
        }
    }
}
