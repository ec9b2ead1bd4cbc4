//! Dead letters: the envelope (DESIGN §7) written when a change cannot be delivered, and the
//! replay tool (`scriptsync dlq stats | list | replay | purge`) that reads it back.
//!
//! - [`headers`], [`envelope`]: what a dead letter carries and how it is published.
//! - [`record`]: a DLQ message decoded for the tool; [`filter`]: the filters of every command.
//! - [`scan`]: one bounded, lossless pass over the DLQ; the commands are built on it:
//!   [`stats`], [`list`], [`replay`], [`purge`]; [`run`] is the CLI glue for [`args`].

pub mod args;
pub mod envelope;
pub mod filter;
pub mod headers;
pub mod list;
pub mod purge;
pub mod record;
pub mod replay;
pub mod run;
pub mod scan;
pub mod stats;

pub use envelope::DeadLetter;
pub use filter::Filter;
pub use headers::Reason;
