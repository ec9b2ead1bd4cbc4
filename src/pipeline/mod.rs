//! The pipeline, composed as in the DESIGN §2 diagram:
//! consumer → [`intake`] (decode + validate) → [`batcher`] (coalesce per script) →
//! [`flush`] (push to every target through its gate) → [`verdict`] + [`settle`] (the ack
//! tracker: ack, or DLQ-then-ack). [`order`] keeps the no-older-over-newer rule.
//! No protocol details live here: the broker and the targets are behind their own modules.

pub mod batcher;
pub mod context;
pub mod flush;
pub mod intake;
pub mod order;
pub mod settle;
pub mod tenant;
pub mod unrouted;
pub mod verdict;

pub use context::TenantContext;
pub use tenant::{LoopEnd, LoopSettings, run_tenant};
pub use unrouted::run_unrouted;
