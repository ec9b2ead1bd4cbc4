//! The token cache: one per (tenant, target). It fetches an access token with the `oauth2`
//! crate (Genesys: client credentials with Basic auth at `<login>/oauth/token`; ServiceNow:
//! client credentials or password grant at `<instance>/oauth_token.do` with the client in the
//! form body, refreshed with `grant_type=refresh_token`), or hands out basic-auth credentials.
//!
//! - One token for everyone: a tokio mutex around the fetch makes it single-flight.
//! - Renewed ~60 s before expiry (at 80 % of the lifetime for short-lived tokens), brought
//!   forward by a random jitter (up to a tenth of the lifetime, at most 10 min) so that the
//!   tokens of many tenants fetched together do not renew together.
//! - [`TokenCache::invalidate`] drops the token only if it is still the one that was refused,
//!   so many requests seeing a 401 with the same token cause exactly one renewal.
//! - A failed fetch is remembered for a backoff (or the server's `Retry-After`): callers in
//!   that window get the same error with the wait, never a tight loop of token requests.
//! - Tokens are `SecretString`s and never logged; renewals are counted in
//!   `scriptsync_token_renewals_total`.

use std::sync::Arc;
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, ClientId, ClientSecret, RefreshToken, ResourceOwnerPassword, ResourceOwnerUsername,
    TokenUrl,
};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::classify::Class;
use super::credential::{AuthMethod, Credential};
use super::oauth_http::{Grant, OAuthHttp, grant, token_error};
use super::schedule::Schedule;
use crate::change::TargetKind;
use crate::config::{RetrySettings, SecretString, expose};
use crate::metrics::Metrics;

/// Renew this long before expiry…
pub const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(60);
/// …or at this share of the lifetime, whichever comes first (short-lived tokens).
pub const RENEW_AT_FRACTION: f64 = 0.8;
/// Lifetime assumed when the token response has no `expires_in` (ServiceNow's default).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(1800);
/// Shortest lifetime believed: a token said to last 1 s would be renewed in a loop.
pub const MIN_LIFETIME: Duration = Duration::from_secs(10);
/// Longest lifetime believed: `expires_in` of `u64::MAX` must not overflow a deadline.
pub const MAX_LIFETIME: Duration = Duration::from_secs(86_400);

/// Why no credential could be had; `wait` says when asking again makes sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    pub class: Class,
    pub status: Option<u16>,
    pub message: String,
    pub wait: Option<Duration>,
}

struct Cached {
    credential: Credential,
    renew_at: Instant,
    expires_at: Instant,
}

#[derive(Default)]
struct State {
    token: Option<Cached>,
    refresh: Option<SecretString>,
    generation: u64,
    failures: u32,
    cooldown: Option<(Instant, AuthError)>,
}

/// The credential source of one (tenant, target).
pub struct TokenCache {
    tenant: String,
    target: TargetKind,
    /// Replaced whole by [`TokenCache::rotate`] (a tenant's secret rotated while running).
    method: parking_lot::Mutex<Arc<AuthMethod>>,
    http: OAuthHttp,
    retry: RetrySettings,
    /// How long a failing token endpoint is left alone: the retry schedule's steps.
    schedule: Schedule,
    metrics: Arc<Metrics>,
    state: Mutex<State>,
}

