//! Genesys Cloud on loopback: the data-table row endpoints (create, list, read, update) and `POST /api/v2/scripts/published`
//! (the login, `POST /oauth/token`, is in [`super::oauth`]; the row store in
//! [`super::datatable`]).
//!
//! Every response carries `ININ-Correlation-Id`, and error bodies carry the same id as
//! `contextId`, like the real API. The principal is the OAuth client id.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{post, put};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::datatable::{self, RowError};
use super::gate::{self, Admitted, Refusal};
use super::oauth::genesys_login;
use super::respond::{self, Dialect, dropped, json_response, rfc3339_now};
use super::tokens::{self, TokenCheck};
use super::world::{Sim, World};
use super::{PublishedScript, SimTarget};

const TARGET: SimTarget = SimTarget::Genesys;
const CORRELATION_HEADER: &str = "inin-correlation-id";

pub(crate) fn routes() -> Router<Sim> {
    Router::new()
        .route("/oauth/token", post(genesys_login))
        .route(
            "/api/v2/flows/datatables/{table}/rows",
            post(create_row).get(list_rows),
        )
        .route(
            "/api/v2/flows/datatables/{table}/rows/{row}",
            put(update_row).get(get_row),
        )
        .route("/api/v2/scripts/published", post(publish))
}

type RowPath = Path<(String, String)>;

async fn update_row(
    State(sim): State<Sim>,
    Path((table, key)): RowPath,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    api(
        &sim,
        (&method, &uri),
        &headers,
        move |world, principal, admitted| {
            datatable::write_row(
                world,
                principal,
                &table,
                Some(&key),
                &body,
                &admitted.record_errors,
            )
        },
    )
    .await
}

async fn create_row(
    State(sim): State<Sim>,
    Path(table): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    api(
        &sim,
        (&method, &uri),
        &headers,
        move |world, principal, admitted| {
            datatable::write_row(
                world,
                principal,
                &table,
                None,
                &body,
                &admitted.record_errors,
            )
        },
    )
    .await
}

/// `GET …/rows?pageNumber=&pageSize=&showbrief=`: defaults 1, 25 and `true`, like Genesys.
async fn list_rows(
    State(sim): State<Sim>,
    Path(table): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let query: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let number = |name: &str, default: usize| match query.get(name) {
        Some(v) => v.parse::<usize>().unwrap_or(0),
        None => default,
    };
    let page = (number("pageNumber", 1), number("pageSize", 25));
    let brief = query.get("showbrief").is_none_or(|v| v != "false");
    api(
        &sim,
        (&method, &uri),
        &headers,
        move |world, principal, _| datatable::list_rows(world, principal, &table, page, brief),
    )
    .await
}

async fn get_row(
    State(sim): State<Sim>,
    Path((table, key)): RowPath,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    api(
        &sim,
        (&method, &uri),
        &headers,
        move |world, principal, _| datatable::read_row(world, principal, &table, &key),
    )
    .await
}

async fn publish(
    State(sim): State<Sim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    api(
        &sim,
        (&method, &uri),
        &headers,
        move |world, principal, _| {
            let request: Value = serde_json::from_slice(&body).unwrap_or_default();
            let field = |name| {
                request
                    .get(name)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
            };
            let (Some(script_id), Some(version_id)) = (field("scriptId"), field("versionId"))
            else {
                return Err(RowError::new(
                    400,
                    "bad.request",
                    "scriptId and versionId are required",
                ));
            };
            let published = PublishedScript {
                script_id: script_id.into(),
                version_id: version_id.into(),
            };
            world.target(principal, TARGET).published.push(published);
            Ok(json!({"id": script_id, "versionId": version_id, "publishedDate": rfc3339_now()}))
        },
    )
    .await
}

/// The common path of an API call: auth → admission → `handle` → accounting → correlation id.
async fn api<F>(
    sim: &Sim,
    (method, uri): (&Method, &Uri),
    headers: &HeaderMap,
    handle: F,
) -> Response
where
    F: FnOnce(&mut World, &str, &Admitted) -> Result<Value, RowError>,
{
    let dialect = Genesys {
        cid: uuid::Uuid::new_v4().to_string(),
    };
    let check = match tokens::bearer_token(headers) {
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
    sim.lock().note_request(
        &principal,
        TARGET,
        (method.as_str(), uri.path()),
        tokens::replica(headers),
    );
    let decision = gate::admit(sim, &principal, TARGET).await;
    let mut world = sim.lock();
    let response = match decision.verdict {
        Ok(admitted) => match handle(&mut world, &principal, &admitted) {
            Ok(body) => dialect.correlate(json_response(StatusCode::OK, body)),
            Err(e) => dialect.error_with_code(e.status, e.code, &e.message),
        },
        // Counted when the outage held it.
        Err(Refusal::Hang { .. }) => return dropped(),
        Err(Refusal::Drop) => {
            world.count(&principal, TARGET, 0);
            return dropped();
        }
        Err(refusal) => respond::refusal(refusal, &dialect),
    };
    world.count(&principal, TARGET, response.status().as_u16());
    response
}

/// Genesys answers for one request, all carrying its correlation id.
struct Genesys {
    cid: String,
}

impl Genesys {
    fn correlate(&self, response: Response) -> Response {
        with_correlation(response, &self.cid)
    }

    /// A Genesys error body: `{message, code, status, contextId, details, errors}`.
    fn error_with_code(&self, status: u16, code: &str, message: &str) -> Response {
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
    json!({"message": message, "code": "too.many.requests.retry.after", "status": 429,
           "contextId": correlation_id, "details": [], "errors": []})
}

fn code_for(status: u16) -> &'static str {
    match status {
        400 => "bad.request",
        401 => "authentication.required",
        403 => "not.authorized",
        404 => "not.found",
        408 => "request.timeout",
        409 => "conflict",
        429 => "too.many.requests.retry.after",
        502 => "bad.gateway",
        503 => "service.unavailable",
        504 => "gateway.timeout",
        _ => "internal.server.error",
    }
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
    fn errors_carry_the_correlation_id_as_context_id() {
        let dialect = Genesys {
            cid: "cid-2".into(),
        };
        let response = dialect.error(StatusCode::SERVICE_UNAVAILABLE, "busy");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[CORRELATION_HEADER], "cid-2");
    }
}
