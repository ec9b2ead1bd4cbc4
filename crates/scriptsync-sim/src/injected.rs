//! [`InjectedResponse`]: one scripted answer (status, `Retry-After`, body) that
//! [`super::Faults::inject`] queues for the next requests, and how long it tells the caller to
//! wait (what the simulator records as a pause).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::SimTarget;

/// One scripted response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectedResponse {
    pub status: u16,
    /// Raw `Retry-After` value: delta-seconds ("2") or an HTTP-date. Sent as is.
    #[serde(default)]
    pub retry_after: Option<String>,
    /// For a Genesys 429: the N of "Retry the request in \[N\] seconds" in the body. With a raw
    /// [`InjectedResponse::body`] it no longer shapes the body, but still tells the simulator
    /// which wait that body announces (so the pause is recorded).
    #[serde(default)]
    pub genesys_body_seconds: Option<u32>,
    /// How many consecutive requests get this response.
    #[serde(default = "one")]
    pub count: u32,
    /// A raw body, sent as `application/json` instead of the service's usual error body (any
    /// wording, even invalid JSON). `Retry-After` is still sent when set.
    #[serde(default)]
    pub body: Option<String>,
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
            body: None,
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

    /// Answers with this raw body (sent as `application/json`).
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_raw_body_announces_no_wait_unless_told() {
        let now = SystemTime::UNIX_EPOCH;
        let raw = InjectedResponse::new(429).with_body(r#"{"message":"slow down"}"#);
        assert_eq!(raw.wait(SimTarget::Genesys, now), None);
        let told = raw.clone().with_genesys_body_seconds(4);
        assert_eq!(
            told.wait(SimTarget::Genesys, now),
            Some(Duration::from_secs(4))
        );
        let parsed: InjectedResponse =
            serde_json::from_str(r#"{"status":429,"body":"{\"message\":\"slow down\"}"}"#).unwrap();
        assert_eq!(parsed, raw);
        let old: InjectedResponse = serde_json::from_str(r#"{"status":500}"#).unwrap();
        assert_eq!(old, InjectedResponse::new(500));
    }
}
