//! The shared pause of a gate, and its probe.
//!
//! A 429 closes the gate for every caller of the (tenant, target) until the server's wait has
//! passed. When it opens again, ONE request (the probe) goes first; the others follow only
//! once the probe came back without a new pause. So a server that is still closed (clock skew,
//! a longer ban than announced) sees one early request, not the whole concurrency at once. A
//! new gate starts in probe mode too: the first request of a tenant finds out, alone, whether
//! the tenant is being throttled. From a pause until a probe comes back clean is one
//! throttling episode: the gate cuts (or learns) its rate once per episode, not once per
//! refusal of a storm.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until, timeout_at};

use super::gate::ClosedPastDeadline;

#[derive(Debug)]
struct Probe {
    /// Only one request at a time until a probe comes back clean.
    probing: bool,
    in_flight: bool,
    /// The quota refused a request since the last clean probe: while probing, the gate is
    /// in one throttling episode (a storm of refusals, however many, until a probe comes
    /// back clean).
    throttled: bool,
}

/// Until when nobody sends, and whether the next request must go alone.
#[derive(Debug)]
pub struct SharedPause {
    until: Mutex<Option<Instant>>,
    probe: Mutex<Probe>,
    probe_done: Notify,
}

/// Held by the probe request; dropping it lets the others through (unless a pause came back).
#[derive(Debug)]
pub struct ProbeGuard(Arc<SharedPause>);

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        let paused = self.0.remaining().is_some();
        {
            let mut probe = self.0.probe.lock();
            probe.in_flight = false;
            if !paused {
                probe.probing = false;
                probe.throttled = false;
            }
        }
        self.0.probe_done.notify_waiters();
    }
}

impl SharedPause {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            until: Mutex::new(None),
            probe: Mutex::new(Probe {
                probing: true,
                in_flight: false,
                throttled: false,
            }),
            probe_done: Notify::new(),
        })
    }

    /// Closes until `until` (never shortens); returns how much pause was added.
    pub fn pause_until(&self, until: Instant) -> Duration {
        let now = Instant::now();
        let added = {
            let mut current = self.until.lock();
            let end = current.filter(|t| *t > now).unwrap_or(now);
            if until <= end {
                return Duration::ZERO;
            }
            *current = Some(until);
            until - end
        };
        self.probe.lock().probing = true;
        added
    }

    /// Notes a refusal by the quota; returns whether it belongs to an episode already open
    /// (an earlier refusal's pause, and no probe back clean since), which has acted already.
    pub fn quota_refused(&self) -> bool {
        let mut probe = self.probe.lock();
        let repeat = probe.probing && probe.throttled;
        probe.throttled = true;
        repeat
    }

    /// Time left in the pause, if closed.
    pub fn remaining(&self) -> Option<Duration> {
        let now = Instant::now();
        let until = self.until.lock();
        until.filter(|t| *t > now).map(|t| t - now)
    }

    /// Sleeps until the pause is over; fails at once if it ends after `deadline` (`None`: no
    /// deadline).
    pub async fn wait_open(&self, deadline: Option<Instant>) -> Result<(), ClosedPastDeadline> {
        while let Some(left) = self.remaining() {
            let open_at = Instant::now() + left;
            if deadline.is_some_and(|d| open_at > d) {
                return Err(ClosedPastDeadline);
            }
            sleep_until(open_at).await;
        }
        Ok(())
    }

    /// Waits while a probe is in flight.
    pub async fn wait_probe(&self, deadline: Option<Instant>) -> Result<(), ClosedPastDeadline> {
        loop {
            let notified = self.probe_done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let probe = self.probe.lock();
                if !probe.probing || !probe.in_flight {
                    return Ok(());
                }
            }
            within(deadline, notified).await?;
        }
    }

    /// The last check before a request leaves: `None` if it must not go now (closed, or a
    /// probe is out); `Some(Some(guard))` if it goes as the probe; `Some(None)` if it just goes.
    pub fn try_pass(self: &Arc<Self>) -> Option<Option<ProbeGuard>> {
        if self.remaining().is_some() {
            return None;
        }
        let mut probe = self.probe.lock();
        match (probe.probing, probe.in_flight) {
            (false, _) => Some(None),
            (true, true) => None,
            (true, false) => {
                probe.in_flight = true;
                Some(Some(ProbeGuard(self.clone())))
            }
        }
    }
}

/// `future`'s output, or [`ClosedPastDeadline`] if `deadline` (`None`: none) comes first.
pub async fn within<F: std::future::Future>(
    deadline: Option<Instant>,
    future: F,
) -> Result<F::Output, ClosedPastDeadline> {
    match deadline {
        Some(deadline) => timeout_at(deadline, future)
            .await
            .map_err(|_| ClosedPastDeadline),
        None => Ok(future.await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_probe_at_a_time_until_it_comes_back_clean() {
        let pause = SharedPause::new();
        let probe = pause.try_pass().unwrap().expect("first request probes");
        assert!(
            pause.try_pass().is_none(),
            "nobody else while the probe is out"
        );
        drop(probe);
        assert!(
            matches!(pause.try_pass(), Some(None)),
            "open after a clean probe"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_answered_with_a_pause_keeps_probe_mode() {
        let pause = SharedPause::new();
        let probe = pause.try_pass().unwrap().unwrap();
        let added = pause.pause_until(Instant::now() + Duration::from_secs(2));
        assert_eq!(added, Duration::from_secs(2));
        drop(probe);
        assert!(pause.try_pass().is_none(), "closed");
        pause
            .wait_open(Some(Instant::now() + Duration::from_secs(10)))
            .await
            .unwrap();
        assert!(
            matches!(pause.try_pass(), Some(Some(_))),
            "a new probe after the pause"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_wake_when_the_probe_returns() {
        let pause = SharedPause::new();
        let probe = pause.try_pass().unwrap().unwrap();
        let waiter = tokio::spawn({
            let pause = pause.clone();
            async move {
                pause
                    .wait_probe(Some(Instant::now() + Duration::from_secs(60)))
                    .await
            }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiter.is_finished());
        drop(probe);
        waiter.await.unwrap().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_for_a_probe_respects_the_deadline() {
        let pause = SharedPause::new();
        let _probe = pause.try_pass().unwrap().unwrap();
        let got = pause
            .wait_probe(Some(Instant::now() + Duration::from_secs(1)))
            .await;
        assert_eq!(got, Err(ClosedPastDeadline));
    }
}
