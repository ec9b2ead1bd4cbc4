//! ServiceNow on loopback: the Import Set API (single record and insertMultiple) and the Batch
//! API (sub-requests judged in [`super::batch`], records in [`super::transform`]); the login,
//! `POST /oauth_token.do`, is in [`super::oauth`].
//!
//! The principal is the OAuth client id for bearer tokens and the user for basic auth. When a
//! rate-limit rule is configured, requests it judges carry `X-RateLimit-Limit`,
//! `X-RateLimit-Reset` and `X-RateLimit-Rule`; injected faults do not (like a 429 from a full
//! API_INT semaphore queue).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::SimTarget;
use super::batch;
use super::gate::{self, RateHeaders, Refusal};
use super::oauth::servicenow_login;
use super::request_head::RequestHead;
use super::respond::{self, Dialect, dropped, json_response};
use super::staging;
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

pub(crate) fn routes() -> Router<Sim> {
    Router::new()
        .route("/oauth_token.do", post(servicenow_login))
        .route("/api/now/import/{table}", post(import_one))
        .route(
            "/api/now/import/{table}/{sys_id}",
            get(staging::read_staging_record),
        )
        .route("/api/now/table/{table}", get(staging::read_table))
        .route(
            "/api/now/import/{table}/insertMultiple",
            post(insert_multiple),
        )
        .route("/api/now/v1/batch", post(batch_call))
}

/// Which API a call is, for the parts of the common path that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Import,
    InsertMultiple,
    Batch,
}

async fn import_one(
    State(sim): State<Sim>,
    Path(table): Path<String>,
    head: RequestHead,
    body: Bytes,
) -> Response {
    api(
        &sim,
        &head,
        Endpoint::Import,
        move |world, importer| match serde_json::from_slice::<Value>(&body) {
            _ if !importer.config.has_staging_table(&table) => staging::invalid_table(&table),
            Ok(record @ Value::Object(_)) => {
                json_response(StatusCode::CREATED, importer.import(world, &table, &record))
            }
            _ => error(
                StatusCode::BAD_REQUEST,
                "Invalid request body",
                "expected one JSON object",
            ),
        },
    )
    .await
}

async fn insert_multiple(
    State(sim): State<Sim>,
    Path(table): Path<String>,
    head: RequestHead,
    body: Bytes,
) -> Response {
    api(
        &sim,
        &head,
        Endpoint::InsertMultiple,
        move |world, importer| {
            if !importer.config.has_staging_table(&table) {
                return staging::invalid_table(&table);
            }
            let request: Value = serde_json::from_slice(&body).unwrap_or_default();
            let Some(records) = request.get("records").and_then(Value::as_array) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Invalid request body",
                    "expected {\"records\":[...]}",
                );
            };
            for record in records {
                importer.apply(world, record);
            }
            let import_set_id = uuid::Uuid::new_v4().simple().to_string();
            let multi_import_set_id = uuid::Uuid::new_v4().simple().to_string();
            let body =
                json!({"import_set_id": import_set_id, "multi_import_set_id": multi_import_set_id});
            json_response(StatusCode::CREATED, body)
        },
    )
    .await
}

async fn batch_call(State(sim): State<Sim>, head: RequestHead, body: Bytes) -> Response {
    api(&sim, &head, Endpoint::Batch, move |world, importer| {
        batch::run(world, importer, &body)
    })
    .await
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
