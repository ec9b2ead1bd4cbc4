//! How a (tenant, target) authenticates ([`AuthMethod`], built from its settings) and the
//! credential a request carries ([`Credential`]: a bearer token or basic auth). Both keep
//! their secrets as `SecretString` and print redacted; only [`Credential::apply`] exposes a
//! secret, onto the request it signs.

use std::fmt;
use std::sync::Arc;

use reqwest::RequestBuilder;
use url::Url;

use crate::config::{SecretString, expose};

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
}

impl AuthMethod {
    /// The credential when no token is involved (basic auth).
    pub(super) fn fixed_credential(&self) -> Option<Credential> {
        match self {
            Self::Basic(c) => Some(c.clone()),
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
