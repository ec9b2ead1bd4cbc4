//! The retry schedule: *when* to try again, from `RetrySettings` (DESIGN §6).
//!
//! Exponential backoff (`initial`, `factor`, `max_delay`) from backon's
//! [`ExponentialBuilder`], at most `max_attempts` attempts, and a time [`Budget`]
//! (`max_elapsed`). A failure may carry a server hint (a clamped and jittered `Retry-After`),
//! which replaces the backoff step through backon's `adjust`. A wait that would cross the
//! budget ends the retries at once: we never sleep only to fail afterwards.
//!
//! backon's own `with_jitter()` gives `d..2d`; we want *full* jitter (`0..d`), so the builder
//! is jitter-free and [`next_delay`] applies it. backon calls `adjust` with `None` after the
//! last attempt: that `None` is passed through, and its iterator advances even when a hint
//! overrides the step (a hinted retry still counts as an attempt).

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tokio::time::Instant;

use crate::config::RetrySettings;

/// The time budget of one change: retries end when the next wait would cross `deadline`.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    deadline: Instant,
}

impl Budget {
    /// A budget of `max_elapsed` starting now.
    pub fn starting_now(max_elapsed: Duration) -> Self {
        let now = Instant::now();
        Self {
            deadline: now
                .checked_add(max_elapsed)
                .unwrap_or(now + Duration::from_secs(86_400 * 365)),
        }
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True if waiting `wait` from now still ends inside the budget.
    pub fn admits(&self, wait: Duration) -> bool {
        Instant::now()
            .checked_add(wait)
            .is_some_and(|end| end <= self.deadline)
    }
}

/// What the retry loop needs to know about a failed attempt.
pub trait RetryHint {
    /// False for permanent failures and for failures that already spent the budget.
    fn retryable(&self) -> bool;
    /// The wait the server asked for (already clamped and jittered), if any.
    fn wait_hint(&self) -> Option<Duration>;
}

/// The backoff schedule built from the retry settings.
#[derive(Debug, Clone)]
pub struct Schedule {
    settings: RetrySettings,
}

impl Schedule {
    pub fn new(settings: &RetrySettings) -> Self {
        Self {
            settings: settings.clone(),
        }
    }

    pub fn settings(&self) -> &RetrySettings {
        &self.settings
    }

    /// A fresh budget for one change.
    pub fn budget(&self) -> Budget {
        Budget::starting_now(self.settings.max_elapsed)
    }

    /// The backon builder: `max_attempts - 1` retries after the first attempt, no backon
    /// jitter (full jitter is applied in [`next_delay`]).
    pub fn backoff(&self) -> ExponentialBuilder {
        let s = &self.settings;
        ExponentialBuilder::new()
            .with_min_delay(s.initial)
            .with_factor(s.factor.max(1.0))
            .with_max_delay(s.max_delay)
            .with_max_times(s.max_attempts.saturating_sub(1))
    }

    /// Runs `op` until it succeeds, fails for good, runs out of attempts, or the next wait
    /// would cross `budget`. `on_retry` is told the error and the wait before each retry.
    pub async fn run<T, E, F, Fut>(
        &self,
        budget: &Budget,
        op: F,
        mut on_retry: impl FnMut(&E, Duration),
    ) -> Result<T, E>
    where
        E: RetryHint,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        op.retry(self.backoff())
            .sleep(tokio::time::sleep)
            .when(|e: &E| e.retryable())
            .adjust(|e: &E, step| next_delay(e.wait_hint(), step, budget, rand::random::<f64>()))
            .notify(|e: &E, wait| on_retry(e, wait))
            .await
    }
}

