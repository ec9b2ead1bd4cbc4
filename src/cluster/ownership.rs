//! Which live replica owns a tenant: rendezvous (highest random weight) hashing of the tenant
//! and replica ids. Every replica computes the same answer from the same membership, without
//! talking to the others; when a replica joins or leaves, only the tenants it wins or held
//! move (about 1/R of them), and the rest stay where they are.
//!
//! The hash is FNV-1a 64 with a final avalanche step, spelled out here rather than taken from
//! `std` (whose hasher may change between Rust releases): replicas built by different releases
//! during a rolling upgrade must agree.

use std::collections::BTreeSet;

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

/// The owner of `tenant` among `replicas` (ties, which need equal hashes, go to the smaller
/// id); `None` when there is no replica.
pub fn owner<'a>(tenant: &str, replicas: &'a BTreeSet<String>) -> Option<&'a str> {
    replicas
        .iter()
        .max_by(|a, b| {
            weight(tenant, a)
                .cmp(&weight(tenant, b))
                .then_with(|| b.cmp(a))
        })
        .map(String::as_str)
}

/// The tenants of `tenants` that `me` owns among `replicas`.
pub fn owned_by<'t>(
    me: &str,
    tenants: impl IntoIterator<Item = &'t str>,
    replicas: &BTreeSet<String>,
) -> BTreeSet<String> {
    tenants
        .into_iter()
        .filter(|t| owner(t, replicas) == Some(me))
        .map(str::to_owned)
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

    #[test]
    fn every_tenant_has_one_owner_and_the_spread_is_even() {
        let replicas = set(&["scriptsync-0", "scriptsync-1", "scriptsync-2"]);
        let all = tenants(300);
        let mut total = 0;
        for r in &replicas {
            let mine = owned_by(r, all.iter().map(String::as_str), &replicas);
            assert!((70..=130).contains(&mine.len()), "{r}: {}", mine.len());
            total += mine.len();
        }
        assert_eq!(total, all.len());
        assert_eq!(owner("x", &BTreeSet::new()), None);
    }

    #[test]
    fn a_join_moves_only_what_the_newcomer_wins() {
        let before = set(&["a", "b", "c"]);
        let after = set(&["a", "b", "c", "d"]);
        for t in tenants(200) {
            let (old, new) = (owner(&t, &before).unwrap(), owner(&t, &after).unwrap());
            assert!(old == new || new == "d", "{t}: {old} → {new}");
        }
        // And a leave moves only what the leaver held.
        for t in tenants(200) {
            let (old, new) = (owner(&t, &after).unwrap(), owner(&t, &before).unwrap());
            assert!(old == new || old == "d", "{t}: {old} → {new}");
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
