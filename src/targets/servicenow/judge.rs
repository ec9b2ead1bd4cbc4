//! Judging a ServiceNow batch answer item by item (DESIGN §5.2): each sub-request on its own.
//! A 2xx with an import result `inserted`, `updated`, `ignored` or `skipped` is delivered;
//! `error` (or a 4xx sub-status) is permanent; 429, 5xx, a bad 2xx body, or an item left
//! unserviced or missing from the answer is sent again. An id answered twice counts once if
//! both answers agree and is sent again if they do not; an id we never sent is ignored.

use std::collections::HashMap;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::change::TargetKind;
use crate::push::{Class, Observed, classify, reply};

/// How one sub-request of a batch call went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemVerdict {
    Delivered,
    /// The record itself was refused (import status `error`, or a 4xx sub-status).
    Permanent {
        status: u16,
        message: String,
    },
    /// 429, 5xx, a bad 2xx body, or not serviced: send it again.
    Retry {
        status: Option<u16>,
        message: String,
    },
}

/// Judges a batch response body for the sub-request ids sent in that call (same order).
pub fn judge_batch(body: &[u8], sent: &[&str]) -> Vec<ItemVerdict> {
    let parsed = serde_json::from_slice::<Value>(body).unwrap_or_default();
    let mut serviced: HashMap<&str, Vec<&Value>> = HashMap::new();
    for sub in parsed
        .get("serviced_requests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(id) = sub.get("id").and_then(Value::as_str) {
            serviced.entry(id).or_default().push(sub);
        }
    }
    // Ids we never sent are ignored: they cannot be matched to a change.
    sent.iter()
        .map(|id| match serviced.get(id).map(Vec::as_slice) {
            Some([sub]) => judge_sub(sub),
            Some(answers @ [first, ..]) => {
                let verdict = judge_sub(first);
                if answers.iter().all(|sub| judge_sub(sub) == verdict) {
                    verdict
                } else {
                    ItemVerdict::Retry {
                        status: None,
                        message: "batch: answered more than once, with different outcomes".into(),
                    }
                }
            }
            _ => ItemVerdict::Retry {
                status: None,
                message: "batch: not serviced".into(),
            },
        })
        .collect()
}

fn judge_sub(sub: &Value) -> ItemVerdict {
    let status = sub
        .get("status_code")
        .and_then(|s| s.as_u64().or_else(|| s.as_str()?.parse().ok()));
    let Some(status) = status.and_then(|s| u16::try_from(s).ok()) else {
        return ItemVerdict::Retry {
            status: None,
            message: "batch: sub-response without status".into(),
        };
    };
    let body = sub
        .get("body")
        .and_then(Value::as_str)
        .and_then(|b| STANDARD.decode(b).ok())
        .unwrap_or_default();
    let no_headers = reqwest::header::HeaderMap::new();
    let observed = Observed::Response {
        status,
        headers: &no_headers,
        body: &body,
    };
    match classify(TargetKind::Servicenow, observed, SystemTime::now()) {
        Class::Success => import_result(status, &body),
        Class::Permanent => ItemVerdict::Permanent {
            status,
            message: reply::describe("import", status, &body),
        },
        _ => ItemVerdict::Retry {
            status: Some(status),
            message: reply::describe("import", status, &body),
        },
    }
}

