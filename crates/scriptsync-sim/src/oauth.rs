//! The login endpoints of both services, which issue the tokens the API calls present.
//!
//! - Genesys `POST /oauth/token`: client credentials in `Authorization: Basic`, form body
//!   `grant_type=client_credentials`.
//! - ServiceNow `POST /oauth_token.do`: client-credentials, password and refresh-token grants,
//!   form-encoded only (a JSON body is refused, like the real endpoint).
//!
//! The principal is the OAuth client id; every login naming one counts in that principal's
//! `token_requests`. Logins are never rate-limited and never counted in `requests`. A login
//! outage (`Faults::login_outage`) answers them 503, drops or holds them, and counts them in
//! `token_refusals` too.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::json;
use tokio::time::Instant;

use super::SimTarget;
use super::faults::OutageMode;
use super::gate::NONSENSE_PAGE;
use super::genesys_api::with_correlation;
use super::respond::{dropped, json_response};
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
    if let Err(refused) = admit_login(&sim, &id, SimTarget::Genesys).await {
        return with_correlation(refused, &cid);
    }
    let mut world = sim.lock();
    let grant = tokens::form_fields(&body).remove("grant_type");
    let response = if !world.credentials.check(&sim.config, &id, &secret) {
        // Genesys's two answers (both `invalid_client`, with `description` as well): an
        // unknown client id, and a known one with the wrong secret. Its status is not in what
        // we could check (400 is likely); 401 here, which the worker treats the same.
        let description = match world.credentials.knows(&sim.config, &id) {
            true => "authentication failed",
            false => "client not found",
        };
        genesys_oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description)
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

    if let Err(refused) = admit_login(&sim, client_id, SimTarget::Servicenow).await {
        return refused;
    }
    let mut world = sim.lock();
    if !world
        .credentials
        .check(&sim.config, client_id, field("client_secret"))
    {
        return denied("invalid client credentials");
    }
    let refresh = match field("grant_type") {
        "client_credentials" => None,
        "password" => {
            if !world
                .credentials
                .check(&sim.config, field("username"), field("password"))
            {
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

/// Counts a login of `principal` and applies its login outage, if one is in force: `Err` is
/// the outage's answer (a 503, or a connection closed at once or when the outage ends).
async fn admit_login(sim: &Sim, principal: &str, target: SimTarget) -> Result<(), Response> {
    let outage = {
        let mut world = sim.lock();
        world.target(principal, target).token_requests += 1;
        let outage = world
            .faults_for(principal, target)
            .and_then(|f| f.login_outage(Instant::now()));
        if outage.is_some() {
            world.target(principal, target).token_refusals += 1;
        }
        outage
    };
    let Some(outage) = outage else {
        return Ok(());
    };
    Err(match outage.mode {
        OutageMode::Unavailable => oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the login service is unavailable (simulated outage)",
        ),
        OutageMode::Drop => dropped(),
        OutageMode::Hang => {
            tokio::time::sleep_until(outage.until).await;
            dropped()
        }
        OutageMode::Nonsense => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/html")
            .body(axum::body::Body::from(NONSENSE_PAGE))
            .unwrap_or_else(|_| dropped()),
    })
}

fn denied(description: &str) -> Response {
    oauth_error(StatusCode::UNAUTHORIZED, "access_denied", description)
}

/// A Genesys login error: `error`, `description` and `error_description`.
fn genesys_oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        json!({"error": error, "description": description, "error_description": description}),
    )
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        json!({"error": error, "error_description": description}),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::world::Shared;
    use crate::{Faults, Outage, SimConfig};

    fn login_outage(mode: OutageMode) -> Faults {
        Faults {
            login_outage: Some(Outage::new(mode, Duration::from_secs(60))),
            ..Faults::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_login_outage_refuses_the_principals_logins_until_it_ends() {
        let sim: Sim = Arc::new(Shared::new(
            SimConfig::default(),
            "http://127.0.0.1:1".into(),
        ));
        let (genesys, servicenow) = (SimTarget::Genesys, SimTarget::Servicenow);
        let faults = login_outage(OutageMode::Unavailable);
        sim.lock().set_faults(Some("p"), genesys, faults);
        let refused = admit_login(&sim, "p", genesys).await.unwrap_err();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            admit_login(&sim, "q", genesys).await.is_ok(),
            "other principal"
        );
        assert!(
            admit_login(&sim, "p", servicenow).await.is_ok(),
            "other target"
        );

        // Hang: held until the outage ends, then closed; the next login goes through.
        sim.lock()
            .set_faults(Some("p"), genesys, login_outage(OutageMode::Hang));
        let started = Instant::now();
        assert!(admit_login(&sim, "p", genesys).await.is_err());
        assert_eq!(started.elapsed(), Duration::from_secs(60));
        assert!(admit_login(&sim, "p", genesys).await.is_ok(), "outage over");

        let p = sim.snapshot().tenant("p");
        assert_eq!((p.genesys.token_requests, p.genesys.token_refusals), (3, 2));
        assert_eq!(
            (p.servicenow.token_requests, p.servicenow.token_refusals),
            (1, 0)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_nonsense_login_outage_answers_200_without_a_token() {
        let sim: Sim = Arc::new(Shared::new(
            SimConfig::default(),
            "http://127.0.0.1:1".into(),
        ));
        let genesys = SimTarget::Genesys;
        sim.lock()
            .set_faults(Some("p"), genesys, login_outage(OutageMode::Nonsense));
        let answer = admit_login(&sim, "p", genesys).await.unwrap_err();
        assert_eq!(answer.status(), StatusCode::OK);
        let body = axum::body::to_bytes(answer.into_body(), 1 << 16)
            .await
            .unwrap();
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
        assert_eq!(sim.snapshot().tenant("p").genesys.token_refusals, 1);
    }
}
