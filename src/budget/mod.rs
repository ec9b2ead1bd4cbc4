//! Memory by configuration: `broker.max_inflight` split into per-tenant prefetches
//! ([`share`]), and the sizing formula that predicts a replica's peak RSS from it
//! ([`sizing`]).

pub mod share;
pub mod sizing;

pub use share::{held_at_most, prefetch_for, should_restart};
pub use sizing::predicted_rss_mib;