/// The Import Set result of a 2xx sub-response: `{"result": [{"status", "error_message"?…}]}`.
fn import_result(status: u16, body: &[u8]) -> ItemVerdict {
    let v = serde_json::from_slice::<Value>(body).unwrap_or_default();
    let result = v
        .get("result")
        .map(|r| r.get(0).unwrap_or(r))
        .unwrap_or(&Value::Null);
    let text = |k: &str| {
        result
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match text("status").as_str() {
        "inserted" | "updated" | "ignored" | "skipped" => ItemVerdict::Delivered,
        "error" => {
            let why = [text("error_message"), text("status_message")]
                .into_iter()
                .find(|m| !m.is_empty());
            let message = format!(
                "import: {status} error: {}",
                why.unwrap_or_else(|| "no message".into())
            );
            ItemVerdict::Permanent {
                status,
                message: reply::truncate(&message, reply::MAX_ERROR_BYTES),
            }
        }
        other => ItemVerdict::Retry {
            status: Some(status),
            message: format!("import: {status} unexpected result status {other:?}"),
        },
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn sub(id: &str, status: u16, body: &str) -> Value {
        json!({"id": id, "status_code": status, "status_text": "x", "body": STANDARD.encode(body)})
    }

    pub(crate) fn import(status: &str, error: Option<&str>) -> String {
        let mut result = json!({"status": status, "table": "u_scripts"});
        if let Some(e) = error {
            result["error_message"] = json!(e);
        }
        json!({"import_set": "ISET1", "staging_table": "u_t", "result": [result]}).to_string()
    }

    #[test]
    fn each_sub_request_is_judged_on_its_own() {
        let body = json!({
            "batch_request_id": "b",
            "serviced_requests": [
                sub("a", 201, &import("inserted", None)),
                sub("b", 201, &import("updated", None)),
                sub("c", 201, &import("skipped", None)),
                sub("d", 201, &import("error", Some("bad transform"))),
                sub("e", 429, r#"{"error":{"message":"Rate limit exceeded"},"status":"failure"}"#),
                sub("f", 503, ""),
                sub("g", 200, r#"{"result":[{"status":"inserted""#),
                sub("h", 400, r#"{"error":{"message":"Invalid","detail":"bad field"},"status":"failure"}"#),
                sub("i", 201, &import("ignored", None)),
            ],
            "unserviced_requests": ["j"],
        })
        .to_string();
        let sent = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"];
        let got = judge_batch(body.as_bytes(), &sent);
        use ItemVerdict::*;
        assert_eq!(got[0], Delivered);
        assert_eq!(got[1], Delivered);
        assert_eq!(got[2], Delivered);
        assert_eq!(
            got[3],
            Permanent {
                status: 201,
                message: "import: 201 error: bad transform".into()
            }
        );
        assert!(
            matches!(
                &got[4],
                Retry {
                    status: Some(429),
                    ..
                }
            ),
            "{:?}",
            got[4]
        );
        assert!(matches!(
            &got[5],
            Retry {
                status: Some(503),
                ..
            }
        ));
        assert!(
            matches!(
                &got[6],
                Retry {
                    status: Some(200),
                    ..
                }
            ),
            "truncated body is transient"
        );
        assert_eq!(
            got[7],
            Permanent {
                status: 400,
                message: "import: 400 Invalid: bad field".into()
            }
        );
        assert_eq!(got[8], Delivered);
        assert!(matches!(&got[9], Retry { status: None, .. }), "unserviced");
        assert!(
            matches!(&got[10], Retry { status: None, .. }),
            "missing from the answer"
        );
    }

    #[test]
    fn repeated_and_unknown_ids() {
        let ok = import("inserted", None);
        let body = json!({
            "serviced_requests": [
                sub("a", 201, &ok), sub("a", 201, &ok),
                sub("b", 201, &ok), sub("b", 201, &import("error", Some("bad"))),
                sub("never-sent", 201, &ok), {"id": 42}, "garbage",
            ],
        })
        .to_string();
        let got = judge_batch(body.as_bytes(), &["a", "b", "c"]);
        assert_eq!(got[0], ItemVerdict::Delivered, "twice, the same outcome");
        assert!(
            matches!(&got[1], ItemVerdict::Retry { message, .. } if message.contains("more than once")),
            "{:?}",
            got[1]
        );
        assert!(matches!(&got[2], ItemVerdict::Retry { .. }), "omitted");
    }

    #[test]
    fn a_garbage_answer_owes_everything() {
        let got = judge_batch(b"not json", &["a", "b"]);
        assert!(got.iter().all(|v| matches!(v, ItemVerdict::Retry { .. })));
    }
}
