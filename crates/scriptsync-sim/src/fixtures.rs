//! Fixtures: the fake org that scriptsync's demo, bench and integration tests share, so they
//! all point the worker at the same table names with credentials the simulator accepts, and
//! start the simulator the same way (a free loopback port).
//!
//! Only the simulator's side lives here; the worker's settings built from these names (a
//! tenant with both targets on the simulator) are `scriptsync::config::simulator`'s.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::{SimConfig, SimHandle, Simulator};

/// Client secret of every simulated tenant. A default simulator accepts any secret; one built
/// with [`accepting`] only the listed ones.
pub const SIM_SECRET: &str = "sim-secret-not-a-real-one";

/// The Genesys data table id used for every simulated tenant.
pub const SIM_DATATABLE: &str = "scriptsync-sim-table";

/// The ServiceNow staging table (Import Set) used for every simulated tenant.
pub const SIM_STAGING_TABLE: &str = "u_scriptsync_import";

/// `127.0.0.1:0`: loopback only, a free port picked at bind.
pub fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// Starts a simulator with `config` on a free loopback port ([`SimHandle::base_url`] says
/// which).
pub async fn start(config: SimConfig) -> anyhow::Result<SimHandle> {
    Simulator::start(config, loopback()).await
}

/// A simulator whose Genesys quota is `requests` per `window` per client: the real 300 per
/// 60 s scaled down so a test or a bench scenario saturates it in seconds.
pub fn genesys_quota(requests: u32, window: Duration) -> SimConfig {
    SimConfig {
        genesys_requests_per_minute: requests,
        genesys_window: window,
        ..SimConfig::default()
    }
}

/// A simulator that accepts only `clients` (client id or username → secret or password), for
/// tests of credentials and tenant isolation.
pub fn accepting<I, K, V>(clients: I) -> SimConfig
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    let clients: HashMap<String, String> = clients
        .into_iter()
        .map(|(id, secret)| (id.into(), secret.into()))
        .collect();
    SimConfig {
        clients: Some(clients),
        ..SimConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaled_quota_keeps_every_other_default() {
        let config = genesys_quota(10, Duration::from_secs(5));
        assert_eq!(config.genesys_requests_per_minute, 10);
        assert_eq!(config.genesys_window, Duration::from_secs(5));
        assert!(config.clients.is_none());
        config.validate().unwrap();
    }

    #[test]
    fn accepting_checks_exactly_the_listed_credentials() {
        let config = accepting([("acme", SIM_SECRET)]);
        assert!(config.accepts("acme", SIM_SECRET));
        assert!(!config.accepts("acme", "wrong"));
        assert!(!config.accepts("globex", SIM_SECRET));
    }

    #[tokio::test]
    async fn start_binds_a_free_loopback_port() {
        let sim = start(SimConfig::default()).await.unwrap();
        assert!(sim.addr().ip().is_loopback());
        assert_ne!(sim.addr().port(), 0);
        assert_eq!(sim.base_url(), format!("http://{}", sim.addr()));
        sim.shutdown();
        sim.stopped().await;
    }
}
