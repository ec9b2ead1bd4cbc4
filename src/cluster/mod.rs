//! Several replicas on RabbitMQ's own features (DESIGN §8): each learns who is alive from
//! heartbeats on an exchange ([`membership`]), computes which tenants are its own by
//! rendezvous hashing with bounded loads ([`ownership`]), and consumes only those (single
//! active consumer keeps any overlap during a change from ever sending twice).

pub mod membership;
pub mod ownership;

pub use membership::Membership;
pub use ownership::{assign, owned_by};
