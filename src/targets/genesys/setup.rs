//! What a tenant's Genesys settings make of the shared push machinery: its gate (a quota per
//! fixed window that a 429 can teach the gate its share of) and how it authenticates
//! (client credentials, Basic header, `<login_base>/oauth/token`).

use crate::config::{ConfigError, GenesysSettings};
use crate::push::{AuthMethod, GateConfig, endpoint};

/// `requests_per_minute` per `window` (a minute unless scaled for a rehearsal), × headroom.
pub fn gate_config(s: &GenesysSettings) -> GateConfig {
    GateConfig::learning_window(
        s.requests_per_minute,
        s.window,
        s.headroom,
        s.max_concurrency,
    )
}

/// Genesys: client credentials, Basic header, `<login_base>/oauth/token`. Settings that
/// passed validation always give one; anything else is a configuration error at start,
/// never a request that fails later.
pub fn auth_method(s: &GenesysSettings) -> Result<AuthMethod, ConfigError> {
    let client_secret =
        s.client_secret.value().cloned().ok_or_else(|| {
            ConfigError::Invalid("genesys client_secret has not been read".into())
        })?;
    let token_url = endpoint(&s.login_base(), &["oauth", "token"])
        .ok_or_else(|| ConfigError::Invalid("genesys login_base cannot hold a path".into()))?;
    Ok(AuthMethod::ClientCredentials {
        token_url,
        client_id: s.client_id.clone(),
        client_secret,
        basic_header: true,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{Secret, SecretSource, Settings};

    const TENANT: &str = r#"
        [[tenants]]
        id = "t1"
        [tenants.genesys]
        region = "mypurecloud.com"
        client_id = "c"
        client_secret_env = "T1_SECRET"
        datatable_id = "d"
    "#;

    #[test]
    fn the_gate_keeps_the_quota_times_headroom_and_the_rest_as_burst() {
        let settings = Settings::from_toml_str(TENANT).unwrap();
        let g = gate_config(settings.tenants[0].genesys.as_ref().unwrap());
        assert!((g.per_minute - 270.0).abs() < 1e-9);
        assert_eq!(g.burst, 30);
        assert_eq!(g.max_concurrency, 4);
        assert_eq!(g.recovery_period, Duration::from_secs(60));
        assert!(g.learns_from_429);
    }

    #[test]
    fn settings_that_skipped_validation_fail_at_start_not_per_request() {
        let tenant = crate::config::simulator::sim_tenant("t1", "http://127.0.0.1:1");
        let mut genesys = tenant.genesys.unwrap();
        assert!(auth_method(&genesys).is_ok());
        genesys.client_secret = Secret::from_source(SecretSource::Env("X".into()));
        let err = auth_method(&genesys).unwrap_err().to_string();
        assert!(err.contains("client_secret"), "{err}");
    }
}
