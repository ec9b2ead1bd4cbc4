//! The common path of every Genesys API call (auth → attribution → admission → handler →
//! accounting) and the Genesys way of answering: error bodies
//! `{message, code, status, contextId, details, errors}` and both 429 wordings.
//!
//! Every response carries `ININ-Correlation-Id`, and error bodies carry the same id as
//! `contextId`, like the real API. The principal is the OAuth client id; a handler meets it as
//! a [`Caller`], which checks its permissions and finds the tables it sees.

use std::collections::HashMap;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::codes::{GENESYS_LEGACY_429_CODE, GENESYS_RETRY_AFTER_CODE, GenesysError, code_for};
use super::gate::{self, Admitted, Refusal};
use super::request_head::RequestHead;
use super::respond::{self, Dialect, dropped, json_response};
use super::table_defs::{self, DataTableSpec};
use super::tokens::{self, TokenCheck};
use super::world::{Sim, World};
use super::{SimConfig, SimTarget, permissions};

const TARGET: SimTarget = SimTarget::Genesys;
const CORRELATION_HEADER: &str = "inin-correlation-id";

/// A handler's successful answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    /// 200 with this JSON body.
    Json(Value),
    /// 204 with an empty body (a row deleted).
    NoContent,
}

impl From<Value> for Reply {
    fn from(body: Value) -> Self {
        Self::Json(body)
    }
}

/// The client an admitted call is served for: who it is, what admission decided for the call,
/// and the configuration its permissions and tables come from.
pub(crate) struct Caller<'a> {
    pub(crate) principal: &'a str,
    pub(crate) admitted: &'a Admitted,
    pub(crate) config: &'a SimConfig,
}

impl Caller<'_> {
    /// Ok when the client holds any of `accepted`, else the 403 that lists them.
    pub(crate) fn require(&self, accepted: &[&str]) -> Result<(), GenesysError> {
        permissions::require(self.config, self.principal, accepted)
    }

    /// The tables configured with `genesys_datatables` (`None`: any id names a table).
    pub(crate) fn configured_tables(&self) -> Option<&HashMap<String, DataTableSpec>> {
        self.config.genesys_datatables.as_ref()
    }

    /// The table `id` as this client sees it, or 404.
    pub(crate) fn table(&self, world: &World, id: &str) -> Result<DataTableSpec, GenesysError> {
        table_defs::find(world, self.configured_tables(), self.principal, id)
    }
}

/// The common path of an API call: auth → admission → `handle` → accounting → correlation id.
pub(crate) async fn api<F>(sim: &Sim, head: &RequestHead, handle: F) -> Response
where
    F: FnOnce(&mut World, &Caller) -> Result<Reply, GenesysError>,
{
    let dialect = Genesys {
        cid: uuid::Uuid::new_v4().to_string(),
    };
    let check = match tokens::bearer_token(&head.headers) {
        Some(token) => sim.lock().tokens.check(&token, TARGET, Instant::now()),
        None => TokenCheck::Unknown,
    };
    let principal = match check {
        TokenCheck::Valid(principal) => principal,
        TokenCheck::Rejected(_) | TokenCheck::Unknown => {
            if let TokenCheck::Rejected(principal) = check {
                sim.lock().count(&principal, TARGET, 401);
            }
            let message = "No authentication bearer token specified in authorization header.";
            return dialect.error_with_code(401, "authentication.required", message);
        }
    };
    let decision = gate::admit(sim, &principal, TARGET, head).await;
    let mut world = sim.lock();
    let response = match decision.verdict {
        Ok(admitted) => {
            let caller = Caller {
                principal: &principal,
                admitted: &admitted,
                config: &sim.config,
            };
            match handle(&mut world, &caller) {
                Ok(Reply::Json(body)) => dialect.correlate(json_response(StatusCode::OK, body)),
                Ok(Reply::NoContent) => dialect.correlate(StatusCode::NO_CONTENT.into_response()),
                Err(e) => dialect.error_with_code(e.status, e.code, &e.message),
            }
        }
        // Counted when the outage held it.
        Err(Refusal::Hang { .. }) => return dropped(),
        Err(Refusal::Drop) => {
            world.count(&principal, TARGET, 0);
            return dropped();
        }
        Err(refusal) => dialect.correlate(respond::refusal(refusal, &dialect)),
    };
    world.count(&principal, TARGET, response.status().as_u16());
    response
}

