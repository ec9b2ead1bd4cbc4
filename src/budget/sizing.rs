//! The sizing formula of the operations guide: a replica's peak RSS from the tenants it owns
//! and the deliveries it holds (at most `broker.max_inflight`, see [`super::share`]).
//!
//! ```text
//! peak RSS ≈ BASE + PER_TENANT × owned tenants + PER_HELD × held deliveries
//! held     = min(owned × prefetch, max_inflight)   (up to twice that just after the owned
//!                                                   set grew, until the shares follow)
//! ```
//!
//! The constants are fitted to bench rows that do not include the one the formula is checked
//! against: BASE and PER_TENANT to bench J's idle RSS at 10 and 100 tenants, PER_HELD to bench
//! G's worst peak (20 tenants, 5,000 held, 1,000,000 queued). Bench J at 1,000 tenants prints
//! its measured peak beside this prediction (the target: within 25 %, so the chart's limit of 1.25 × the formula holds). Release build,
//! small changes (a few hundred bytes); add the body size per held delivery for larger ones.
//!
//! The fit (2026-12-04, jemalloc with the options of `.cargo/config.toml`): J idle 16.8 MiB at
//! 10 tenants and 21.6 MiB at 100 give 16.3 MiB + 54.6 KiB per tenant; G's 62.3 MiB at 20
//! tenants and 5,000 held gives 9.2 KiB per held delivery. J 1,000 measured peaks of 84.0
//! and 80.9 MiB in two runs against 96.1 MiB predicted (-13 %, -16 %).

/// The idle worker: runtime, HTTP client, broker connection and its buffers, metrics.
pub const BASE_MIB: f64 = 16.0;
/// One owned tenant: its channel, consumer, lanes, gates, token caches and metric series.
pub const PER_TENANT_KIB: f64 = 55.0;
/// One delivery held unacked: lapin's copy, the ack tracker's entry, the parsed change, the
/// lanes' slots, and the requests they make (amortised over the deliveries held).
pub const PER_HELD_KIB: f64 = 9.0;

/// The peak RSS (MiB) the formula predicts for `owned` tenants holding `held` deliveries.
pub fn predicted_rss_mib(owned: usize, held: u64) -> f64 {
    BASE_MIB + (PER_TENANT_KIB * owned as f64 + PER_HELD_KIB * held as f64) / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::held_at_most;

    #[test]
    fn the_prediction_grows_with_tenants_and_held_deliveries_only() {
        let idle = predicted_rss_mib(0, 0);
        assert_eq!(idle, BASE_MIB);
        assert!(predicted_rss_mib(1_000, 0) > predicted_rss_mib(100, 0));
        assert!(predicted_rss_mib(20, 5_000) > predicted_rss_mib(20, 500));
        // With the default budget, the held part stops growing with the tenant count.
        let held = |owned| held_at_most(500, 5_000, owned);
        assert_eq!(held(20), held(1_000));
    }
}
