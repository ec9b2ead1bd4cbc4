//! The simulator's own endpoints under `/_sim`: inspection and fault control.
//!
//! - `GET /_sim/state` → [`SimState`] as JSON;
//! - `POST /_sim/faults` with `{"principal": optional, "target": "genesys"|"servicenow",
//!   "faults": Faults}` → 204 (400 for a body that does not parse, e.g. an
//!   `other_integration_share` outside 0.0–1.0; omitted fields take their defaults);
//! - `POST /_sim/expire-tokens` with an optional `{"principal": …}` (an empty body means every
//!   principal) → 204.
//!
//! None of these is counted, rate-limited or authenticated: the simulator listens on loopback.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::respond::json_response;
use super::world::Sim;
use super::{Faults, SimState, SimTarget};

/// Body of `POST /_sim/faults`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetFaults {
    /// `None`: the default for every principal without its own setting.
    #[serde(default)]
    pub principal: Option<String>,
    pub target: SimTarget,
    #[serde(default)]
    pub faults: Faults,
}

/// Body of `POST /_sim/expire-tokens`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpireTokens {
    /// `None`: every principal.
    #[serde(default)]
    pub principal: Option<String>,
}

pub(crate) fn routes() -> Router<Sim> {
    Router::new()
        .route("/_sim/state", get(state))
        .route("/_sim/faults", post(set_faults))
        .route("/_sim/expire-tokens", post(expire_tokens))
}

async fn state(State(sim): State<Sim>) -> Json<SimState> {
    Json(sim.snapshot())
}

async fn set_faults(State(sim): State<Sim>, body: Bytes) -> Response {
    match serde_json::from_slice::<SetFaults>(&body) {
        Ok(request) => {
            sim.lock()
                .set_faults(request.principal.as_deref(), request.target, request.faults);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad_request(&e),
    }
}

async fn expire_tokens(State(sim): State<Sim>, body: Bytes) -> Response {
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(ExpireTokens::default())
    } else {
        serde_json::from_slice::<ExpireTokens>(&body)
    };
    match request {
        Ok(request) => {
            sim.lock().tokens.expire(request.principal.as_deref());
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad_request(&e),
    }
}

/// The router's fallback: a request no simulated endpoint matches is noted and answered 404.
pub(crate) async fn unrouted(State(sim): State<Sim>, method: Method, uri: Uri) -> Response {
    sim.lock().note_unrouted(format!("{method} {uri}"));
    json_response(
        StatusCode::NOT_FOUND,
        json!({"error": "no such endpoint in the simulator"}),
    )
}

fn bad_request(e: &serde_json::Error) -> Response {
    json_response(StatusCode::BAD_REQUEST, json!({"error": e.to_string()}))
}
