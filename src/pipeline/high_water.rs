//! The high-water mark of the ordering rule (DESIGN §3): per (tenant, script_id, target), the
//! highest version this worker has delivered. A change at or below it is never pushed; it is
//! acked as superseded.

use std::collections::HashMap;

use crate::change::TargetKind;

/// Highest delivered version per (target, script) for one tenant.
#[derive(Debug, Default)]
pub struct HighWater {
    delivered: HashMap<(TargetKind, String), u64>,
}

impl HighWater {
    /// The highest version delivered to `target` for `script`, if any.
    pub fn get(&self, target: TargetKind, script: &str) -> Option<u64> {
        self.delivered.get(&(target, script.to_owned())).copied()
    }

    /// True when `version` must not be pushed because an equal or newer one was delivered.
    pub fn covers(&self, target: TargetKind, script: &str, version: u64) -> bool {
        self.get(target, script).is_some_and(|held| held >= version)
    }

    /// Records a delivery; never lowers the mark.
    pub fn record(&mut self, target: TargetKind, script: &str, version: u64) {
        let slot = self
            .delivered
            .entry((target, script.to_owned()))
            .or_insert(version);
        *slot = (*slot).max(version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_lowers_and_covers_equal_or_older() {
        let mut hw = HighWater::default();
        hw.record(TargetKind::Genesys, "s", 5);
        hw.record(TargetKind::Genesys, "s", 3);
        assert_eq!(hw.get(TargetKind::Genesys, "s"), Some(5));
        assert!(hw.covers(TargetKind::Genesys, "s", 5));
        assert!(hw.covers(TargetKind::Genesys, "s", 3));
        assert!(!hw.covers(TargetKind::Genesys, "s", 6));
        assert!(!hw.covers(TargetKind::Servicenow, "s", 1));
    }
}
