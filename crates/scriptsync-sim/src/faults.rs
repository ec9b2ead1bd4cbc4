//! Injectable faults: what tests and integrators set to make the simulator misbehave.
//!
//! [`Faults`] is the settable description (also the JSON body of `POST /_sim/faults`);
//! [`FaultState`] is its live copy per (principal or default, target), which counts down the
//! one-shot parts (injected responses, truncated bodies, dropped connections) and times the
//! outages ([`Outage`]: every API or login request fails for a while after the faults are set).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::SimTarget;

/// Faults for one (principal, target). `Default` is no fault at all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added before answering each admitted API request (not to refusals such as 429s).
    #[serde(with = "humantime_serde")]
    pub latency: Duration,
    /// Fraction (0.0–1.0) of API requests answered 500.
    pub error_rate: f64,
    /// The next requests get these responses, in order, each `count` times.
    pub inject: Vec<InjectedResponse>,
    /// Script ids: ServiceNow answers their import result with status `error`
    /// (`simulated transform error`); Genesys answers their row writes 400.
    pub record_errors: BTreeSet<String>,
    /// Script ids: a ServiceNow batch lists their sub-requests in `unserviced_requests`.
    pub unserviced: BTreeSet<String>,
    /// Script id → in how many of the next batch calls carrying it that record is left in
    /// `unserviced_requests` (and not applied) before it is served.
    pub unserviced_calls: BTreeMap<String, u32>,
    /// Script id → in how many of the next batch calls carrying it that record's sub-request
    /// is answered 429 (and not applied) before it is served. Like a sub-request refused by a
    /// rate-limit rule inside a batch: it carries no headers and does not pause the caller.
    pub item_rate_limited: BTreeMap<String, u32>,
    /// The next N ServiceNow calls answer 200 with a cut-short body holding a top-level
    /// `error` (a cancelled transaction) and apply nothing.
    pub truncated_200: u32,
    /// The next N API requests get their connection closed without a response (counted under
    /// status 0 in `requests`).
    pub drop_connections: u32,
    /// Every API request fails this way until the outage's duration has passed since the
    /// faults were set (before the one-shot faults and the quota; a pause still comes first).
    pub outage: Option<Outage>,
    /// Every login (`/oauth/token`, `/oauth_token.do`) of the principal fails this way until
    /// the outage's duration has passed since the faults were set. Still counted in
    /// `token_requests`, and in `token_refusals`.
    pub login_outage: Option<Outage>,
}

/// A time-based outage: for `duration` after the faults are set, every request it covers
/// fails with `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    pub mode: OutageMode,
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
}

impl Outage {
    pub fn new(mode: OutageMode, duration: Duration) -> Self {
        Self { mode, duration }
    }
}

/// How a request fails during an [`Outage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutageMode {
    /// Answered 503 without `Retry-After` (so it pauses nobody).
    Unavailable,
    /// The connection is closed without a response (counted under status 0).
    Drop,
    /// No answer until the outage ends, then the connection is closed (counted under status
    /// 0 when it arrives): a client with a shorter request timeout sees a timeout.
    Hang,
}

/// An outage in force: its mode and when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ActiveOutage {
    pub(crate) mode: OutageMode,
    pub(crate) until: Instant,
}

/// One scripted response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectedResponse {
    pub status: u16,
    /// Raw `Retry-After` value: delta-seconds ("2") or an HTTP-date. Sent as is.
    #[serde(default)]
    pub retry_after: Option<String>,
    /// For a Genesys 429: the N of "Retry the request in \[N\] seconds" in the body.
    #[serde(default)]
    pub genesys_body_seconds: Option<u32>,
    /// How many consecutive requests get this response.
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

