//! The common path of every ServiceNow API call (auth → attribution → admission → handler or
//! a truncated 200 → accounting) and ServiceNow's way of answering: error bodies
//! `{"error":{"message","detail"},"status":"failure"}`, `X-Transaction-ID` on every answer.
//!
//! The principal is the OAuth client id for bearer tokens and the user for basic auth. When a
//! rate-limit rule is configured, requests it judges carry `X-RateLimit-Limit`,
//! `X-RateLimit-Reset` and `X-RateLimit-Rule`; injected faults do not (like a 429 from a full
//! API_INT semaphore queue). [`on_staging_table`] is the common shape of the calls on one
//! staging table: "Invalid table" for a table the instance does not have.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::SimTarget;
use super::gate::{self, RateHeaders, Refusal};
use super::request_head::{RequestHead, TableRequest};
use super::respond::{self, Dialect, dropped, json_response};
use super::tokens::{self, TokenCheck};
use super::transform::Importer;
use super::world::{Sim, World};

const TARGET: SimTarget = SimTarget::Servicenow;
/// sys_id reported in `X-RateLimit-Rule` (one rule per simulator).
const RATE_RULE_SYS_ID: &str = "5f1c8d2e0b7a4c3d9e6f1a2b3c4d5e6f";
/// What a cancelled transaction appends to its cut-short 200 body.
const CANCELLED: &str = concat!(
    r#""error":{"message":"Transaction cancelled: maximum execution time exceeded","#,
    r#""detail":"Transaction cancelled: maximum execution time exceeded Check logs for error "#,
    r#"trace or enable glide.rest.debug property to verify REST request processing"},"#,
    r#""status":"failure"}"#
);

/// Which API a call is, for the parts of the common path that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Import,
    InsertMultiple,
    Batch,
}

/// The common path of an API call: auth → admission → `handle` (or a truncated 200) →
/// accounting → rate-limit headers and the transaction id.
pub(crate) async fn api<F>(sim: &Sim, head: &RequestHead, endpoint: Endpoint, handle: F) -> Response
where
    F: FnOnce(&mut World, &Importer) -> Response,
{
    let principal = match authenticate(sim, &head.headers) {
        Ok(principal) => principal,
        Err(known) => {
            if let Some(principal) = known {
                sim.lock().count(&principal, TARGET, 401);
            }
            let detail = "Required to provide Auth information";
            return error(StatusCode::UNAUTHORIZED, "User Not Authenticated", detail);
        }
    };
    let decision = gate::admit(sim, &principal, TARGET, head).await;
    let mut world = sim.lock();
    let mut response = match decision.verdict {
        Ok(admitted) => {
            if endpoint != Endpoint::Import {
                world.target(&principal, TARGET).batch_calls += 1;
            }
            if admitted.truncated {
                truncated(endpoint)
            } else {
                let importer = Importer {
                    skip_older: sim.config.servicenow_skip_older,
                    principal: &principal,
                    admitted: &admitted,
                    base_url: &sim.base_url,
                    config: &sim.config,
                };
                handle(&mut world, &importer)
            }
        }
        // Counted when the outage held it.
        Err(Refusal::Hang { .. }) => return dropped(),
        Err(Refusal::Drop) => {
            world.count(&principal, TARGET, 0);
            return dropped();
        }
        Err(refusal) => respond::refusal(refusal, &ServiceNow),
    };
    world.count(&principal, TARGET, response.status().as_u16());
    if let Some(rate) = decision.rate {
        add_rate_headers(&mut response, rate);
    }
    add_transaction_id(&mut response);
    response
}

/// The common shape of the calls on one staging table: inside [`api`] as `endpoint`, `handle`
/// when the instance has the request's table, else "Invalid table".
pub(crate) async fn on_staging_table<F>(
    request: &TableRequest,
    endpoint: Endpoint,
    handle: F,
) -> Response
where
    F: FnOnce(&mut World, &Importer) -> Response,
{
    let table = request.table.as_str();
    api(
        &request.sim,
        &request.head,
        endpoint,
        |world, importer| match importer.config.has_staging_table(table) {
            true => handle(world, importer),
            false => invalid_table(table),
        },
    )
    .await
}

/// `X-Transaction-ID`: ServiceNow's id of the transaction (12 hex digits), on every answer.
fn add_transaction_id(response: &mut Response) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    if let Ok(value) = HeaderValue::from_str(&id[..12]) {
        response.headers_mut().insert("x-transaction-id", value);
    }
}

/// Bearer token or basic auth → principal; `Err(Some(p))` is a refusal attributable to `p`.
fn authenticate(sim: &Sim, headers: &HeaderMap) -> Result<String, Option<String>> {
    if let Some(token) = tokens::bearer_token(headers) {
        return match sim.lock().tokens.check(&token, TARGET, Instant::now()) {
            TokenCheck::Valid(principal) => Ok(principal),
            TokenCheck::Rejected(principal) => Err(Some(principal)),
            TokenCheck::Unknown => Err(None),
        };
    }
    match tokens::basic_credentials(headers) {
        Some((user, password)) if sim.lock().credentials.check(&sim.config, &user, &password) => {
            Ok(user)
        }
        Some((user, _)) => Err(Some(user)),
        None => Err(None),
    }
}

/// ServiceNow's error answers.
struct ServiceNow;

impl Dialect for ServiceNow {
    fn rate_limited(&self, _seconds: Option<u64>) -> Response {
        let detail =
            "The maximum number of requests allowed by the rate limit rule has been exceeded";
        error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded", detail)
    }

    fn error(&self, status: StatusCode, message: &str) -> Response {
        error(status, message, "simulated by scriptsync sim")
    }
}

/// A ServiceNow error answer: `{"error":{"message","detail"},"status":"failure"}`.
pub(crate) fn error(status: StatusCode, message: &str, detail: &str) -> Response {
    json_response(status, error_body(message, detail))
}

/// The answer for a staging table the instance does not have.
pub(crate) fn invalid_table(table: &str) -> Response {
    let message = format!("Invalid table {table}");
    let body = json!({"error": {"message": message, "detail": null}, "status": "failure"});
    json_response(StatusCode::BAD_REQUEST, body)
}

pub(crate) fn error_body(message: &str, detail: &str) -> Value {
    json!({"error": {"message": message, "detail": detail}, "status": "failure"})
}

/// A 200 cut short by a cancelled transaction: what was written so far, then a top-level
/// `error`. Nothing was applied.
fn truncated(endpoint: Endpoint) -> Response {
    let start = match endpoint {
        Endpoint::Batch => r#"{"serviced_requests":[],"unserviced_requests":[],"#,
        Endpoint::Import | Endpoint::InsertMultiple => r#"{"result":[],"#,
    };
    let body = format!("{start}{CANCELLED}");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn add_rate_headers(response: &mut Response, rate: RateHeaders) {
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(rate.limit));
    headers.insert("x-ratelimit-reset", HeaderValue::from(rate.reset_unix));
    headers.insert(
        "x-ratelimit-rule",
        HeaderValue::from_static(RATE_RULE_SYS_ID),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn truncated_bodies_parse_with_a_top_level_error() {
        for endpoint in [Endpoint::Import, Endpoint::Batch] {
            let response = truncated(endpoint);
            assert_eq!(response.status(), StatusCode::OK);
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.starts_with("Transaction cancelled"), "{message}");
        }
    }
}
