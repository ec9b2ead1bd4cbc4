//! scriptsync keeps contact-centre compliance scripts in sync across Genesys Cloud and
//! ServiceNow: it consumes script changes from RabbitMQ per tenant, coalesces and batches them,
//! and pushes them to each target at the pace the tenant's quota allows.
//!
//! "DESIGN §N" in the docs and comments is a section of [`docs/design.md`](../docs/design.md),
//! the design the worker was built to (its contract changes since are listed at its top).
//!
//! A new maintainer's map of the code (the data path, where each rule lives, how to add a
//! target) is [`docs/architecture.md`](../docs/architecture.md).
//!
//! # Layout
//! The modules in the order a change meets them, then what watches and what runs them.
//!
//! - [`config`]: the Settings tree (each secret one `Secret` from one source), file + env
//!   loading; [`config::simulator`]: the settings of tenants on the built-in simulator.
//! - [`tenants`]: the tenant catalog (main file and tenants directory), the live tenant set,
//!   following the directory while the worker runs, and `scriptsync tenants`.
//! - [`cluster`]: replica membership (heartbeats on an exchange) and tenant ownership
//!   (rendezvous hashing): which tenants this replica consumes.
//! - [`budget`]: the global in-flight budget split into per-tenant prefetches, and the sizing
//!   formula built on it (the operations guide and the chart's memory limit follow it).
//! - [`broker`]: everything lapin: connection, topology, consumers (a delivery and its
//!   `AckHandle`), confirmed publishing, the wait-queue copy.
//! - [`change`]: the `ScriptChange` message, an upsert (`script-change/v1`) or a retire
//!   (`script-retire/v1`), parsed and validated; fields behind accessors, made only by the
//!   decoder, serde (same rules) or `ChangeBuilder`.
//! - [`pipeline`]: per tenant, intake (decode, validate) → the ack tracker (what each delivery
//!   still owes) → one lane per (tenant, target) (the newest version per script, chosen when
//!   the gate admits a request, retried) → settle (ack, or dead-letter then ack) or park (a
//!   wait queue while a gate stays closed); composition only.
//! - [`push`]: what every request passes: the per-(tenant, target) gate (rate, shared pause,
//!   learned quota), classification, `Retry-After`, the one retry engine, the token cache.
//! - [`targets`]: Genesys Cloud and ServiceNow behind one trait (what a request is, how its
//!   answer is judged).
//! - [`dlq`]: the dead-letter envelope and `scriptsync dlq` (stats, list, replay, purge).
//! - [`status`]: the typed per-tenant state `/status`, the demo and tests read, and the
//!   worker's panic log (`/readyz`); [`metrics`]: the instruments of DESIGN §11;
//!   [`telemetry`]: logs and traces; [`admin`]: `/healthz`, `/readyz`, `/metrics`, `/status`.
//! - [`app`]: wiring: `Application::build(settings)` and `run_until(shutdown)`: the tenant
//!   set, one broker connection at a time (`Connected`), the tenants' loops on it.
//! - [`publish`]: the publisher API (`ChangePublisher`: properties, confirms, unroutable
//!   tenants) and `scriptsync publish` (JSON Lines or JSON from a file or stdin).
//! - [`doctor`]: `scriptsync doctor`, the preflight of each tenant's credentials, roles,
//!   tables and hosts and of the broker, against the live services (`--create-table`).
//! - [`shutdown`]: the process edge (SIGTERM, SIGINT); [`text`]: cutting texts to a byte
//!   budget.
//!
//! The library's tools keep their clap arguments with them (`publish::PublishArgs`,
//! `tenants::command::TenantsArgs`, `doctor::DoctorArgs`, `dlq::args`). The binary's own
//! modules live beside `src/main.rs`, which declares them, and are not in this library:
//! `cli` (the clap surface: the subcommand list, the arguments of `sim`, `demo`, `bench` and
//! `chaos`), and the tools that only drive the worker or judge what it did, `scriptsync demo`
//! (`src/demo`), `scriptsync bench` (`src/bench`) and `scriptsync chaos` (`src/chaos`);
//! nothing here depends on them. The Genesys + ServiceNow simulator (`scriptsync sim`,
//! DESIGN §12) is its own crate, [`scriptsync_sim`] in
//! `crates/scriptsync-sim`: it imports nothing from this one; the demo, the bench and the
//! integration tests run the worker against it, with the settings of [`config::simulator`].

pub mod admin;
pub mod app;
pub mod broker;
pub mod budget;
pub mod change;
pub mod cluster;
pub mod config;
pub mod dlq;
pub mod doctor;
pub mod metrics;
pub mod pipeline;
pub mod publish;
pub mod push;
pub mod shutdown;
pub mod status;
pub mod targets;
pub mod telemetry;
pub mod tenants;
pub mod text;
