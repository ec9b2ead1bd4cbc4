//! Recent task panics of one worker: [`PanicLog::LIMIT`] or more within
//! [`PanicLog::WINDOW`] make the worker not ready (`/readyz` 503) until they age out. The
//! pipeline records them (it supervises its tasks); the admin endpoints read them.

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Recent task panics of one worker.
#[derive(Debug, Default)]
pub struct PanicLog {
    recent: Mutex<VecDeque<Instant>>,
}

impl PanicLog {
    /// Panics within [`WINDOW`](Self::WINDOW) that make the worker not ready.
    pub const LIMIT: usize = 3;
    pub const WINDOW: Duration = Duration::from_secs(300);

    /// One more panic, at `now`.
    pub fn record(&self, now: Instant) {
        let mut recent = self.recent.lock();
        recent.push_back(now);
        Self::forget_old(&mut recent, now);
    }

    /// True while [`LIMIT`](Self::LIMIT) panics or more happened within the window.
    pub fn too_many(&self, now: Instant) -> bool {
        let mut recent = self.recent.lock();
        Self::forget_old(&mut recent, now);
        recent.len() >= Self::LIMIT
    }

    fn forget_old(recent: &mut VecDeque<Instant>, now: Instant) {
        while recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= Self::WINDOW)
        {
            recent.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn three_panics_within_the_window_make_the_worker_not_ready_until_they_age_out() {
        let log = PanicLog::default();
        let t0 = Instant::now();
        log.record(t0);
        log.record(t0 + Duration::from_secs(10));
        assert!(!log.too_many(t0 + Duration::from_secs(10)));
        log.record(t0 + Duration::from_secs(20));
        assert!(log.too_many(t0 + Duration::from_secs(20)));
        assert!(log.too_many(t0 + PanicLog::WINDOW - Duration::from_secs(1)));
        // The first one ages out: two left.
        assert!(!log.too_many(t0 + PanicLog::WINDOW));
    }
}
