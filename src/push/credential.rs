//! How a (tenant, target) authenticates ([`AuthMethod`], built from its settings) and the
//! credential a request carries ([`Credential`]: a bearer token or basic auth). Both keep
//! their secrets as `SecretString` and print redacted; only [`Credential::apply`] exposes a
//! secret, onto the request it signs.

use std::fmt;
use std::sync::Arc;

use reqwest::RequestBuilder;
use url::Url;

use super::auth::AuthError;
use super::classify::Class;
use super::endpoint;
use crate::config::{GenesysSettings, SecretString, ServiceNowAuth, ServiceNowSettings, expose};

/// Where credentials come from.
pub enum AuthMethod {
    /// OAuth client credentials; `basic_header` puts the client in an `Authorization: Basic`
    /// header (Genesys), else in the form body (ServiceNow).
    ClientCredentials {
        token_url: Url,
        client_id: String,
        client_secret: SecretString,
        basic_header: bool,
    },
    /// OAuth password grant (client in the form body), renewed with the refresh token.
    Password {
        token_url: Url,
        client_id: String,
        client_secret: SecretString,
        username: String,
        password: SecretString,
    },
    /// Basic auth on every request, no token.
    Basic(Credential),
    /// The settings lack something (a secret not resolved): every request fails permanently
    /// with this text.
    Unusable(String),
}

impl AuthMethod {
    /// Genesys: client credentials, Basic header, `<login_base>/oauth/token`.
    pub fn genesys(s: &GenesysSettings) -> Self {
        let Some(client_secret) = s.client_secret.clone() else {
            return Self::Unusable("genesys client_secret is not set".into());
        };
        match endpoint(&s.login_base(), &["oauth", "token"]) {
            Some(token_url) => Self::ClientCredentials {
                token_url,
                client_id: s.client_id.clone(),
                client_secret,
                basic_header: true,
            },
            None => Self::Unusable("genesys login_base cannot hold a path".into()),
        }
    }

    /// ServiceNow: `<instance>/oauth_token.do` (client in the form body), or basic auth.
    pub fn servicenow(s: &ServiceNowSettings) -> Self {
        let token_url = endpoint(&s.instance_url, &["oauth_token.do"]);
        let client = (s.client_id.clone(), s.client_secret.clone(), token_url);
        let user = (s.username.clone(), s.password.clone());
        match (s.auth, client, user) {
            (ServiceNowAuth::Basic, _, (Some(username), Some(password))) => {
                Self::Basic(Credential::basic(username, password))
            }
            (
                ServiceNowAuth::OauthClientCredentials,
                (Some(client_id), Some(client_secret), Some(token_url)),
                _,
            ) => Self::ClientCredentials {
                token_url,
                client_id,
                client_secret,
                basic_header: false,
            },
            (
                ServiceNowAuth::OauthPassword,
                (Some(client_id), Some(client_secret), Some(token_url)),
                (Some(username), Some(password)),
            ) => Self::Password {
                token_url,
                client_id,
                client_secret,
                username,
                password,
            },
            (kind, _, _) => Self::Unusable(format!(
                "servicenow auth {kind:?} lacks a client id, secret, user or password"
            )),
        }
    }

    /// The credential when no token is involved (basic auth), or the permanent error.
    pub(super) fn fixed_credential(&self) -> Option<Result<Credential, AuthError>> {
        match self {
            Self::Basic(c) => Some(Ok(c.clone())),
            Self::Unusable(message) => Some(Err(AuthError {
                class: Class::Permanent,
                status: None,
                message: message.clone(),
                wait: None,
            })),
            _ => None,
        }
    }
}

impl fmt::Debug for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientCredentials {
                token_url,
                client_id,
                ..
            } => {
                write!(f, "ClientCredentials({client_id} at {token_url})")
            }
            Self::Password {
                token_url,
                client_id,
                username,
                ..
            } => {
                write!(f, "Password({client_id}, {username} at {token_url})")
            }
            Self::Basic(c) => write!(f, "Basic({c:?})"),
            Self::Unusable(m) => write!(f, "Unusable({m})"),
        }
    }
}

enum Kind {
    Bearer(SecretString),
    Basic {
        username: String,
        password: SecretString,
    },
}

/// What signs one request. Cheap to clone; `generation` tells tokens apart.
#[derive(Clone)]
pub struct Credential {
    inner: Arc<(Kind, u64)>,
}

impl Credential {
    pub fn bearer(token: SecretString, generation: u64) -> Self {
        Self {
            inner: Arc::new((Kind::Bearer(token), generation)),
        }
    }

    pub fn basic(username: String, password: SecretString) -> Self {
        Self {
            inner: Arc::new((Kind::Basic { username, password }, 0)),
        }
    }

    /// Which token this is (0 for basic auth).
    pub fn generation(&self) -> u64 {
        self.inner.1
    }

    /// Signs a request (`Authorization: Bearer …` or `Basic …`, marked sensitive).
    pub fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.inner.0 {
            Kind::Bearer(token) => request.bearer_auth(expose(token)),
            Kind::Basic { username, password } => {
                request.basic_auth(username, Some(expose(password)))
            }
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.0 {
            Kind::Bearer(_) => write!(f, "Bearer([REDACTED], generation {})", self.inner.1),
            Kind::Basic { username, .. } => write!(f, "Basic({username}, [REDACTED])"),
        }
    }
}
