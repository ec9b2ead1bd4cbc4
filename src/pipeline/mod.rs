//! The pipeline, composed as in the DESIGN §2 diagram:
//! consumer → [`intake`] (decode + validate) → [`tracker`] (the ack tracker: which targets
//! each delivery still owes) → one [`lane`] per (tenant, target) (pending newest version per
//! script, late binding at the gate, retries) → back to the tracker, held by the tenant's
//! [`settler`] → [`settle`] (ack, or DLQ-then-ack), or parking (a copy to the wait queue while a gate stays closed, then ack;
//! the copy itself is `broker::park`'s).
//! [`tenant`] composes them per tenant; [`high_water`] keeps the no-older-over-newer rule;
//! [`panics`] supervises the tasks. No protocol details live here: the broker and the
//! targets are behind their own modules.

pub mod context;
pub mod high_water;
pub mod intake;
pub mod lane;
pub mod panics;
pub mod settle;
mod settler;
pub mod tenant;
pub mod tracker;
pub mod unrouted;

pub use context::TenantContext;
pub use tenant::{LoopEnd, LoopSettings, run_tenant};
pub use unrouted::run_unrouted;
