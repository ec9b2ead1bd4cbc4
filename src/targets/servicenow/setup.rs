//! What a tenant's ServiceNow settings make of the shared push machinery: its gate (an
//! optional rate-limit rule per hour, reported by the instance) and how it authenticates
//! (client credentials or the password grant at `<instance>/oauth_token.do`, or basic auth).

use crate::config::{ConfigError, Secret, ServiceNowAuth, ServiceNowSettings};
use crate::push::{AuthMethod, Credential, GateConfig, endpoint};

/// `requests_per_hour` per `window` (an hour unless scaled for a rehearsal), × headroom.
pub fn gate_config(s: &ServiceNowSettings) -> GateConfig {
    GateConfig::reported_rule(s.requests_per_hour, s.window, s.headroom, s.max_concurrency)
}

/// ServiceNow: `<instance>/oauth_token.do` (client in the form body), or basic auth; an
/// error (at start) when the settings lack what their auth kind needs.
pub fn auth_method(s: &ServiceNowSettings) -> Result<AuthMethod, ConfigError> {
    let token_url = endpoint(&s.instance_url, &["oauth_token.do"]);
    let value = |secret: &Option<Secret>| secret.as_ref().and_then(Secret::value).cloned();
    let client = (s.client_id.clone(), value(&s.client_secret), token_url);
    let user = (s.username.clone(), value(&s.password));
    let method = match (s.auth, client, user) {
        (ServiceNowAuth::Basic, _, (Some(username), Some(password))) => {
            AuthMethod::Basic(Credential::basic(username, password))
        }
        (
            ServiceNowAuth::OauthClientCredentials,
            (Some(client_id), Some(client_secret), Some(token_url)),
            _,
        ) => AuthMethod::ClientCredentials {
            token_url,
            client_id,
            client_secret,
            basic_header: false,
        },
        (
            ServiceNowAuth::OauthPassword,
            (Some(client_id), Some(client_secret), Some(token_url)),
            (Some(username), Some(password)),
        ) => AuthMethod::Password {
            token_url,
            client_id,
            client_secret,
            username,
            password,
        },
        (kind, _, _) => {
            return Err(ConfigError::Invalid(format!(
                "servicenow auth {kind:?} lacks a client id, secret, user or password"
            )));
        }
    };
    Ok(method)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Settings;

    #[test]
    fn the_gate_follows_the_rule_per_hour_times_headroom() {
        let toml = r#"
            [[tenants]]
            id = "t1"
            [tenants.servicenow]
            instance_url = "https://x.service-now.com"
            auth = "basic"
            staging_table = "u_t"
            requests_per_hour = 3600
        "#;
        let settings = Settings::from_toml_str(toml).unwrap();
        let s = gate_config(settings.tenants[0].servicenow.as_ref().unwrap());
        assert!((s.per_minute - 54.0).abs() < 1e-9);
        assert_eq!(s.burst, 100);
        assert_eq!(s.recovery_period, Duration::from_secs(60));
        assert!(!s.learns_from_429);
    }

    #[test]
    fn settings_that_skipped_validation_fail_at_start_not_per_request() {
        let tenant = crate::config::simulator::sim_tenant("t1", "http://127.0.0.1:1");
        let mut servicenow = tenant.servicenow.unwrap();
        assert!(auth_method(&servicenow).is_ok());
        servicenow.auth = ServiceNowAuth::Basic;
        let err = auth_method(&servicenow).unwrap_err().to_string();
        assert!(err.contains("Basic"), "{err}");
    }
}
