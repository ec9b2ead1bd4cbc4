//! What a target gets back from one logical request ([`Reply`]), and the short error texts
//! that go into `PushFailure.error` and the DLQ `x-scriptsync-error` header: at most 1 KiB,
//! one line, built from the status and the server's own code and message, never from
//! request headers (so never a token or a secret).

use reqwest::header::HeaderMap;

/// The header Genesys returns on every response (equals `contextId` in error bodies).
pub const CORRELATION_HEADER: &str = "inin-correlation-id";
/// The header ServiceNow returns on every REST response: the instance's transaction id,
/// which its logs (`syslog_transaction`) are searched by.
pub const TRANSACTION_HEADER: &str = "x-transaction-id";
/// Longest request id kept (a real one is a UUID or 12 hex digits).
const MAX_REQUEST_ID: usize = 128;
/// Longest error text kept (DESIGN §7: ≤ 1 KiB).
pub const MAX_ERROR_BYTES: usize = 1024;
/// Longest slice of a non-JSON body quoted in an error text.
const MAX_BODY_QUOTE: usize = 200;

/// The final response of one logical request (after retries).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Attempts spent on this request (a token renewal after a 401 is not one).
    pub attempts: u32,
    /// The target's id of this response ([`correlation_id`]), if any.
    pub correlation_id: Option<String>,
}

impl Reply {
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// The target's id of a response, for its support team: Genesys `ININ-Correlation-Id`, or
/// ServiceNow `X-Transaction-ID`. Control characters are dropped and the length capped, since
/// it travels into logs and a DLQ header.
pub fn correlation_id(headers: &HeaderMap) -> Option<String> {
    [CORRELATION_HEADER, TRANSACTION_HEADER]
        .into_iter()
        .find_map(|name| headers.get(name).and_then(|v| v.to_str().ok()))
        .map(|v| {
            v.trim()
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
        })
        .filter(|v| !v.is_empty())
        .map(|v| truncate(&v, MAX_REQUEST_ID))
}

/// `"{what}: {status} {code}: {message}"` from a Genesys (`code`, `message`) or ServiceNow
/// (`error.message`, `error.detail`) error body, or a quote of a non-JSON body.
pub fn describe(what: &str, status: u16, body: &[u8]) -> String {
    let detail = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| server_message(&v))
        .unwrap_or_else(|| quote(body));
    let text = if detail.is_empty() {
        format!("{what}: {status}")
    } else {
        format!("{what}: {status} {detail}")
    };
    truncate(&text, MAX_ERROR_BYTES)
}

/// The code and message of an error body, if it has them.
pub fn server_message(v: &serde_json::Value) -> Option<String> {
    let s = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
    let code = s(v.get("code"));
    let message = s(v.get("message"))
        .or_else(|| s(v.get("error_message")))
        .or_else(|| s(v.pointer("/error/message")))
        .or_else(|| s(v.get("error_description")))
        .or_else(|| s(v.get("error")));
    let detail = s(v.pointer("/error/detail")).filter(|d| !d.is_empty());
    let text = match (code, message, detail) {
        (Some(c), Some(m), _) => format!("{c}: {m}"),
        (None, Some(m), Some(d)) => format!("{m}: {d}"),
        (None, Some(m), None) => m,
        (Some(c), None, _) => c,
        (None, None, _) => return None,
    };
    Some(one_line(&text))
}

fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    one_line(&truncate(text.trim(), MAX_BODY_QUOTE))
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate(s: &str, max: usize) -> String {
    crate::text::prefix_within(s, max).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesys_error_body() {
        let body =
            br#"{"message":"Bad schema","code":"flows.datatables.schema.exception","status":400}"#;
        assert_eq!(
            describe("PUT row", 400, body),
            "PUT row: 400 flows.datatables.schema.exception: Bad schema"
        );
    }

    #[test]
    fn servicenow_error_body() {
        let body =
            br#"{"error":{"message":"Rate limit exceeded","detail":"rule x"},"status":"failure"}"#;
        assert_eq!(
            describe("batch", 429, body),
            "batch: 429 Rate limit exceeded: rule x"
        );
    }

    #[test]
    fn request_ids_of_either_target() {
        use reqwest::header::HeaderValue;
        let mut genesys = HeaderMap::new();
        genesys.insert(CORRELATION_HEADER, HeaderValue::from_static("cid-1"));
        assert_eq!(correlation_id(&genesys).as_deref(), Some("cid-1"));
        let mut servicenow = HeaderMap::new();
        servicenow.insert(TRANSACTION_HEADER, HeaderValue::from_static("e3003cb2db8c"));
        assert_eq!(correlation_id(&servicenow).as_deref(), Some("e3003cb2db8c"));
        let mut hostile = HeaderMap::new();
        let long = "x".repeat(10_000);
        hostile.insert(TRANSACTION_HEADER, HeaderValue::from_str(&long).unwrap());
        assert!(correlation_id(&hostile).is_some_and(|id| id.len() <= MAX_REQUEST_ID));
        hostile.insert(TRANSACTION_HEADER, HeaderValue::from_static("  \t "));
        assert_eq!(correlation_id(&hostile), None);
        assert_eq!(correlation_id(&HeaderMap::new()), None);
    }

    #[test]
    fn plain_and_empty_bodies() {
        assert_eq!(
            describe("PUT row", 502, b"Bad\ngateway"),
            "PUT row: 502 Bad gateway"
        );
        assert_eq!(describe("PUT row", 500, b""), "PUT row: 500");
    }

    #[test]
    fn long_texts_are_cut_to_one_kib() {
        let body = format!(r#"{{"message":"{}"}}"#, "é".repeat(2000));
        let text = describe("PUT row", 400, body.as_bytes());
        assert!(text.len() <= MAX_ERROR_BYTES);
        assert!(text.starts_with("PUT row: 400 éé"));
    }
}