/// Genesys answers for one request, all carrying its correlation id.
pub(crate) struct Genesys {
    pub(crate) cid: String,
}

impl Genesys {
    fn correlate(&self, response: Response) -> Response {
        with_correlation(response, &self.cid)
    }

    /// A Genesys error body: `{message, code, status, contextId, details, errors}`.
    pub(crate) fn error_with_code(&self, status: u16, code: &str, message: &str) -> Response {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({"message": message, "code": code, "status": status.as_u16(),
                          "contextId": self.cid, "details": [], "errors": []});
        self.correlate(json_response(status, body))
    }
}

impl Dialect for Genesys {
    fn rate_limited(&self, seconds: Option<u64>) -> Response {
        let body = rate_limit_body(seconds, &self.cid);
        self.correlate(json_response(StatusCode::TOO_MANY_REQUESTS, body))
    }

    fn rate_limited_legacy(&self, limit: u32, window_secs: u64) -> Response {
        let body = legacy_rate_limit_body(limit, window_secs, &self.cid);
        self.correlate(json_response(StatusCode::TOO_MANY_REQUESTS, body))
    }

    fn error(&self, status: StatusCode, message: &str) -> Response {
        self.error_with_code(status.as_u16(), code_for(status.as_u16()), message)
    }
}

/// The body of a Genesys 429: "Retry the request in \[N\] seconds" when a wait is known, with
/// `contextId` = the correlation id.
pub fn rate_limit_body(seconds: Option<u64>, correlation_id: &str) -> Value {
    let message = match seconds {
        Some(n) => format!("Rate limit exceeded the maximum. Retry the request in [{n}] seconds"),
        None => "Rate limit exceeded the maximum".to_string(),
    };
    json!({"message": message, "code": GENESYS_RETRY_AFTER_CODE, "status": 429,
           "contextId": correlation_id, "details": [], "errors": []})
}

/// The body of a Genesys 429 before November 2021 (the `genesys_legacy_429` fault): the limit
/// and the window's length, no wait.
pub fn legacy_rate_limit_body(limit: u32, window_secs: u64, correlation_id: &str) -> Value {
    let message = format!(
        "Rate limit exceeded the maximum [{limit}] requests within [{window_secs}] seconds"
    );
    json!({"message": message, "code": GENESYS_LEGACY_429_CODE, "status": 429,
           "contextId": correlation_id})
}

/// Adds `ININ-Correlation-Id`.
pub(crate) fn with_correlation(mut response: Response, cid: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cid) {
        response.headers_mut().insert(CORRELATION_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_body_matches_genesys() {
        let body = rate_limit_body(Some(42), "cid-1");
        let message = "Rate limit exceeded the maximum. Retry the request in [42] seconds";
        assert_eq!(body["message"], message);
        assert_eq!(body["code"], "too.many.requests.retry.after");
        assert_eq!(body["status"], 429);
        assert_eq!(body["contextId"], "cid-1");
        assert_eq!(
            (body["details"].clone(), body["errors"].clone()),
            (json!([]), json!([]))
        );
        let bare = rate_limit_body(None, "c");
        assert!(!bare["message"].as_str().unwrap().contains('['));
    }

    #[test]
    fn legacy_body_names_the_limit_and_window() {
        let body = legacy_rate_limit_body(300, 60, "cid-3");
        let message = "Rate limit exceeded the maximum [300] requests within [60] seconds";
        assert_eq!(
            body,
            json!({"message": message, "code": "too.many.requests", "status": 429,
                   "contextId": "cid-3"})
        );
    }

    #[test]
    fn errors_carry_the_correlation_id_as_context_id() {
        let dialect = Genesys {
            cid: "cid-2".into(),
        };
        let response = dialect.error(StatusCode::SERVICE_UNAVAILABLE, "busy");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[CORRELATION_HEADER], "cid-2");
        let legacy = dialect.rate_limited_legacy(5, 1);
        assert_eq!(legacy.headers()[CORRELATION_HEADER], "cid-2");
        assert!(legacy.headers().get("retry-after").is_none());
    }
}
