//! The small adapter that lets the `oauth2` crate send its token requests with our reqwest
//! 0.13 client (oauth2's own reqwest support pulls in reqwest 0.12 and a second TLS stack).
//!
//! Any answer other than 2xx comes back as [`TokenHttpError::Status`] with its status,
//! headers and body, so [`token_error`] can classify it with the same rules as every other
//! response (429 + `Retry-After`, 5xx, 401, other 4xx) instead of oauth2's generic error.

use std::future::Future;
use std::pin::Pin;

use std::time::{Duration, SystemTime};

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse, RequestTokenError, TokenResponse};
use reqwest::header::HeaderMap;

use super::auth::{AuthError, DEFAULT_LIFETIME, MAX_LIFETIME, MIN_LIFETIME};
use super::body::{BodyError, MAX_TOKEN_BODY, read_limited};
use super::classify::{Class, Observed, TransportKind, classify};
use super::{reply, retry_after};
use crate::change::TargetKind;
use crate::config::SecretString;

/// Why a token request got no usable 2xx answer.
#[derive(Debug, thiserror::Error)]
pub enum TokenHttpError {
    #[error("token request failed: {}", .0.as_str())]
    Transport(TransportKind),
    #[error("token answer body over {limit} bytes")]
    TooLarge { limit: usize },
    #[error("token endpoint answered {status}")]
    Status {
        status: u16,
        headers: HeaderMap,
        body: Vec<u8>,
    },
}

/// oauth2's HTTP client trait on top of a shared `reqwest::Client`.
#[derive(Debug, Clone)]
pub struct OAuthHttp {
    client: reqwest::Client,
}

impl OAuthHttp {
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TokenHttpError> {
        let transport = |e: reqwest::Error| TokenHttpError::Transport(TransportKind::of(&e));
        let request = reqwest::Request::try_from(request).map_err(transport)?;
        let response = self.client.execute(request).await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = match read_limited(response, MAX_TOKEN_BODY).await {
            Ok(body) => body,
            Err(BodyError::Transport(e)) => return Err(transport(e)),
            Err(BodyError::TooLarge { limit }) => return Err(TokenHttpError::TooLarge { limit }),
        };
        if !status.is_success() {
            return Err(TokenHttpError::Status {
                status: status.as_u16(),
                headers,
                body,
            });
        }
        let mut builder = oauth2::http::Response::builder().status(status);
        if let Some(h) = builder.headers_mut() {
            *h = headers;
        }
        builder
            .body(body)
            .map_err(|_| TokenHttpError::Transport(TransportKind::Other))
    }
}

impl<'c> AsyncHttpClient<'c> for OAuthHttp {
    type Error = TokenHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TokenHttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// What a failed token request means for the retry loop: the token endpoint's answer
/// classified like any other (a 401 there refuses the client itself: transient, so it is
/// retried with backoff inside the budget), a transport error, or an unreadable answer.
pub fn token_error<TE: oauth2::ErrorResponse>(
    e: RequestTokenError<TokenHttpError, TE>,
    target: TargetKind,
    max_retry_after: Duration,
) -> AuthError {
    let plain = |class, message: &str| AuthError {
        class,
        status: None,
        message: format!("token: {message}"),
        wait: None,
    };
    match e {
        RequestTokenError::Request(TokenHttpError::Status {
            status,
            headers,
            body,
        }) => {
            let observed = Observed::Response {
                status,
                headers: &headers,
                body: &body,
            };
            let (class, wait) = match classify(target, observed, SystemTime::now()) {
                Class::RateLimited { wait } => (Class::RateLimited { wait }, wait),
                // 401 at the token endpoint: the client itself is refused; retry with
                // backoff inside the budget (DESIGN: "then as transient").
                Class::Auth | Class::Success => (Class::Transient, None),
                // The same refusal as a 400 (RFC 6749 §5.2 allows either; Genesys's status
                // for a wrong secret is likely 400): a secret being rotated must not turn
                // the changes waiting for it into permanent failures.
                _ if status == 400 && refuses_client(&body) => (Class::Transient, None),
                other => (other, None),
            };
            AuthError {
                class,
                status: Some(status),
                message: reply::describe("token", status, &body),
                wait: wait.map(|w| retry_after::effective_wait(w, max_retry_after)),
            }
        }
        RequestTokenError::Request(TokenHttpError::Transport(TransportKind::Builder)) => {
            plain(Class::Permanent, "invalid token request")
        }
        RequestTokenError::Request(TokenHttpError::TooLarge { limit }) => {
            plain(Class::Transient, &format!("answer body over {limit} bytes"))
        }
        RequestTokenError::Request(TokenHttpError::Transport(kind)) => {
            plain(Class::Transient, kind.as_str())
        }
        RequestTokenError::ServerResponse(_) => plain(Class::Permanent, "refused by the server"),
        RequestTokenError::Parse(_, _) => plain(Class::Transient, "unreadable token response"),
        RequestTokenError::Other(m) => plain(Class::Transient, &reply::truncate(&m, 200)),
    }
}

/// Whether a token error body is OAuth's `invalid_client` (unknown client, wrong secret).
fn refuses_client(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v.get("error").and_then(|e| e.as_str()) == Some("invalid_client"))
}

/// A token the endpoint gave us.
pub struct Grant {
    pub access: SecretString,
    pub refresh: Option<SecretString>,
    pub lifetime: Duration,
}

/// The useful part of a token response, checked: a bearer token that is not empty, its
/// lifetime clamped to [`MIN_LIFETIME`, `MAX_LIFETIME`] (absent or 0: [`DEFAULT_LIFETIME`]), so
/// an absurd `expires_in` can neither overflow a deadline nor cause a renewal storm. A token
/// the worker cannot use is a transient error: the cache backs off and asks again later.
pub fn grant(response: oauth2::basic::BasicTokenResponse) -> Result<Grant, AuthError> {
    let unusable = |why: &str| AuthError {
        class: Class::Transient,
        status: None,
        message: format!("token: {why}"),
        wait: None,
    };
    if *response.token_type() != oauth2::basic::BasicTokenType::Bearer {
        let kind = response.token_type().as_ref().to_owned();
        return Err(unusable(&format!(
            "token type {:?} is not bearer",
            reply::truncate(&kind, 40)
        )));
    }
    if response.access_token().secret().trim().is_empty() {
        return Err(unusable("the endpoint issued an empty access token"));
    }
    let lifetime = response
        .expires_in()
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_LIFETIME)
        .clamp(MIN_LIFETIME, MAX_LIFETIME);
    Ok(Grant {
        access: SecretString::from(response.access_token().secret().clone()),
        refresh: response
            .refresh_token()
            .map(|r| SecretString::from(r.secret().clone())),
        lifetime,
    })
}

#[cfg(test)]
#[path = "oauth_http_tests.rs"]
mod tests;
