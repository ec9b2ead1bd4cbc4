//! [`FaultState`]: the live copy of a [`Faults`] setting per (principal or default, target).
//! It counts down the one-shot parts (injected responses, truncated bodies, dropped
//! connections, per-record batch faults) and times the outages from when the faults were set.

use std::collections::{BTreeMap, VecDeque};

use tokio::time::Instant;

use super::faults::{Faults, Outage, OutageMode};
use super::injected::InjectedResponse;

/// An outage in force: its mode and when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ActiveOutage {
    pub(crate) mode: OutageMode,
    pub(crate) until: Instant,
}

/// The live copy of a [`Faults`] setting.
#[derive(Debug, Clone)]
pub(crate) struct FaultState {
    pub(crate) faults: Faults,
    queue: VecDeque<InjectedResponse>,
    truncated_left: u32,
    drops_left: u32,
    unserviced_left: BTreeMap<String, u32>,
    item_429_left: BTreeMap<String, u32>,
    /// When the faults were set: outages run from here.
    set_at: Instant,
}

/// What a one-shot per-record fault does to one batch sub-request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemFault {
    Unserviced,
    RateLimited,
}

impl FaultState {
    pub(crate) fn new(faults: Faults) -> Self {
        Self::new_at(faults, Instant::now())
    }

    /// Set at `now` (outages run from `now`).
    pub(crate) fn new_at(faults: Faults, now: Instant) -> Self {
        let queue = faults
            .inject
            .iter()
            .filter(|r| r.count > 0)
            .cloned()
            .collect();
        Self {
            truncated_left: faults.truncated_200,
            drops_left: faults.drop_connections,
            unserviced_left: faults.unserviced_calls.clone(),
            item_429_left: faults.item_rate_limited.clone(),
            queue,
            faults,
            set_at: now,
        }
    }

    /// The API outage in force at `now`, if any.
    pub(crate) fn api_outage(&self, now: Instant) -> Option<ActiveOutage> {
        self.active(self.faults.outage, now)
    }

    /// The login outage in force at `now`, if any.
    pub(crate) fn login_outage(&self, now: Instant) -> Option<ActiveOutage> {
        self.active(self.faults.login_outage, now)
    }

    fn active(&self, outage: Option<Outage>, now: Instant) -> Option<ActiveOutage> {
        let outage = outage?;
        let until = self.set_at + outage.duration;
        (now < until).then_some(ActiveOutage {
            mode: outage.mode,
            until,
        })
    }

    /// The next scripted response, if any is left.
    pub(crate) fn next_injected(&mut self) -> Option<InjectedResponse> {
        let front = self.queue.front_mut()?;
        front.count -= 1;
        let response = InjectedResponse {
            count: 1,
            ..front.clone()
        };
        if front.count == 0 {
            self.queue.pop_front();
        }
        Some(response)
    }

    /// Whether this call gets a truncated 200 (and uses one up).
    pub(crate) fn take_truncated(&mut self) -> bool {
        take_one(&mut self.truncated_left)
    }

    /// Whether this call gets its connection dropped (and uses one up).
    pub(crate) fn take_drop(&mut self) -> bool {
        take_one(&mut self.drops_left)
    }

    /// The one-shot fault for this record in this batch call, if any is left (and uses it up).
    pub(crate) fn take_item_fault(&mut self, script_id: &str) -> Option<ItemFault> {
        if self
            .unserviced_left
            .get_mut(script_id)
            .is_some_and(take_one)
        {
            return Some(ItemFault::Unserviced);
        }
        if self.item_429_left.get_mut(script_id).is_some_and(take_one) {
            return Some(ItemFault::RateLimited);
        }
        None
    }
}

fn take_one(left: &mut u32) -> bool {
    let take = *left > 0;
    *left = left.saturating_sub(1);
    take
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn injected_responses_come_in_order_each_count_times() {
        let mut state = FaultState::new(Faults {
            inject: vec![
                InjectedResponse::new(503).times(2),
                InjectedResponse::new(429).times(0),
                InjectedResponse::new(500),
            ],
            ..Faults::default()
        });
        let statuses: Vec<u16> = std::iter::from_fn(|| state.next_injected())
            .map(|r| r.status)
            .collect();
        assert_eq!(statuses, [503, 503, 500]);
    }

    #[test]
    fn one_shot_faults_count_down() {
        let mut state = FaultState::new(Faults {
            truncated_200: 1,
            drop_connections: 2,
            ..Faults::default()
        });
        assert!(state.take_truncated());
        assert!(!state.take_truncated());
        assert!(state.take_drop() && state.take_drop() && !state.take_drop());
    }

    #[test]
    fn item_faults_count_down_per_record() {
        let mut state = FaultState::new(Faults {
            unserviced_calls: BTreeMap::from([("a".to_string(), 1)]),
            item_rate_limited: BTreeMap::from([("b".to_string(), 2)]),
            ..Faults::default()
        });
        assert_eq!(state.take_item_fault("a"), Some(ItemFault::Unserviced));
        assert_eq!(state.take_item_fault("a"), None);
        assert_eq!(state.take_item_fault("b"), Some(ItemFault::RateLimited));
        assert_eq!(state.take_item_fault("b"), Some(ItemFault::RateLimited));
        assert_eq!(state.take_item_fault("b"), None);
        assert_eq!(state.take_item_fault("c"), None);
    }

    #[test]
    fn outages_last_their_duration_from_when_the_faults_were_set() {
        let set = Instant::now();
        let secs = Duration::from_secs;
        let state = FaultState::new_at(
            Faults {
                outage: Some(Outage::new(OutageMode::Unavailable, secs(30))),
                login_outage: Some(Outage::new(OutageMode::Hang, secs(5))),
                ..Faults::default()
            },
            set,
        );
        let api = state.api_outage(set + secs(29)).expect("in force");
        assert_eq!(
            (api.mode, api.until),
            (OutageMode::Unavailable, set + secs(30))
        );
        assert_eq!(
            state.api_outage(set + secs(30)),
            None,
            "over at the deadline"
        );
        let login = state.login_outage(set).expect("in force");
        assert_eq!((login.mode, login.until), (OutageMode::Hang, set + secs(5)));
        assert_eq!(state.login_outage(set + secs(5)), None);
        let none = FaultState::new_at(Faults::default(), set);
        assert_eq!((none.api_outage(set), none.login_outage(set)), (None, None));
    }
}
