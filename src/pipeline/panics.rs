//! Task panics (every pipeline task is supervised): a panicking task is logged with its
//! tenant and task, counted (`scriptsync_task_panics_total`), and ends its tenant's loop like a
//! lost connection, so the worker reconnects: the broker requeues every unacked delivery and
//! the loops start again. Each panic is recorded in the worker's
//! [`PanicLog`](crate::status::PanicLog), which `/readyz` reads.