impl InjectedResponse {
    /// `status` once, without Retry-After.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            retry_after: None,
            genesys_body_seconds: None,
            count: 1,
        }
    }

    pub fn with_retry_after(mut self, value: impl Into<String>) -> Self {
        self.retry_after = Some(value.into());
        self
    }

    pub fn with_genesys_body_seconds(mut self, seconds: u32) -> Self {
        self.genesys_body_seconds = Some(seconds);
        self
    }

    pub fn times(mut self, count: u32) -> Self {
        self.count = count;
        self
    }

    /// How long this response tells the caller to wait, if it pauses the caller: a 429 (header
    /// first, then the Genesys body), or a 503 with `Retry-After`.
    pub(crate) fn wait(&self, target: SimTarget, now: SystemTime) -> Option<Duration> {
        let header = self
            .retry_after
            .as_deref()
            .and_then(|raw| parse_retry_after(raw, now));
        match self.status {
            429 => header.or_else(|| match target {
                SimTarget::Genesys => self
                    .genesys_body_seconds
                    .map(|s| Duration::from_secs(s.into())),
                SimTarget::Servicenow => None,
            }),
            503 => header,
            _ => None,
        }
        .filter(|wait| !wait.is_zero())
    }
}

/// `Retry-After` as delta-seconds or HTTP-date; a date in the past is a zero wait.
pub(crate) fn parse_retry_after(raw: &str, now: SystemTime) -> Option<Duration> {
    let raw = raw.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(raw).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
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
    fn waits_come_from_header_date_or_genesys_body() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let wait = |r: InjectedResponse, target| r.wait(target, now).map(|d| d.as_secs());
        let (genesys, servicenow) = (SimTarget::Genesys, SimTarget::Servicenow);
        let r429 = || InjectedResponse::new(429);
        assert_eq!(wait(r429().with_retry_after("7"), genesys), Some(7));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(wait(r429().with_retry_after(date), servicenow), Some(30));
        assert_eq!(wait(r429().with_genesys_body_seconds(9), genesys), Some(9));
        assert_eq!(wait(r429().with_genesys_body_seconds(9), servicenow), None);
        assert_eq!(wait(r429(), genesys), None, "no wait given, no pause");
        let past = httpdate::fmt_http_date(now - Duration::from_secs(5));
        assert_eq!(wait(r429().with_retry_after(past), genesys), None);
        assert_eq!(
            wait(InjectedResponse::new(503).with_retry_after("3"), genesys),
            Some(3)
        );
        assert_eq!(
            wait(InjectedResponse::new(500).with_retry_after("3"), genesys),
            None
        );
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

    #[test]
    fn outages_deserialize_with_human_durations() {
        let faults: Faults = serde_json::from_str(
            r#"{"outage":{"mode":"drop","duration":"30s"},"login_outage":{"mode":"unavailable","duration":"1m"}}"#,
        )
        .unwrap();
        assert_eq!(
            faults.outage,
            Some(Outage::new(OutageMode::Drop, Duration::from_secs(30)))
        );
        assert_eq!(
            faults.login_outage,
            Some(Outage::new(
                OutageMode::Unavailable,
                Duration::from_secs(60)
            ))
        );
        let hang: Faults =
            serde_json::from_str(r#"{"outage":{"mode":"hang","duration":"2s"}}"#).unwrap();
        assert_eq!(hang.outage.map(|o| o.mode), Some(OutageMode::Hang));
        assert!(
            serde_json::from_str::<Faults>(r#"{"outage":{"mode":"x","duration":"1s"}}"#).is_err()
        );
    }

    #[test]
    fn faults_deserialize_from_admin_json() {
        let faults: Faults = serde_json::from_str(
            r#"{"latency":"50ms","inject":[{"status":429,"retry_after":"2"}],"record_errors":["s1"]}"#,
        )
        .unwrap();
        assert_eq!(faults.latency, Duration::from_millis(50));
        assert_eq!(
            faults.inject[0],
            InjectedResponse::new(429).with_retry_after("2")
        );
        assert!(faults.record_errors.contains("s1"));
    }
}