/// The `adjust` decision: `None` (stop) after the last attempt or when the wait would cross
/// the budget; else the server's hint, or the backoff step with full jitter (`jitter` in
/// 0.0–1.0 scales the step).
pub fn next_delay(
    hint: Option<Duration>,
    step: Option<Duration>,
    budget: &Budget,
    jitter: f64,
) -> Option<Duration> {
    let step = step?;
    let wait = hint.unwrap_or_else(|| step.mul_f64(jitter.clamp(0.0, 1.0)));
    budget.admits(wait).then_some(wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug)]
    struct Failure {
        retryable: bool,
        hint: Option<Duration>,
    }

    impl RetryHint for Failure {
        fn retryable(&self) -> bool {
            self.retryable
        }
        fn wait_hint(&self) -> Option<Duration> {
            self.hint
        }
    }

    fn settings(max_attempts: usize, max_elapsed: u64) -> RetrySettings {
        RetrySettings {
            max_attempts,
            max_elapsed: Duration::from_secs(max_elapsed),
            ..RetrySettings::default()
        }
    }

    async fn count_attempts(
        s: &RetrySettings,
        hint: Option<Duration>,
        retryable: bool,
    ) -> (u32, Duration) {
        let schedule = Schedule::new(s);
        let budget = schedule.budget();
        let attempts = AtomicU32::new(0);
        let start = Instant::now();
        let result: Result<(), Failure> = schedule
            .run(
                &budget,
                || async {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    Err(Failure { retryable, hint })
                },
                |_, _| {},
            )
            .await;
        assert!(result.is_err());
        assert!(Instant::now() <= budget.deadline(), "slept past the budget");
        (attempts.load(Ordering::SeqCst), start.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_capped_by_max_attempts() {
        let (attempts, _) = count_attempts(&settings(10, 300), None, true).await;
        assert_eq!(attempts, 10);
        let (attempts, _) = count_attempts(&settings(1, 300), None, true).await;
        assert_eq!(attempts, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_is_not_retried() {
        let (attempts, elapsed) = count_attempts(&settings(10, 300), None, false).await;
        assert_eq!(attempts, 1);
        assert_eq!(elapsed, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_crossing_the_budget_ends_now() {
        // Hints of 120 s in a 300 s budget: t=0, t=120, t=240; the next would end at 360.
        let (attempts, elapsed) =
            count_attempts(&settings(10, 300), Some(Duration::from_secs(120)), true).await;
        assert_eq!(attempts, 3);
        assert_eq!(elapsed, Duration::from_secs(240));
        // A first hint beyond the budget: one attempt, no sleep at all.
        let (attempts, elapsed) =
            count_attempts(&settings(10, 300), Some(Duration::from_secs(301)), true).await;
        assert_eq!(attempts, 1);
        assert_eq!(elapsed, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_never_sleeps_past_the_budget() {
        // Long backoff steps in a short budget.
        let mut s = settings(100, 5);
        s.initial = Duration::from_secs(2);
        s.max_delay = Duration::from_secs(4);
        let (attempts, elapsed) = count_attempts(&s, None, true).await;
        assert!(attempts >= 2, "{attempts}");
        assert!(elapsed <= Duration::from_secs(5), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn no_mix_of_hints_and_backoff_sleeps_past_the_budget() {
        // count_attempts asserts that the run ended inside the budget.
        for max_elapsed in [1, 2, 5, 13, 60] {
            for hint_ms in [
                None,
                Some(0),
                Some(150),
                Some(999),
                Some(4_000),
                Some(59_999),
            ] {
                let mut s = settings(50, max_elapsed);
                s.initial = Duration::from_millis(300);
                s.max_delay = Duration::from_secs(7);
                let hint = hint_ms.map(Duration::from_millis);
                let (attempts, elapsed) = count_attempts(&s, hint, true).await;
                assert!(elapsed <= Duration::from_secs(max_elapsed), "{elapsed:?}");
                // A hint of h allows a try at 0, h, 2h, … up to the budget (50 at most);
                // backoff's first step (≤ 300 ms with full jitter) always fits.
                let budget_ms = max_elapsed * 1000;
                match hint_ms {
                    Some(0) => assert_eq!(attempts, 50),
                    Some(h) => assert_eq!(u64::from(attempts), (budget_ms / h + 1).min(50)),
                    None => assert!(attempts >= 2, "{attempts}"),
                }
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn next_delay_passes_none_through_and_applies_full_jitter() {
        let budget = Budget::starting_now(Duration::from_secs(60));
        let hint = Some(Duration::from_secs(1));
        assert_eq!(next_delay(hint, None, &budget, 0.5), None);
        assert_eq!(
            next_delay(hint, Some(Duration::from_secs(9)), &budget, 0.5),
            hint
        );
        let step = Some(Duration::from_secs(8));
        assert_eq!(next_delay(None, step, &budget, 0.0), Some(Duration::ZERO));
        assert_eq!(
            next_delay(None, step, &budget, 0.25),
            Some(Duration::from_secs(2))
        );
        assert_eq!(next_delay(None, step, &budget, 1.0), step);
        assert_eq!(
            next_delay(Some(Duration::from_secs(61)), step, &budget, 1.0),
            None
        );
    }
}