impl TokenCache {
    pub fn new(
        tenant: &str,
        target: TargetKind,
        method: AuthMethod,
        http: reqwest::Client,
        retry: &RetrySettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            tenant: tenant.to_owned(),
            target,
            method: parking_lot::Mutex::new(Arc::new(method)),
            http: OAuthHttp::new(http),
            retry: retry.clone(),
            schedule: Schedule::new(retry),
            metrics,
            state: Mutex::new(State::default()),
        }
    }

    fn method(&self) -> Arc<AuthMethod> {
        self.method.lock().clone()
    }

    /// Takes new credentials (a rotated secret): the cached token, refresh token and any
    /// remembered failure are dropped, so the next request fetches a token with `method`. A
    /// fetch under way with the old credentials finishes first, and its token is dropped too.
    pub async fn rotate(&self, method: AuthMethod) {
        let mut st = self.state.lock().await;
        *self.method.lock() = Arc::new(method);
        st.token = None;
        st.refresh = None;
        st.cooldown = None;
        st.failures = 0;
        tracing::info!(tenant = %self.tenant, target = %self.target, "credentials rotated: the next request fetches a new token");
    }

    /// The credential to send now: the cached token, or a new one (one fetch at a time).
    pub async fn get(&self) -> Result<Credential, AuthError> {
        if let Some(fixed) = self.method().fixed_credential() {
            return Ok(fixed);
        }
        let mut st = self.state.lock().await;
        let now = Instant::now();
        if let Some(c) = st.token.as_ref().filter(|c| now < c.renew_at) {
            return Ok(c.credential.clone());
        }
        let still_valid = st
            .token
            .as_ref()
            .filter(|c| now < c.expires_at)
            .map(|c| c.credential.clone());
        if let Some((until, err)) = st.cooldown.as_ref().filter(|(until, _)| now < *until) {
            let wait = *until - now;
            return still_valid.ok_or_else(|| AuthError {
                wait: Some(wait),
                ..err.clone()
            });
        }
        match self.fetch(st.refresh.clone()).await {
            Ok(grant) => {
                st.generation += 1;
                let credential = Credential::bearer(grant.access, st.generation);
                let now = Instant::now();
                st.token = Some(Cached {
                    credential: credential.clone(),
                    renew_at: now + renew_after(grant.lifetime) - renewal_jitter(grant.lifetime),
                    expires_at: now + grant.lifetime,
                });
                if grant.refresh.is_some() {
                    st.refresh = grant.refresh;
                }
                st.failures = 0;
                st.cooldown = None;
                self.metrics.token_renewal(&self.tenant, self.target);
                tracing::debug!(tenant = %self.tenant, target = %self.target, "access token renewed");
                Ok(credential)
            }
            Err(err) => {
                st.failures += 1;
                self.metrics.token_failure(&self.tenant, self.target);
                let backoff = self.schedule.step(st.failures);
                let wait = err.wait.map_or(backoff, |w| w.max(backoff));
                tracing::warn!(tenant = %self.tenant, target = %self.target, error = %err.message, "token request failed");
                st.cooldown = Some((Instant::now() + wait, err.clone()));
                still_valid.ok_or(AuthError {
                    wait: Some(wait),
                    ..err
                })
            }
        }
    }

    /// A request was refused (401) with `used`: forget that token so the next
    /// [`get`](Self::get) renews it. A token already replaced is left alone.
    pub async fn invalidate(&self, used: &Credential) {
        let mut st = self.state.lock().await;
        if st
            .token
            .as_ref()
            .is_some_and(|c| c.credential.generation() == used.generation())
        {
            st.token = None;
        }
    }

    async fn fetch(&self, refresh: Option<SecretString>) -> Result<Grant, AuthError> {
        let method = self.method();
        let (token_url, client_id, secret, auth_type, password) = match &*method {
            AuthMethod::ClientCredentials {
                token_url,
                client_id,
                client_secret,
                basic_header,
            } => {
                let auth = if *basic_header {
                    AuthType::BasicAuth
                } else {
                    AuthType::RequestBody
                };
                (token_url, client_id, client_secret, auth, None)
            }
            AuthMethod::Password {
                token_url,
                client_id,
                client_secret,
                username,
                password,
            } => (
                token_url,
                client_id,
                client_secret,
                AuthType::RequestBody,
                Some((username, password)),
            ),
            AuthMethod::Basic(_) => unreachable!("basic auth is a fixed credential"),
        };
        let client = BasicClient::new(ClientId::new(client_id.clone()))
            .set_client_secret(ClientSecret::new(expose(secret).to_owned()))
            .set_auth_type(auth_type)
            .set_token_uri(TokenUrl::from_url(token_url.clone()));
        let Some((username, password)) = password else {
            let response = client
                .exchange_client_credentials()
                .request_async(&self.http)
                .await;
            return response
                .map_err(|e| token_error(e, self.target, self.retry.max_retry_after))
                .and_then(grant);
        };
        if let Some(refresh) = refresh {
            let token = RefreshToken::new(expose(&refresh).to_owned());
            match client
                .exchange_refresh_token(&token)
                .request_async(&self.http)
                .await
            {
                Ok(response) => return grant(response),
                Err(e) => {
                    let err = token_error(e, self.target, self.retry.max_retry_after);
                    // A refused refresh token (expired, revoked): log in again with the password.
                    if !err
                        .status
                        .is_some_and(|s| (400..500).contains(&s) && s != 429)
                    {
                        return Err(err);
                    }
                }
            }
        }
        let user = ResourceOwnerUsername::new(username.clone());
        let pass = ResourceOwnerPassword::new(expose(password).to_owned());
        let response = client
            .exchange_password(&user, &pass)
            .request_async(&self.http)
            .await;
        response
            .map_err(|e| token_error(e, self.target, self.retry.max_retry_after))
            .and_then(grant)
    }
}

/// How long after issue a token with `lifetime` is renewed: 60 s before expiry, or at 80 %
/// of the lifetime when 60 s would be more than a fifth of it.
pub fn renew_after(lifetime: Duration) -> Duration {
    lifetime
        .saturating_sub(RENEW_BEFORE_EXPIRY)
        .max(lifetime.mul_f64(RENEW_AT_FRACTION))
}

/// Longest a renewal is brought forward at random.
pub const MAX_RENEWAL_JITTER: Duration = Duration::from_secs(600);

/// A random time (up to a tenth of the lifetime, at most [`MAX_RENEWAL_JITTER`]) by which a
/// renewal comes early: 1,000 tenants whose tokens were fetched in the same second (a worker
/// start) must not all renew in the same second a day later.
pub fn renewal_jitter(lifetime: Duration) -> Duration {
    let most = lifetime.mul_f64(0.1).min(MAX_RENEWAL_JITTER);
    most.mul_f64(rand::random::<f64>())
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
