//! What the simulator recorded of the replicas' requests, read for the assertions: which
//! versions each tenant's table holds, which replica sent each tenant's requests in what
//! order, and the rule breaks it counted (requests into a pause or over the quota, older
//! versions written over newer ones).

use std::collections::BTreeMap;

use crate::common::eventually;

use super::Cluster;

impl Cluster {
    /// Waits until every script of every tenant holds `version`.
    pub(super) async fn delivered(&self, version: u64) {
        eventually(&format!("round {version} delivered"), || {
            let ok = self.all_hold(version);
            async move { ok }
        })
        .await;
    }

    /// True once every tenant's Genesys table holds `version` of every script.
    pub(super) fn all_hold(&self, version: u64) -> bool {
        let state = self.sim.state();
        self.tenants.iter().all(|t| {
            state.tenants.get(t).is_some_and(|ts| {
                (0..self.scripts).all(|s| {
                    ts.genesys
                        .held
                        .get(&format!("s{s}"))
                        .is_some_and(|h| h.version == version)
                })
            })
        })
    }

    /// Per tenant, the replicas that sent its requests, as runs in arrival order.
    pub(super) fn runs(&self) -> BTreeMap<String, Vec<String>> {
        let state = self.sim.state();
        self.tenants
            .iter()
            .map(|t| {
                let runs = state
                    .tenants
                    .get(t)
                    .map(|ts| {
                        ts.genesys
                            .replicas
                            .iter()
                            .map(|r| r.replica.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                (t.clone(), runs)
            })
            .collect()
    }

    pub(super) fn violations_and_older_writes(&self) -> (u64, u64) {
        let state = self.sim.state();
        state.tenants.values().fold((0, 0), |(v, o), ts| {
            (v + ts.genesys.violations, o + ts.genesys.older_writes)
        })
    }

    /// Requests the simulator refused for an exceeded quota window (429), over all tenants.
    pub(super) fn over_quota(&self) -> u64 {
        let state = self.sim.state();
        state
            .tenants
            .values()
            .map(|ts| ts.genesys.answered(429))
            .sum()
    }

    /// Scripts of `tenant` whose table holds `version`.
    pub(super) fn held(&self, tenant: &str, version: u64) -> usize {
        let state = self.sim.state();
        state.tenants.get(tenant).map_or(0, |ts| {
            ts.genesys
                .held
                .values()
                .filter(|h| h.version == version)
                .count()
        })
    }
}
