//! Quotas and pauses: the arithmetic behind every 429 the simulator answers.
//!
//! A [`FixedWindow`] counts requests in windows of a fixed length aligned to the simulator's
//! start (Genesys: a minute; ServiceNow: an hour scaled by the time factor), like the real
//! services. A [`Pause`] remembers until when a (principal, target) was told to wait; a request
//! that arrives before then is a *violation*. Both take `now` as an argument, so they are pure
//! and the unit tests below need no clock at all. What one (principal, target) is allowed,
//! combining windows, is [`super::allowance::Gate`].

use std::time::Duration;

use tokio::time::Instant;

/// Counts requests per fixed window; windows start at `origin + k * length`.
#[derive(Debug, Clone)]
pub(crate) struct FixedWindow {
    limit: u32,
    length: Duration,
    origin: Instant,
    /// Index of the window `used` belongs to.
    index: u128,
    used: u32,
}

impl FixedWindow {
    /// `length` must be non-zero ([`super::SimConfig::validate`] checks it).
    pub(crate) fn new(limit: u32, length: Duration, origin: Instant) -> Self {
        Self {
            limit,
            length,
            origin,
            index: 0,
            used: 0,
        }
    }

    pub(crate) fn limit(&self) -> u32 {
        self.limit
    }

    pub(crate) fn length(&self) -> Duration {
        self.length
    }

    /// Index of the window containing `now` (0 for the one starting at the origin).
    pub(crate) fn index_at(&self, now: Instant) -> u128 {
        now.saturating_duration_since(self.origin).as_nanos() / self.length.as_nanos().max(1)
    }

    /// The instant the window containing `now` ends (the next one starts).
    pub(crate) fn window_end(&self, now: Instant) -> Instant {
        let next = self.index_at(now) + 1;
        let nanos = self.length.as_nanos().max(1) * next;
        let offset = Duration::new(
            u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX),
            u32::try_from(nanos % 1_000_000_000).unwrap_or(0),
        );
        self.origin + offset
    }

    /// How far into its window `now` is: 0.0 at the start, approaching 1.0 at the end.
    pub(crate) fn elapsed_fraction(&self, now: Instant) -> f64 {
        let length = self.length.as_nanos().max(1);
        let into = now.saturating_duration_since(self.origin).as_nanos() % length;
        into as f64 / length as f64
    }

    /// Whether one more request fits in the window containing `now` when `others` requests
    /// that are not this counter's also used it; if not, how long until the window ends.
    /// Takes nothing (see [`FixedWindow::take`]).
    pub(crate) fn room(&mut self, now: Instant, others: u32) -> Result<(), Duration> {
        let index = self.index_at(now);
        if index != self.index {
            self.index = index;
            self.used = 0;
        }
        if self.used.saturating_add(others) < self.limit {
            Ok(())
        } else {
            Err(self.window_end(now).saturating_duration_since(now))
        }
    }

    /// Counts one request in the current window (after [`FixedWindow::room`] said yes).
    pub(crate) fn take(&mut self) {
        self.used = self.used.saturating_add(1);
    }

    /// Takes one request from the current window, or says how long until the window ends
    /// (the tests' shorthand for [`FixedWindow::room`] then [`FixedWindow::take`]).
    #[cfg(test)]
    pub(crate) fn try_acquire(&mut self, now: Instant) -> Result<(), Duration> {
        self.room(now, 0)?;
        self.take();
        Ok(())
    }
}

/// Until when a (principal, target) was told to wait.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pause {
    until: Option<Instant>,
    /// When the latest extension was announced (the 429 that set it was answered).
    announced: Option<Instant>,
}

impl Pause {
    /// True when a request arriving at `now` is a violation: inside the pause and more than
    /// `grace` after the answer that announced it (a request arriving sooner was already on
    /// its way when the client was told; it is refused all the same).
    pub(crate) fn violated_by(&self, now: Instant, grace: Duration) -> bool {
        self.remaining(now).is_some()
            && self
                .announced
                .is_none_or(|at| now.saturating_duration_since(at) >= grace)
    }

    /// Time left in the pause at `now`, if a request arriving now would be a violation.
    pub(crate) fn remaining(&self, now: Instant) -> Option<Duration> {
        self.until
            .filter(|until| *until > now)
            .map(|until| until - now)
    }

    /// `until = max(until, new_until)`: a shorter wait never shortens an announced pause.
    pub(crate) fn extend(&mut self, new_until: Instant) {
        self.until = Some(self.until.map_or(new_until, |old| old.max(new_until)));
    }

