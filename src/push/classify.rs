//! Classification: whether an answer from a target is a success and, if not, what kind of
//! failure it is (DESIGN §6). *When* to retry is decided elsewhere (`schedule`, `gate`); this
//! file only maps one observed answer to one [`Class`], as one pure function with a row-by-row
//! test of the design table.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::retry_after;
use crate::change::TargetKind;

/// What kind of answer a request got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Done: hand the response to the target.
    Success,
    /// The server asked us to slow down; `wait` is what it said (raw: neither clamped nor
    /// jittered), `None` when it gave no usable hint.
    RateLimited { wait: Option<Duration> },
    /// Back off and try again.
    Transient,
    /// The credential was refused: renew the token once, then treat as transient.
    Auth,
    /// The target refused the request itself: retrying cannot help.
    Permanent,
}

/// Why a server asked for a wait (both [`Class::RateLimited`]): its quota (429; DESIGN §6
/// "each 429 cuts the rate", so the gate learns or cuts), or it is too busy for now (503 with
/// `Retry-After`, e.g. Genesys `flows.datatables.server.too.busy`): that says nothing of the
/// quota, so the gate only pauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Quota,
    Busy,
}

impl Refusal {
    /// The refusal an HTTP status of a rate-limited answer means.
    pub fn of_status(status: u16) -> Self {
        if status == 503 {
            Self::Busy
        } else {
            Self::Quota
        }
    }
}

/// How a request failed before any HTTP status came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    Timeout,
    Connect,
    /// The TLS handshake failed on the server's certificate (untrusted issuer, wrong name,
    /// expired): named apart so an operator sees it is `http.ca_file` or the server's
    /// certificate to fix, not the network.
    Tls,
    /// The request could not be built (bad URL, bad header): our fault, never retried.
    Builder,
    /// Anything else on the wire: reset connection, truncated body, protocol error.
    Other,
}

impl TransportKind {
    /// Sorts a reqwest error into a kind.
    pub fn of(err: &reqwest::Error) -> Self {
        if err.is_builder() {
            TransportKind::Builder
        } else if err.is_timeout() {
            TransportKind::Timeout
        } else if err.is_connect() && is_certificate_error(err) {
            TransportKind::Tls
        } else if err.is_connect() {
            TransportKind::Connect
        } else {
            TransportKind::Other
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Timeout => "timeout",
            TransportKind::Connect => "connection error",
            TransportKind::Tls => "TLS error: server certificate not trusted (see http.ca_file)",
            TransportKind::Builder => "invalid request",
            TransportKind::Other => "transport error",
        }
    }
}

/// True when a cause of `err` is a rejected server certificate. reqwest does not expose the
/// rustls error, so the causes' text is read (not the error's own, which holds the URL);
/// rustls says "invalid peer certificate: …".
fn is_certificate_error(err: &reqwest::Error) -> bool {
    let mut cause = std::error::Error::source(err);
    while let Some(e) = cause {
        if e.to_string().to_ascii_lowercase().contains("certificate") {
            return true;
        }
        cause = e.source();
    }
    false
}

/// One observed answer.
#[derive(Debug, Clone, Copy)]
pub enum Observed<'a> {
    Response {
        status: u16,
        headers: &'a HeaderMap,
        body: &'a [u8],
    },
    Transport(TransportKind),
}

/// Maps one answer to its class, following the DESIGN §6 table. `now` is only used to turn
/// an HTTP-date `Retry-After` into a wait.
pub fn classify(target: TargetKind, observed: Observed<'_>, now: SystemTime) -> Class {
    let (status, headers, body) = match observed {
        Observed::Transport(TransportKind::Builder) => return Class::Permanent,
        Observed::Transport(_) => return Class::Transient,
        Observed::Response {
            status,
            headers,
            body,
        } => (status, headers, body),
    };
    match status {
        200..=299 if target == TargetKind::Servicenow && !servicenow_body_ok(body) => {
            Class::Transient
        }
        200..=299 => Class::Success,
        429 => Class::RateLimited {
            wait: retry_after::server_wait(target, headers, body, now),
        },
        503 if headers.contains_key(RETRY_AFTER) => Class::RateLimited {
            wait: retry_after::server_wait(target, headers, body, now),
        },
        408 | 500 | 502 | 503 | 504 => Class::Transient,
        401 => Class::Auth,
        400..=499 => Class::Permanent,
        // Other 5xx (501, 505, …) and odd codes: the server is not well; try again later.
        _ => Class::Transient,
    }
}

