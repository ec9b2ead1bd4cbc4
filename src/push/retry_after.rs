//! `Retry-After`: how long a server asked us to wait, and how long we actually wait.
//!
//! [`server_wait`] reads the header in both forms (delta-seconds and HTTP-date); without it,
//! a Genesys 429 says the seconds in its body message (`… Retry the request in [42] seconds`)
//! and a ServiceNow 429 may give `X-RateLimit-Reset` (UNIX seconds). [`effective_wait`] clamps
//! to `retry.max_retry_after` and adds 0–10 % positive jitter so that paused callers do not
//! come back in lock-step. Garbage never panics: negative values and past dates mean "no
//! wait", unparseable ones mean "no hint" (the caller backs off instead), huge ones clamp.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::change::TargetKind;

/// Largest share of the wait added as jitter (DESIGN §6: 0–10 %).
pub const MAX_JITTER_FRACTION: f64 = 0.10;

/// ServiceNow's header giving the end of the current rate-limit window (UNIX seconds).
const X_RATELIMIT_RESET: &str = "x-ratelimit-reset";

/// What the server asked for, raw (not clamped, no jitter); `None` without a usable hint.
pub fn server_wait(
    target: TargetKind,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Option<Duration> {
    if let Some(wait) = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now))
    {
        return Some(wait);
    }
    match target {
        TargetKind::Genesys => genesys_body_seconds(body),
        TargetKind::Servicenow => ratelimit_reset(headers, now),
    }
}

/// How long until ServiceNow's rate-limit window ends (`X-RateLimit-Reset`, UNIX seconds):
/// zero for a reset in the past, `None` without a number.
pub fn ratelimit_reset(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    headers
        .get(X_RATELIMIT_RESET)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|reset| {
            let reset = UNIX_EPOCH + Duration::from_secs(reset.min(u32::MAX.into()));
            reset.duration_since(now).unwrap_or(Duration::ZERO)
        })
}

/// Parses one `Retry-After` value: delta-seconds (`120`) or an HTTP-date. A negative number
/// or a date in the past gives zero; a number too large for a `Duration` gives
/// `Duration::MAX` (clamped later); anything else gives `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value.strip_prefix('+').unwrap_or(value)),
    };
    if is_decimal(digits) {
        if negative {
            return Some(Duration::ZERO);
        }
        return Some(match digits.parse::<f64>() {
            Ok(secs) => Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX),
            Err(_) => Duration::MAX,
        });
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `123` or `1.5`: ASCII digits with at most one dot, at least one digit.
fn is_decimal(s: &str) -> bool {
    let mut dots = 0;
    let mut digits = 0;
    for b in s.bytes() {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            _ => return false,
        }
    }
    digits > 0 && dots <= 1
}

/// The seconds in a Genesys 429 message, in the wording Genesys uses since it normalized its
/// 429s (Nov 2021): `"… Retry the request in [42] seconds"`. Only that sentence is a wait: the
/// older wording still found in error catalogues, `"Rate limit exceeded the maximum [300]
/// requests within [60] seconds"`, holds the limit and the window, not a wait, and any other
/// wording is no hint (the caller backs off, or waits for the window's end if it knows it).
pub fn genesys_body_seconds(body: &[u8]) -> Option<Duration> {
    const WAIT: &str = "retry the request in [";
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let lower = message.to_ascii_lowercase();
    let start = lower.find(WAIT)? + WAIT.len();
    let rest = &lower[start..];
    let close = rest.find(']')?;
    let inside = rest[..close].trim();
    let tail = rest[close + 1..].trim_start();
    if inside.is_empty()
        || !inside.bytes().all(|b| b.is_ascii_digit())
        || !tail.starts_with("second")
    {
        return None;
    }
    Some(Duration::from_secs(
        inside.parse::<u64>().unwrap_or(u64::MAX),
    ))
}

/// The wait we honour: `wait` clamped to `max`, plus `jitter` (0.0–1.0) × 10 % of it.
pub fn clamp_and_jitter(wait: Duration, max: Duration, jitter: f64) -> Duration {
    let clamped = wait.min(max);
    let fraction = jitter.clamp(0.0, 1.0) * MAX_JITTER_FRACTION;
    clamped.saturating_add(clamped.mul_f64(fraction))
}