    /// [`Pause::extend`], announced at `now`.
    pub(crate) fn announce(&mut self, now: Instant, new_until: Instant) {
        self.extend(new_until);
        self.announced = Some(now);
    }
}

/// Whole seconds to announce for a wait: rounded up, at least 1 (a `Retry-After: 0` would
/// invite an immediate retry that still lands inside the pause).
pub(crate) fn ceil_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn window_allows_limit_then_refuses_until_its_end() {
        let origin = Instant::now();
        let mut w = FixedWindow::new(3, ms(60_000), origin);
        for _ in 0..3 {
            assert_eq!(w.try_acquire(origin + ms(10_000)), Ok(()));
        }
        assert_eq!(w.try_acquire(origin + ms(10_000)), Err(ms(50_000)));
        assert_eq!(w.try_acquire(origin + ms(59_999)), Err(ms(1)));
        // The next window starts exactly at origin + 60 s, with a fresh count.
        assert_eq!(w.try_acquire(origin + ms(60_000)), Ok(()));
        assert_eq!(w.window_end(origin + ms(60_000)), origin + ms(120_000));
    }

    #[test]
    fn windows_are_aligned_to_origin_not_to_first_request() {
        let origin = Instant::now();
        let mut w = FixedWindow::new(1, ms(1_000), origin);
        assert_eq!(w.try_acquire(origin + ms(900)), Ok(()));
        assert_eq!(w.try_acquire(origin + ms(950)), Err(ms(50)));
        assert_eq!(w.try_acquire(origin + ms(1_001)), Ok(()));
        // Skipping several windows still resets the count.
        assert_eq!(w.try_acquire(origin + ms(5_500)), Ok(()));
        assert_eq!(w.try_acquire(origin + ms(5_600)), Err(ms(400)));
    }

    #[test]
    fn zero_limit_refuses_everything() {
        let origin = Instant::now();
        let mut w = FixedWindow::new(0, ms(1_000), origin);
        assert_eq!(w.try_acquire(origin), Err(ms(1_000)));
    }

    #[test]
    fn room_counts_other_requests_and_fractions_track_the_window() {
        let origin = Instant::now();
        let mut w = FixedWindow::new(4, ms(1_000), origin);
        assert_eq!(w.room(origin + ms(100), 3), Ok(()));
        w.take();
        assert_eq!(
            w.room(origin + ms(100), 3),
            Err(ms(900)),
            "1 own + 3 others"
        );
        assert_eq!(w.room(origin + ms(100), 2), Ok(()));
        assert_eq!(w.room(origin + ms(1_000), 3), Ok(()), "a new window");
        assert_eq!(w.elapsed_fraction(origin + ms(2_250)), 0.25);
        assert_eq!(w.elapsed_fraction(origin), 0.0);
        assert_eq!(w.index_at(origin + ms(2_999)), 2);
        assert_eq!(w.length(), ms(1_000));
    }

    #[test]
    fn pause_extends_but_never_shortens() {
        let t0 = Instant::now();
        let mut p = Pause::default();
        assert_eq!(p.remaining(t0), None);
        p.extend(t0 + ms(5_000));
        p.extend(t0 + ms(2_000));
        assert_eq!(p.remaining(t0 + ms(1_000)), Some(ms(4_000)));
        p.extend(t0 + ms(7_000));
        assert_eq!(p.remaining(t0 + ms(6_500)), Some(ms(500)));
        assert_eq!(
            p.remaining(t0 + ms(7_000)),
            None,
            "the pause ends at its instant"
        );
    }

    #[test]
    fn announced_seconds_round_up_and_are_never_zero() {
        assert_eq!(ceil_secs(ms(0)), 1);
        assert_eq!(ceil_secs(ms(1)), 1);
        assert_eq!(ceil_secs(ms(1_000)), 1);
        assert_eq!(ceil_secs(ms(1_001)), 2);
        assert_eq!(ceil_secs(ms(42_000)), 42);
    }

    #[tokio::test(start_paused = true)]
    async fn quota_follows_tokio_time() {
        let origin = Instant::now();
        let mut w = FixedWindow::new(1, ms(60_000), origin);
        assert!(w.try_acquire(Instant::now()).is_ok());
        tokio::time::advance(ms(30_000)).await;
        assert_eq!(w.try_acquire(Instant::now()), Err(ms(30_000)));
        tokio::time::advance(ms(30_000)).await;
        assert!(w.try_acquire(Instant::now()).is_ok());
    }
}
