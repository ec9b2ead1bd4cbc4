//! The login endpoints of both services, which issue the tokens the API calls present.
//!
//! - Genesys `POST /oauth/token`: client credentials in `Authorization: Basic`, form body
//!   `grant_type=client_credentials`.
//! - ServiceNow `POST /oauth_token.do`: client-credentials, password and refresh-token grants,
//!   form-encoded only (a JSON body is refused, like the real endpoint).
//!
//! The principal is the OAuth client id; every login naming one counts in that principal's
//! `token_requests`. Logins are never rate-limited and never counted in `requests`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::json;
use tokio::time::Instant;

use super::SimTarget;
use super::genesys::with_correlation;
use super::respond::json_response;
use super::tokens;
use super::world::Sim;

/// Genesys `POST /oauth/token`.
pub(crate) async fn genesys_login(
    State(sim): State<Sim>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let cid = uuid::Uuid::new_v4().to_string();
    let Some((id, secret)) = tokens::basic_credentials(&headers) else {
        let response = oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication required",
        );
        return with_correlation(response, &cid);
    };
    let mut world = sim.lock();
    world.target(&id, SimTarget::Genesys).token_requests += 1;
    let grant = tokens::form_fields(&body).remove("grant_type");
    let response = if !sim.config.accepts(&id, &secret) {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )
    } else if grant.as_deref() != Some("client_credentials") {
        let description = "only client_credentials is supported";
        oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            description,
        )
    } else {
        let lifetime = sim.config.genesys_token_lifetime;
        let token = world
            .tokens
            .issue(&id, SimTarget::Genesys, lifetime, Instant::now());
        let body = json!({"access_token": token, "token_type": "bearer", "expires_in": lifetime.as_secs()});
        json_response(StatusCode::OK, body)
    };
    with_correlation(response, &cid)
}

/// ServiceNow `POST /oauth_token.do`.
pub(crate) async fn servicenow_login(
    State(sim): State<Sim>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        let description = "the request body must be application/x-www-form-urlencoded";
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description);
    }
    let form = tokens::form_fields(&body);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let client_id = field("client_id");
    if client_id.is_empty() {
        return denied("client_id is required");
    }

    let mut world = sim.lock();
    world
        .target(client_id, SimTarget::Servicenow)
        .token_requests += 1;
    if !sim.config.accepts(client_id, field("client_secret")) {
        return denied("invalid client credentials");
    }
    let refresh = match field("grant_type") {
        "client_credentials" => None,
        "password" => {
            if !sim.config.accepts(field("username"), field("password")) {
                return denied("invalid username or password");
            }
            Some(world.tokens.issue_refresh(client_id))
        }
        "refresh_token" => {
            let token = field("refresh_token");
            if !world.tokens.refresh_belongs_to(token, client_id) {
                return denied("invalid refresh token");
            }
            Some(token.to_string())
        }
        _ => {
            let description = "grant_type must be client_credentials, password or refresh_token";
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                description,
            );
        }
    };
    let lifetime = sim.config.servicenow_token_lifetime;
    let access = world
        .tokens
        .issue(client_id, SimTarget::Servicenow, lifetime, Instant::now());
    let mut body = json!({
        "access_token": access,
        "scope": "useraccount",
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    json_response(StatusCode::OK, body)
}

fn denied(description: &str) -> Response {
    oauth_error(StatusCode::UNAUTHORIZED, "access_denied", description)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        json!({"error": error, "error_description": description}),
    )
}
