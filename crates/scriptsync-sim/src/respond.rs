//! Response building shared by both simulated services: JSON answers, the dropped
//! connection, and turning a gate [`Refusal`] into an answer in each service's own dialect.
//!
//! A refusal's `Retry-After` header is decided here, once for both services: the remaining
//! seconds of a pause or quota window, or an injected response's raw value (a legacy Genesys
//! 429 has none). An injected response with a raw body is sent as is, as `application/json`.

use std::io;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::gate::Refusal;

/// How one service words its error answers.
pub(crate) trait Dialect {
    /// A 429 answer; `seconds` is the wait the body may mention (Genesys does).
    fn rate_limited(&self, seconds: Option<u64>) -> Response;
    /// A 429 in the pre-November-2021 Genesys wording (limit and window, no wait); services
    /// without one answer their usual 429.
    fn rate_limited_legacy(&self, _limit: u32, _window_secs: u64) -> Response {
        self.rate_limited(None)
    }
    /// An error answer with this service's error body.
    fn error(&self, status: StatusCode, message: &str) -> Response;
}

/// The answer to a request the gate refused.
pub(crate) fn refusal(refusal: Refusal, dialect: &impl Dialect) -> Response {
    let (mut response, retry_after) = match refusal {
        Refusal::Paused { retry_after } | Refusal::OverQuota { retry_after } => (
            dialect.rate_limited(Some(retry_after)),
            Some(HeaderValue::from(retry_after)),
        ),
        Refusal::OverQuotaLegacy { limit, window_secs } => {
            (dialect.rate_limited_legacy(limit, window_secs), None)
        }
        Refusal::Injected(injected) => {
            let status =
                StatusCode::from_u16(injected.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let response = if let Some(body) = injected.body {
                raw_json(status, body)
            } else if status == StatusCode::TOO_MANY_REQUESTS {
                dialect.rate_limited(injected.genesys_body_seconds.map(u64::from))
            } else {
                dialect.error(status, "Simulated failure (injected by the simulator)")
            };
            let header = injected
                .retry_after
                .and_then(|v| HeaderValue::from_str(&v).ok());
            (response, header)
        }
        Refusal::ServerError => (
            dialect.error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Simulated internal error",
            ),
            None,
        ),
        Refusal::Drop | Refusal::Hang { .. } => (dropped(), None),
    };
    if let Some(value) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// `status` with a JSON body.
pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// `status` with `body` sent as is, labelled `application/json`.
fn raw_json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A response whose body fails before its first byte, so hyper closes the connection without
/// sending the head: the client sees a connection error (the "dropped connection" fault).
pub(crate) fn dropped() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, io::Error>(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "simulated dropped connection",
        ))
    });
    let mut response = Response::new(Body::from_stream(failing));
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Now as RFC 3339 (the date format of both APIs' JSON).
pub(crate) fn rfc3339_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InjectedResponse;
    use serde_json::json;

    struct Plain;

    impl Dialect for Plain {
        fn rate_limited(&self, seconds: Option<u64>) -> Response {
            json_response(StatusCode::TOO_MANY_REQUESTS, json!({ "seconds": seconds }))
        }
        fn error(&self, status: StatusCode, message: &str) -> Response {
            json_response(status, json!({ "message": message }))
        }
    }

    fn retry_after(response: &Response) -> Option<&str> {
        response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
    }

    #[test]
    fn refusals_carry_status_and_retry_after() {
        let paused = refusal(Refusal::Paused { retry_after: 7 }, &Plain);
        assert_eq!(
            (paused.status(), retry_after(&paused)),
            (StatusCode::TOO_MANY_REQUESTS, Some("7"))
        );
        let injected = InjectedResponse::new(503).with_retry_after("Wed, 21 Oct 2015 07:28:00 GMT");
        let unavailable = refusal(Refusal::Injected(injected), &Plain);
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            retry_after(&unavailable),
            Some("Wed, 21 Oct 2015 07:28:00 GMT")
        );
        let bare = refusal(Refusal::Injected(InjectedResponse::new(429)), &Plain);
        assert_eq!(
            (bare.status(), retry_after(&bare)),
            (StatusCode::TOO_MANY_REQUESTS, None)
        );
        let failed = refusal(Refusal::ServerError, &Plain);
        assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let legacy = Refusal::OverQuotaLegacy {
            limit: 2,
            window_secs: 60,
        };
        let legacy = refusal(legacy, &Plain);
        assert_eq!(
            (legacy.status(), retry_after(&legacy)),
            (StatusCode::TOO_MANY_REQUESTS, None)
        );
    }

    #[tokio::test]
    async fn an_injected_raw_body_is_sent_as_is() {
        let raw = r#"{"message":"whatever wording"}"#;
        let injected = InjectedResponse::new(429)
            .with_body(raw)
            .with_retry_after("3");
        let response = refusal(Refusal::Injected(injected), &Plain);
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry_after(&response), Some("3"));
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 10)
            .await
            .unwrap();
        assert_eq!(bytes, raw.as_bytes());
    }
}
