//! Dead letters: the envelope (DESIGN §7) written when a change cannot be delivered.

pub mod envelope;
pub mod headers;

pub use envelope::DeadLetter;
pub use headers::Reason;
