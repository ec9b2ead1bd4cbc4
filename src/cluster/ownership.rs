//! Which live replica owns a tenant: rendezvous (highest random weight) hashing of the tenant
//! and replica ids, with bounded loads. Every replica computes the same answer from the same
//! membership and tenant set, without talking to the others.
//!
//! Plain rendezvous hashing is even only on average (12 tenants on 3 replicas can split
//! 6 / 4 / 2). [`assign`] takes the tenants in a fixed order and gives each to the first replica
//! of its own rendezvous order that holds fewer than ⌈N/R⌉: no replica holds more than that,
//! and a join or a leave still moves few tenants (the bound is checked by a test: at most
//! twice what must move).
//!
//! The hash is FNV-1a 64 with a final avalanche step, spelled out here rather than taken from
//! `std` (whose hasher may change between Rust releases): replicas built by different releases
//! during a rolling upgrade must agree.

use std::collections::{BTreeMap, BTreeSet};

/// FNV-1a 64 of `tenant`, a separator and `replica`, then splitmix64's finaliser.
fn weight(tenant: &str, replica: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tenant.bytes().chain([0xff]).chain(replica.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// `replicas` in `tenant`'s rendezvous order, highest weight first (ties, which need equal
/// hashes, go to the smaller id).
fn preference<'a>(tenant: &str, replicas: &'a BTreeSet<String>) -> Vec<&'a str> {
    let mut order: Vec<&str> = replicas.iter().map(String::as_str).collect();
    order.sort_by(|a, b| {
        weight(tenant, b)
            .cmp(&weight(tenant, a))
            .then_with(|| a.cmp(b))
    });
    order
}

/// The owner of every tenant among `replicas` (empty when there is no replica): each replica
/// holds at most ⌈N/R⌉ tenants.
pub fn assign<'t>(
    tenants: impl IntoIterator<Item = &'t str>,
    replicas: &BTreeSet<String>,
) -> BTreeMap<String, String> {
    let mut tenants: Vec<&str> = tenants.into_iter().collect();
    if replicas.is_empty() || tenants.is_empty() {
        return BTreeMap::new();
    }
    // A fixed order that does not follow the ids' spelling (org-001, org-002, …).
    tenants.sort_by_key(|t| (weight(t, ""), *t));
    tenants.dedup();
    let cap = tenants.len().div_ceil(replicas.len());
    let mut load: BTreeMap<&str, usize> = BTreeMap::new();
    let mut owners = BTreeMap::new();
    for tenant in tenants {
        let chosen = preference(tenant, replicas)
            .into_iter()
            .find(|r| load.get(r).copied().unwrap_or(0) < cap);
        if let Some(replica) = chosen {
            *load.entry(replica).or_default() += 1;
            owners.insert(tenant.to_owned(), replica.to_owned());
        }
    }
    owners
}

/// The tenants of `tenants` that `me` owns among `replicas`.
pub fn owned_by<'t>(
    me: &str,
    tenants: impl IntoIterator<Item = &'t str>,
    replicas: &BTreeSet<String>,
) -> BTreeSet<String> {
    assign(tenants, replicas)
        .into_iter()
        .filter(|(_, owner)| owner == me)
        .map(|(tenant, _)| tenant)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    fn tenants(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("org-{i:03}")).collect()
    }

    fn counts(owners: &BTreeMap<String, String>) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for r in owners.values() {
            *counts.entry(r.clone()).or_default() += 1;
        }
        counts
    }

    #[test]
    fn every_tenant_has_one_owner_and_no_replica_more_than_its_share() {
        for (n, replicas) in [(12, 3), (10, 3), (300, 3), (7, 7), (2, 5), (1000, 4)] {
            let rs: BTreeSet<String> = (0..replicas).map(|i| format!("scriptsync-{i}")).collect();
            let all = tenants(n);
            let owners = assign(all.iter().map(String::as_str), &rs);
            assert_eq!(owners.len(), n);
            let cap = n.div_ceil(replicas);
            for (r, c) in counts(&owners) {
                assert!(c <= cap, "{n} tenants on {replicas}: {r} holds {c} > {cap}");
            }
            let mine: usize = rs
                .iter()
                .map(|r| owned_by(r, all.iter().map(String::as_str), &rs).len())
                .sum();
            assert_eq!(mine, n);
        }
        let twelve = tenants(12);
        let rs = set(&["scriptsync-0", "scriptsync-1", "scriptsync-2"]);
        let spread: Vec<usize> = counts(&assign(twelve.iter().map(String::as_str), &rs))
            .into_values()
            .collect();
        assert_eq!(spread, [4, 4, 4]);
        assert!(assign(["x"], &BTreeSet::new()).is_empty());
    }

    #[test]
    fn a_join_or_a_leave_moves_few_tenants() {
        for n in [12, 100, 1000] {
            let all = tenants(n);
            let before = set(&["a", "b", "c"]);
            let after = set(&["a", "b", "c", "d"]);
            let old = assign(all.iter().map(String::as_str), &before);
            let new = assign(all.iter().map(String::as_str), &after);
            let moved = all.iter().filter(|t| old[*t] != new[*t]).count();
            // What must move: the newcomer's share.
            let must = n.div_ceil(4);
            assert!(moved <= 2 * must, "{n}: a join moved {moved}, must {must}");
            // A leave: what the leaver held must move; little else.
            let left = assign(all.iter().map(String::as_str), &before);
            let held_by_d = new.values().filter(|r| *r == "d").count();
            let moved = all.iter().filter(|t| new[*t] != left[*t]).count();
            assert!(
                moved <= 2 * held_by_d.max(1),
                "{n}: a leave moved {moved}, d held {held_by_d}"
            );
        }
    }

    #[test]
    fn the_weight_is_fixed_across_builds() {
        // Pinned values: a change here would split ownership during a rolling upgrade.
        assert_eq!(weight("acme", "scriptsync-0"), 0x8acb_698a_85e2_0f1d);
        assert_eq!(weight("acme", "scriptsync-1"), 0xbfc3_5226_a30f_0aeb);
        assert_ne!(weight("ab", "c"), weight("a", "bc"));
    }
}
