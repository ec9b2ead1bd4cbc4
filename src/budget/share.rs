//! The global in-flight budget (`broker.max_inflight`) split into per-tenant prefetches.
//!
//! A quorum queue has no channel-wide (global) prefetch, so the budget is kept by giving each
//! consumer a share: `max_inflight / owned tenants` (at least 1), never more than the tenant's
//! own `prefetch`. RabbitMQ applies a prefetch to a consumer when it starts; a running
//! consumer keeps its own until it starts again. So when the number of owned tenants changes,
//! a consumer is started again (drained first, like a changed tenant) only when the share it
//! would get now is less than half, or more than twice, the prefetch it runs with: the
//! deliveries held stay within twice the budget at every moment, and a consumer is restarted
//! at most once per halving or doubling of the tenant count, not on every tenant added.

/// The prefetch a tenant's consumer gets while this replica owns `owned` tenants.
pub fn prefetch_for(tenant_prefetch: u16, max_inflight: u32, owned: usize) -> u16 {
    let owned = u32::try_from(owned.max(1)).unwrap_or(u32::MAX);
    let share = (max_inflight / owned).max(1);
    u16::try_from(share).map_or(tenant_prefetch, |share| share.min(tenant_prefetch))
}

/// Whether a consumer running with `running` should start again to take `now`.
pub fn should_restart(running: u16, now: u16) -> bool {
    u32::from(running) > 2 * u32::from(now) || 2 * u32::from(running) < u32::from(now)
}

/// The most deliveries the consumers of one replica hold at once, for `owned` tenants each
/// with `tenant_prefetch` (the sizing formula's "held").
pub fn held_at_most(tenant_prefetch: u16, max_inflight: u32, owned: usize) -> u64 {
    u64::from(prefetch_for(tenant_prefetch, max_inflight, owned)) * owned as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_split_evenly_and_capped_by_the_tenants_prefetch() {
        // (tenant prefetch, budget, owned) -> prefetch
        let table = [
            (500, 5_000, 1, 500),
            (500, 5_000, 10, 500),
            (500, 5_000, 20, 250),
            (500, 5_000, 1_000, 5),
            (500, 5_000, 10_000, 1),
            (100, 5_000, 20, 100),
            (500, 5_000, 0, 500),
            (u16::MAX, u32::MAX, 1, u16::MAX),
        ];
        for (tenant, budget, owned, want) in table {
            assert_eq!(
                prefetch_for(tenant, budget, owned),
                want,
                "prefetch {tenant}, budget {budget}, {owned} owned"
            );
        }
    }

    #[test]
    fn held_deliveries_stay_within_the_budget_unless_each_tenant_needs_one() {
        for owned in [1, 7, 20, 333, 1_000, 4_999] {
            assert!(held_at_most(500, 5_000, owned) <= 5_000, "{owned} owned");
        }
        assert_eq!(held_at_most(500, 5_000, 6_000), 6_000);
    }

    #[test]
    fn a_consumer_restarts_only_when_its_share_halved_or_doubled() {
        assert!(!should_restart(250, 250));
        assert!(!should_restart(250, 125));
        assert!(should_restart(250, 124));
        assert!(!should_restart(250, 500));
        assert!(should_restart(250, 501));
        // Tenants added one at a time from 1 to 1,000 restart the first one ~log2(1000) times.
        let mut running = prefetch_for(500, 5_000, 1);
        let mut restarts = 0;
        for owned in 1..=1_000 {
            let now = prefetch_for(500, 5_000, owned);
            if should_restart(running, now) {
                running = now;
                restarts += 1;
            }
            assert!(u32::from(running) <= 2 * u32::from(now).max(1));
        }
        assert!((5..=8).contains(&restarts), "{restarts} restarts");
    }
}
