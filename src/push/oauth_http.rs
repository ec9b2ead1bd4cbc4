//! The small adapter that lets the `oauth2` crate send its token requests with our reqwest
//! 0.13 client (oauth2's own reqwest support pulls in reqwest 0.12 and a second TLS stack).
//!
//! Any answer other than 2xx comes back as [`TokenHttpError::Status`] with its status,
//! headers and body, so the token cache can classify it with the same rules as every other
//! response (429 + `Retry-After`, 5xx, 401, other 4xx) instead of oauth2's generic error.

use std::future::Future;
use std::pin::Pin;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use reqwest::header::HeaderMap;

use super::classify::TransportKind;

/// Why a token request got no usable 2xx answer.
#[derive(Debug, thiserror::Error)]
pub enum TokenHttpError {
    #[error("token request failed: {}", .0.as_str())]
    Transport(TransportKind),
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
        let body: Vec<u8> = response.bytes().await.map_err(transport)?.into();
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
