//! Injectable faults: what tests and integrators set to make the simulator misbehave.
//!
//! [`Faults`] is the settable description (also the JSON body of `POST /_sim/faults`); its
//! live copy per (principal or default, target) is [`super::fault_state::FaultState`], which
//! counts down the one-shot parts and times the outages ([`Outage`]: every API or login request
//! fails for a while after the faults are set). Scripted answers are
//! [`super::injected::InjectedResponse`]s. Every field has a default, so older JSON still
//! parses.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use super::injected::InjectedResponse;

/// Faults for one (principal, target). `Default` is no fault at all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added before answering each admitted API request (not to refusals such as 429s).
    #[serde(with = "crate::duration_text")]
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
    /// Genesys only: the share (0.0–1.0) of this principal's quota that another integration of
    /// the same org uses. In each quota window it has sent `floor(share × limit × elapsed
    /// fraction of the window)` requests, spread evenly; a request of this principal is
    /// admitted only while its own admitted count plus that is below the limit, else 429 like
    /// an over-quota refusal. Counted in `other_requests`. Outside 0.0–1.0 it is refused by
    /// deserialization (`POST /_sim/faults` answers 400); set through the Rust API it is
    /// clamped into range (NaN counts as 0.0).
    #[serde(deserialize_with = "share")]
    pub other_integration_share: f64,
    /// Genesys only: `GET /api/v2/organizations/limits/namespaces/…` is answered 403
    /// `missing.permissions` (after admission, so the call still counts against the quota).
    pub limits_refused: bool,
    /// Genesys only: quota refusals (over quota, another integration's share, the daily limit)
    /// use the pre-November-2021 wording, `Rate limit exceeded the maximum [N] requests within
    /// [S] seconds`, code `too.many.requests`, and carry no `Retry-After`. Nothing was
    /// announced, so no pause is recorded: an early retry is not a violation, it just gets 429
    /// again while the quota is used up.
    pub genesys_legacy_429: bool,
    /// Genesys only: the principal's data tables count as full, as if another integration had
    /// filled them to `genesys_max_rows_per_table`: a `POST` of a new row is refused with the
    /// max-rows error, while updates of existing rows still succeed.
    pub table_full: bool,
}

impl Faults {
    /// [`Faults::other_integration_share`] clamped into 0.0–1.0 (NaN: 0.0).
    pub fn share(&self) -> f64 {
        let share = self.other_integration_share;
        if share.is_nan() {
            0.0
        } else {
            share.clamp(0.0, 1.0)
        }
    }
}

/// Deserializes [`Faults::other_integration_share`], refusing values outside 0.0–1.0.
fn share<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let share = f64::deserialize(deserializer)?;
    if (0.0..=1.0).contains(&share) {
        Ok(share)
    } else {
        Err(D::Error::custom(format!(
            "other_integration_share must be between 0.0 and 1.0, got {share}"
        )))
    }
}

/// A time-based outage: for `duration` after the faults are set, every request it covers
/// fails with `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    pub mode: OutageMode,
    #[serde(with = "crate::duration_text")]
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
    /// Answered with a page that is not the service's (HTML, as a misrouted proxy or a captive
    /// portal gives): a login gets it with 200 (no token in it), an API request with 502.
    Nonsense,
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_other_integration_share_is_checked_or_clamped() {
        let half: Faults = serde_json::from_str(r#"{"other_integration_share":0.5}"#).unwrap();
        assert_eq!(half.share(), 0.5);
        for bad in ["1.5", "-0.1"] {
            let json = format!(r#"{{"other_integration_share":{bad}}}"#);
            let error = serde_json::from_str::<Faults>(&json).unwrap_err();
            assert!(error.to_string().contains("between 0.0 and 1.0"), "{error}");
        }
        let clamp = |share| {
            Faults {
                other_integration_share: share,
                ..Faults::default()
            }
            .share()
        };
        assert_eq!((clamp(2.0), clamp(-1.0), clamp(f64::NAN)), (1.0, 0.0, 0.0));
        let old: Faults = serde_json::from_str(r#"{"latency":"1ms"}"#).unwrap();
        assert!(!old.limits_refused && !old.genesys_legacy_429 && old.share() == 0.0);
    }
}
