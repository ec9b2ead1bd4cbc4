//! The tenants: which there are ([`catalog`]: the main file's `[[tenants]]` and the tenants
//! directory, with the problems found), their long-lived parts ([`registry`]: the live set the
//! connection loop consumes for), how the set follows the directory while the worker runs
//! ([`follow`]: change notices, `SIGHUP` and a periodic re-scan), and `scriptsync tenants`
//! ([`command`]: what a config and directory give, without starting anything).

pub mod catalog;
pub mod command;
pub mod follow;
pub mod registry;

pub use catalog::{Catalog, Entry, Problem, Source};
pub use follow::Follow;
pub use registry::{Applied, PartsFactory, TenantParts, TenantSet};
