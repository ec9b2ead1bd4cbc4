//! Access and refresh tokens, and reading credentials out of requests.
//!
//! A token maps to (principal, target, expiry). Tokens are never deleted: an expired or revoked
//! token is still recognised, so the 401 it earns is attributed to its principal.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng as _;
use rand::distr::Alphanumeric;
use tokio::time::Instant;

use super::SimTarget;

/// Length of generated tokens: long enough to be unguessable, like the real ones.
const TOKEN_LEN: usize = 48;

#[derive(Debug, Clone)]
struct AccessToken {
    principal: String,
    target: SimTarget,
    expires_at: Instant,
    revoked: bool,
}

/// What a presented bearer token is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    Valid(String),
    /// Expired or revoked: the principal is known, the token is not accepted.
    Rejected(String),
    Unknown,
}

#[derive(Debug, Default)]
pub(crate) struct Tokens {
    access: HashMap<String, AccessToken>,
    /// refresh token → the OAuth client it was issued to (ServiceNow password grant).
    refresh: HashMap<String, String>,
}

impl Tokens {
    pub(crate) fn issue(
        &mut self,
        principal: &str,
        target: SimTarget,
        lifetime: Duration,
        now: Instant,
    ) -> String {
        let token = random_token();
        let info = AccessToken {
            principal: principal.to_string(),
            target,
            expires_at: now + lifetime,
            revoked: false,
        };
        self.access.insert(token.clone(), info);
        token
    }

    pub(crate) fn issue_refresh(&mut self, client_id: &str) -> String {
        let token = random_token();
        self.refresh.insert(token.clone(), client_id.to_string());
        token
    }

    /// Whether `token` was issued to `client_id` as a refresh token.
    pub(crate) fn refresh_belongs_to(&self, token: &str, client_id: &str) -> bool {
        self.refresh
            .get(token)
            .is_some_and(|owner| owner == client_id)
    }

    pub(crate) fn check(&self, token: &str, target: SimTarget, now: Instant) -> TokenCheck {
        match self.access.get(token) {
            Some(info) if info.target == target => {
                if info.revoked || info.expires_at <= now {
                    TokenCheck::Rejected(info.principal.clone())
                } else {
                    TokenCheck::Valid(info.principal.clone())
                }
            }
            _ => TokenCheck::Unknown,
        }
    }

    /// Revokes every access token issued so far (to `principal`, or to everyone). Refresh
    /// tokens stay valid, as they do when a real access token expires.
    pub(crate) fn expire(&mut self, principal: Option<&str>) {
        for info in self.access.values_mut() {
            if principal.is_none_or(|p| p == info.principal) {
                info.revoked = true;
            }
        }
    }
}

/// Every token the simulator issues starts with this, so tests can grep any output
/// channel for leaked tokens.
pub const TOKEN_PREFIX: &str = "simtok-";

fn random_token() -> String {
    let random: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(TOKEN_LEN)
        .map(char::from)
        .collect();
    format!("{TOKEN_PREFIX}{random}")
}

/// `Authorization: Basic base64(id:secret)` → (id, secret).
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// `Authorization: Bearer <token>` → token.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Decodes an `application/x-www-form-urlencoded` body into its fields (last one wins).
pub(crate) fn form_fields(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn tokens_expire_are_revoked_and_stay_attributed() {
        let now = Instant::now();
        let mut tokens = Tokens::default();
        let a = tokens.issue("a", SimTarget::Genesys, Duration::from_secs(10), now);
        let b = tokens.issue("b", SimTarget::Genesys, Duration::from_secs(10), now);
        assert_eq!(
            tokens.check(&a, SimTarget::Genesys, now),
            TokenCheck::Valid("a".into())
        );
        assert_eq!(
            tokens.check(&a, SimTarget::Servicenow, now),
            TokenCheck::Unknown
        );
        let later = now + Duration::from_secs(10);
        assert_eq!(
            tokens.check(&a, SimTarget::Genesys, later),
            TokenCheck::Rejected("a".into())
        );
        tokens.expire(Some("b"));
        assert_eq!(
            tokens.check(&b, SimTarget::Genesys, now),
            TokenCheck::Rejected("b".into())
        );
        assert_eq!(
            tokens.check("nope", SimTarget::Genesys, now),
            TokenCheck::Unknown
        );
    }

    #[test]
    fn credentials_are_read_from_headers() {
        let basic = auth(&format!("Basic {}", STANDARD.encode("id:se:cret")));
        assert_eq!(
            basic_credentials(&basic),
            Some(("id".into(), "se:cret".into()))
        );
        assert_eq!(bearer_token(&basic), None);
        assert_eq!(bearer_token(&auth("Bearer abc")), Some("abc".into()));
        assert_eq!(basic_credentials(&auth("Basic !!!")), None);
        let form = form_fields(b"grant_type=client_credentials&client_id=a%20b");
        assert_eq!(form["client_id"], "a b");
    }
}
