//! `[replica]`: which replica of a deployment this process is. Every request to a target
//! carries it (`X-Scriptsync-Replica`), so a target's logs (and the simulator) show which
//! replica sent what; several replicas share the tenants among themselves by it.
//!
//! The id is `replica.id` (also `SCRIPTSYNC__REPLICA__ID`), else the pod name Kubernetes gives
//! a StatefulSet member (`POD_NAME`, set from the downward API by the Helm chart), else the
//! host name, which is the pod name inside Kubernetes too.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid, is_valid_tenant_id};

/// The header every outgoing request carries.
pub const REPLICA_HEADER: &str = "x-scriptsync-replica";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicaSettings {
    /// This replica's id; when unset, `POD_NAME` or the host name.
    pub id: Option<String>,
    /// How often this replica tells the others it is alive; one silent for three beats is
    /// taken for gone and its tenants move (DESIGN §8).
    #[serde(with = "crate::config::duration_text")]
    pub heartbeat: Duration,
}

impl Default for ReplicaSettings {
    fn default() -> Self {
        Self {
            id: None,
            heartbeat: Duration::from_secs(1),
        }
    }
}

impl ReplicaSettings {
    /// The id this process uses: the configured one, else `POD_NAME`, else the host name,
    /// else `replica-<pid>`. `env` replaces the process environment when given.
    pub fn resolve(&self, env: Option<&HashMap<String, String>>) -> String {
        let from_env = |name: &str| match env {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        self.id
            .clone()
            .or_else(|| from_env("POD_NAME"))
            .or_else(host_name)
            .map(|id| id.trim().to_owned())
            .filter(|id| is_valid_tenant_id(id))
            .unwrap_or_else(|| format!("replica-{}", std::process::id()))
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.heartbeat < Duration::from_millis(10) || self.heartbeat > Duration::from_secs(60) {
            return Err(invalid("replica.heartbeat must be between 10ms and 60s"));
        }
        match &self.id {
            Some(id) if !is_valid_tenant_id(id) => Err(invalid(format!(
                "replica.id {id:?} must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$"
            ))),
            _ => Ok(()),
        }
    }
}

/// The kernel's host name (Linux), if it can be read.
fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_then_pod_name_then_host() {
        let env = HashMap::from([("POD_NAME".to_string(), "scriptsync-2".to_string())]);
        let configured = ReplicaSettings {
            id: Some("eu-1".into()),
            ..ReplicaSettings::default()
        };
        assert_eq!(configured.resolve(Some(&env)), "eu-1");
        assert_eq!(
            ReplicaSettings::default().resolve(Some(&env)),
            "scriptsync-2"
        );
        let host = ReplicaSettings::default().resolve(Some(&HashMap::new()));
        assert!(is_valid_tenant_id(&host), "{host}");
        let bad = ReplicaSettings {
            id: Some("no spaces".into()),
            ..ReplicaSettings::default()
        };
        assert!(bad.validate().is_err());
    }
}