/// A ServiceNow 2xx is only a success when the body is JSON without a top-level `error`
/// (a cancelled transaction answers 200 with a truncated body ending in one).
fn servicenow_body_ok(body: &[u8]) -> bool {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => map.get("error").is_none_or(|e| e.is_null()),
        Ok(_) => true,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    use TargetKind::{Genesys as G, Servicenow as S};

    fn headers(retry_after: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = retry_after {
            h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn secs(n: u64) -> Option<Duration> {
        Some(Duration::from_secs(n))
    }

    const GENESYS_429: &str = r#"{"message":"Rate limit exceeded the maximum. Retry the request in [42] seconds","code":"too.many.requests.retry.after","status":429}"#;
    /// The wording before Genesys normalized its 429s (still in error catalogues): the limit
    /// and the window, not a wait.
    const GENESYS_429_OLDER: &str = r#"{"message":"Rate limit exceeded the maximum [300] requests within [60] seconds","code":"too.many.requests","status":429}"#;
    const TRUNCATED: &str = r#"{"result":[{"status":"inserted"#;
    /// `now()` + 10 s as an HTTP-date.
    const IN_TEN_SECONDS: &str = "Tue, 14 Nov 2023 22:13:30 GMT";
    const CANCELLED: &str = r#"{"result":[],"error":{"message":"Transaction cancelled: maximum execution time exceeded"}}"#;

    #[test]
    fn the_design_table_row_by_row() {
        use Class::*;
        // (target, status, Retry-After, body, expected)
        let rows: &[(TargetKind, u16, Option<&str>, &str, Class)] = &[
            // 2xx → success (ServiceNow: parseable, no top-level error)
            (G, 200, None, "", Success),
            (G, 201, None, "{}", Success),
            (G, 204, None, "", Success),
            (S, 200, None, r#"{"result":[]}"#, Success),
            (S, 201, None, r#"{"error":null,"result":{}}"#, Success),
            (S, 200, None, TRUNCATED, Transient),
            (S, 200, None, "not json", Transient),
            (S, 200, None, CANCELLED, Transient),
            // 429 → rate-limited, with what the server said
            (G, 429, Some("2"), "", RateLimited { wait: secs(2) }),
            (G, 429, None, GENESYS_429, RateLimited { wait: secs(42) }),
            (G, 429, None, "", RateLimited { wait: None }),
            (G, 429, None, GENESYS_429_OLDER, RateLimited { wait: None }),
            (
                G,
                429,
                Some("4"),
                GENESYS_429_OLDER,
                RateLimited { wait: secs(4) },
            ),
            (S, 429, Some("7"), "", RateLimited { wait: secs(7) }),
            (S, 429, None, GENESYS_429, RateLimited { wait: None }),
            // 503 with Retry-After → rate-limited; without → transient
            (G, 503, Some("5"), "", RateLimited { wait: secs(5) }),
            (S, 503, Some("5"), "", RateLimited { wait: secs(5) }),
            (G, 503, None, "", Transient),
            // Retry-After as an HTTP-date (now + 10 s), and garbage that falls back
            (
                G,
                429,
                Some(IN_TEN_SECONDS),
                "",
                RateLimited { wait: secs(10) },
            ),
            (
                S,
                503,
                Some(IN_TEN_SECONDS),
                "",
                RateLimited { wait: secs(10) },
            ),
            (
                G,
                429,
                Some("soon"),
                GENESYS_429,
                RateLimited { wait: secs(42) },
            ),
            (S, 429, Some("soon"), "", RateLimited { wait: None }),
            (G, 503, Some("soon"), "", RateLimited { wait: None }),
            // 408, 500, 502, 504 → transient
            (G, 408, None, "", Transient),
            (S, 500, None, "", Transient),
            (G, 502, None, "", Transient),
            (S, 504, None, "", Transient),
            // 401 → auth
            (G, 401, None, "", Auth),
            (S, 401, None, "", Auth),
            // other 4xx → permanent
            (G, 400, None, "", Permanent),
            (G, 403, None, "", Permanent),
            (G, 404, None, "", Permanent),
            (G, 409, None, "", Permanent),
            (S, 422, None, "", Permanent),
        ];
        // 1_700_000_000 is Tue, 14 Nov 2023 22:13:20 GMT.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for (i, (target, status, ra, body, want)) in rows.iter().enumerate() {
            let h = headers(*ra);
            let observed = Observed::Response {
                status: *status,
                headers: &h,
                body: body.as_bytes(),
            };
            assert_eq!(
                classify(*target, observed, now),
                *want,
                "row {i}: {target} {status}"
            );
        }
    }

    #[test]
    fn transport_errors() {
        let now = SystemTime::now();
        for (kind, want) in [
            (TransportKind::Timeout, Class::Transient),
            (TransportKind::Connect, Class::Transient),
            (TransportKind::Tls, Class::Transient),
            (TransportKind::Other, Class::Transient),
            (TransportKind::Builder, Class::Permanent),
        ] {
            assert_eq!(
                classify(G, Observed::Transport(kind), now),
                want,
                "{kind:?}"
            );
            assert_eq!(
                classify(S, Observed::Transport(kind), now),
                want,
                "{kind:?}"
            );
        }
    }
}
