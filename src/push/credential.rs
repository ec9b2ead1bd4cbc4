//! How a (tenant, target) authenticates ([`AuthMethod`], built from its settings) and the
//! credential a request carries ([`Credential`]: a bearer token or basic auth). Both keep
//! their secrets as `SecretString` and print redacted; only [`Credential::apply`] exposes a
//! secret, onto the request it signs.

use std::fmt;
use std::sync::Arc;

use reqwest::RequestBuilder;
use url::Url;

use super::endpoint;
use crate::config::{
    ConfigError, GenesysSettings, Secret, SecretString, ServiceNowAuth, ServiceNowSettings, expose,
};

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
    /// Genesys: client credentials, Basic header, `<login_base>/oauth/token`. Settings that
    /// passed validation always give one; anything else is a configuration error at start,
    /// never a request that fails later.
    pub fn genesys(s: &GenesysSettings) -> Result<Self, ConfigError> {
        let client_secret = s
            .client_secret
            .value()
            .cloned()
            .ok_or_else(|| unusable("genesys client_secret has not been read"))?;
        let token_url = endpoint(&s.login_base(), &["oauth", "token"])
            .ok_or_else(|| unusable("genesys login_base cannot hold a path"))?;
        Ok(Self::ClientCredentials {
            token_url,
            client_id: s.client_id.clone(),
            client_secret,
            basic_header: true,
        })
    }

    /// ServiceNow: `<instance>/oauth_token.do` (client in the form body), or basic auth; an
    /// error (at start) when the settings lack what their auth kind needs.
    pub fn servicenow(s: &ServiceNowSettings) -> Result<Self, ConfigError> {
        let token_url = endpoint(&s.instance_url, &["oauth_token.do"]);
        let value = |secret: &Option<Secret>| secret.as_ref().and_then(Secret::value).cloned();
        let client = (s.client_id.clone(), value(&s.client_secret), token_url);
        let user = (s.username.clone(), value(&s.password));
        let method = match (s.auth, client, user) {
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
            (kind, _, _) => {
                return Err(unusable(&format!(
                    "servicenow auth {kind:?} lacks a client id, secret, user or password"
                )));
            }
        };
        Ok(method)
    }

    /// The credential when no token is involved (basic auth).
    pub(super) fn fixed_credential(&self) -> Option<Credential> {
        match self {
            Self::Basic(c) => Some(c.clone()),
            _ => None,
        }
    }
}

fn unusable(message: &str) -> ConfigError {
    ConfigError::Invalid(message.to_owned())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_skipped_validation_fail_at_start_not_per_request() {
        let tenant = crate::demo::setup::sim_tenant("t1", "http://127.0.0.1:1");
        let mut genesys = tenant.genesys.clone().unwrap();
        assert!(AuthMethod::genesys(&genesys).is_ok());
        genesys.client_secret = Secret::from_source(crate::config::SecretSource::Env("X".into()));
        let err = AuthMethod::genesys(&genesys).unwrap_err().to_string();
        assert!(err.contains("client_secret"), "{err}");

        let mut servicenow = tenant.servicenow.unwrap();
        assert!(AuthMethod::servicenow(&servicenow).is_ok());
        servicenow.auth = ServiceNowAuth::Basic;
        let err = AuthMethod::servicenow(&servicenow).unwrap_err().to_string();
        assert!(err.contains("Basic"), "{err}");
    }
}
