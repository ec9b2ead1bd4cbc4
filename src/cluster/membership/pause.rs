//! The pauses a replica's beats carry: a gate of a tenant's target closed until a wall-clock
//! instant (a 429's wait), so the replica that takes the tenant over honours it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::change::TargetKind;

/// A gate of `tenant` at `target` is closed until `until_unix_ms` (wall clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseNote {
    pub tenant: String,
    pub target: TargetKind,
    pub until_unix_ms: u64,
}

impl PauseNote {
    /// A pause of `tenant` at `target` lasting `remaining` from now.
    pub fn lasting(tenant: &str, target: TargetKind, remaining: Duration) -> Self {
        let until = SystemTime::now() + remaining;
        let until_unix_ms = until
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self {
            tenant: tenant.to_owned(),
            target,
            until_unix_ms,
        }
    }

    /// How long the pause still lasts from now (`None` once over).
    pub fn remaining(&self) -> Option<Duration> {
        let until = UNIX_EPOCH + Duration::from_millis(self.until_unix_ms);
        until
            .duration_since(SystemTime::now())
            .ok()
            .filter(|d| !d.is_zero())
    }
}

/// What this replica's beats say about its gates' pauses.
pub type PauseSource = Box<dyn Fn() -> Vec<PauseNote> + Send + Sync>;