/// [`clamp_and_jitter`] with a random jitter.
pub fn effective_wait(wait: Duration, max: Duration) -> Duration {
    clamp_and_jitter(wait, max, rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn delta_seconds() {
        assert_eq!(parse_retry_after("2", now()), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after(" 120 ", now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("0", now()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now()),
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn http_date() {
        let later = httpdate::fmt_http_date(now() + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now()),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn garbage_never_panics() {
        let past = httpdate::fmt_http_date(now() - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now()), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-5", now()), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("", now()), None);
        assert_eq!(parse_retry_after("1.2.3", now()), None);
        assert_eq!(parse_retry_after("inf", now()), None);
        assert_eq!(parse_retry_after("NaN", now()), None);
        assert_eq!(parse_retry_after("--5", now()), None);
        let far_future = "Fri, 31 Dec 9999 23:59:59 GMT";
        let got = parse_retry_after(far_future, now()).unwrap();
        assert!(got > Duration::from_secs(86_400 * 365 * 7000), "{got:?}");
        let max = Duration::from_secs(300);
        assert_eq!(clamp_and_jitter(got, max, 0.0), max);
        assert_eq!(
            parse_retry_after("Mon, 32 Foo 2023 25:61:61 GMT", now()),
            None
        );
        assert_eq!(parse_retry_after("1e9", now()), None);
        assert_eq!(parse_retry_after("\u{1F600}", now()), None);
        let huge = "9".repeat(400);
        assert_eq!(parse_retry_after(&huge, now()), Some(Duration::MAX));
        assert_eq!(clamp_and_jitter(Duration::MAX, max, 0.0), max);
        assert_eq!(
            clamp_and_jitter(Duration::MAX, max, 1.0),
            Duration::from_secs(330)
        );
    }

    #[test]
    fn genesys_body_fallback() {
        let body = br#"{"message":"Rate limit exceeded the maximum. Retry the request in [42] seconds","code":"too.many.requests.retry.after","status":429}"#;
        assert_eq!(genesys_body_seconds(body), Some(Duration::from_secs(42)));
        // (body, what it asks for): only "Retry the request in [N] seconds" is a wait.
        let rows: &[(&[u8], Option<u64>)] = &[
            (b"Rate limit exceeded the maximum. Retry the request in [7] seconds", Some(7)),
            (b"retry the request in [ 3 ] seconds.", Some(3)),
            (b"Retry the request in [1] second", Some(1)),
            // The older wording: the limit and the window, never a wait of 300 s.
            (
                br#"{"message":"Rate limit exceeded the maximum [300] requests within [60] seconds","code":"too.many.requests","status":429}"#,
                None,
            ),
            (b"Rate limit exceeded the maximum [300] requests within [60] seconds", None),
            (b"Retry in [x] or [7] s", None),
            (b"Retry the request in [x] seconds", None),
            (b"Retry the request in [5] minutes", None),
            (b"Retry the request in [-5] seconds", None),
            (b"no brackets [", None),
            (b"", None),
        ];
        for (body, want) in rows {
            assert_eq!(
                genesys_body_seconds(body),
                want.map(Duration::from_secs),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let headers = HeaderMap::new();
        let got = server_wait(TargetKind::Genesys, &headers, body, now());
        assert_eq!(got, Some(Duration::from_secs(42)));
        assert_eq!(
            server_wait(TargetKind::Servicenow, &headers, body, now()),
            None
        );
    }

    #[test]
    fn header_wins_over_body_and_reset() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        let body = br#"{"message":"Retry the request in [42] seconds"}"#;
        let got = server_wait(TargetKind::Genesys, &headers, body, now());
        assert_eq!(got, Some(Duration::from_secs(3)));
        let mut sn = HeaderMap::new();
        sn.insert(X_RATELIMIT_RESET, HeaderValue::from_static("1700000010"));
        let got = server_wait(TargetKind::Servicenow, &sn, b"", now());
        assert_eq!(got, Some(Duration::from_secs(10)));
    }

    #[test]
    fn clamp_then_jitter_up_to_ten_percent() {
        let max = Duration::from_secs(300);
        let w = Duration::from_secs(10);
        assert_eq!(clamp_and_jitter(w, max, 0.0), w);
        assert_eq!(clamp_and_jitter(w, max, 1.0), Duration::from_secs(11));
        assert_eq!(clamp_and_jitter(w, max, 7.0), Duration::from_secs(11));
        assert_eq!(clamp_and_jitter(Duration::from_secs(900), max, 0.0), max);
        for _ in 0..100 {
            let got = effective_wait(w, max);
            assert!(got >= w && got <= Duration::from_secs(11), "{got:?}");
        }
    }
}
