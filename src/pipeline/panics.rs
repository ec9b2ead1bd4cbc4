//! Task panics (every pipeline task is supervised): a panicking task is logged with its
//! tenant and task, counted (`scriptsync_task_panics_total`), and ends its tenant's loop like a
//! lost connection, so the worker reconnects: the broker requeues every unacked delivery and
//! the loops start again. Each panic is recorded in the worker's
//! [`PanicLog`](crate::status::PanicLog), which `/readyz` reads.

/// A test-only fault hook: [`arm_lane_panic`] makes the next request a lane of `tenant` is
/// about to send panic instead, once. Nothing is armed in production; the check is one atomic
/// load per request.
pub mod fault {
    use parking_lot::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    static ARMED: AtomicBool = AtomicBool::new(false);
    static TENANTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

    #[doc(hidden)]
    pub fn arm_lane_panic(tenant: &str) {
        TENANTS.lock().push(tenant.to_owned());
        ARMED.store(true, Ordering::SeqCst);
    }

    /// Panics (once) if a panic was armed for `tenant`.
    pub(crate) fn lane_request(tenant: &str) {
        if !ARMED.load(Ordering::Relaxed) {
            return;
        }
        let hit = {
            let mut armed = TENANTS.lock();
            let hit = armed
                .iter()
                .position(|t| t == tenant)
                .map(|i| armed.remove(i));
            ARMED.store(!armed.is_empty(), Ordering::SeqCst);
            hit
        };
        if hit.is_some() {
            panic!("fault hook: lane of tenant {tenant} panics");
        }
    }
}
