//! ServiceNow (DESIGN §5.2): each change becomes one Import Set record in the tenant's
//! staging table; the integrator's transform map coalesces on (`u_tenant`, `u_script_id`) and
//! skips records whose `u_version` is older than what it holds (so replays need nothing more).
//!
//! Mode `batch` (default): one `POST /api/now/v1/batch` per flush (per [`MAX_BATCH_ITEMS`]),
//! one import sub-request per change, each judged on its own (see [`judge_batch`]); items
//! answered 429/5xx or left unserviced go again, alone, in the next batch call, through the
//! gate and inside the retry budget. Mode `insert_multiple`: one
//! `POST /api/now/import/{table}/insertMultiple`, a 2xx delivers every record.
//!
//! Record fields are all strings; absent optional fields (`u_disclaimer`, `u_campaign_id`)
//! are sent as empty strings, so every record has the same columns and a transform map with
//! "copy empty fields" clears a disclaimer that a newer version dropped.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::future::{BoxFuture, join_all};
use serde_json::{Value, json};
use url::Url;

use super::{FailureReason, PushFailure, PushItem, PushOutcome, Target, TargetContext};
use crate::change::{ScriptChange, TargetKind};
use crate::config::{ServiceNowMode, ServiceNowSettings};
use crate::push::{
    AuthMethod, Class, Gate, GateConfig, Observed, PushClient, TokenCache, Verdict, classify,
    endpoint, reply,
};

/// Most sub-requests (or records) per call; a larger flush is split into several calls.
pub const MAX_BATCH_ITEMS: usize = 100;

/// Pushes one tenant's changes to its ServiceNow instance.
pub struct ServiceNowTarget {
    tenant: String,
    instance_url: Url,
    staging_table: String,
    mode: ServiceNowMode,
    client: PushClient,
}

impl ServiceNowTarget {
    pub fn new(tenant: &str, settings: &ServiceNowSettings, ctx: &TargetContext) -> Self {
        let kind = TargetKind::Servicenow;
        let gate = Arc::new(Gate::new(
            tenant,
            kind,
            GateConfig::servicenow(settings),
            ctx.metrics.clone(),
        ));
        let method = AuthMethod::servicenow(settings);
        let auth = Arc::new(TokenCache::new(
            tenant,
            kind,
            method,
            ctx.http.clone(),
            &ctx.retry,
            ctx.metrics.clone(),
        ));
        Self {
            tenant: tenant.to_owned(),
            instance_url: settings.instance_url.clone(),
            staging_table: settings.staging_table.clone(),
            mode: settings.mode,
            client: PushClient::new(tenant, kind, ctx, gate, auth),
        }
    }

    /// The tenant's gate (for `/status`).
    pub fn gate(&self) -> &Arc<Gate> {
        self.client.gate()
    }

    /// One batch call (and its retries) for `items`: one outcome per item, in order.
    #[tracing::instrument(
        skip_all,
        fields(tenant = %self.tenant, items = items.len(), target = "servicenow")
    )]
    async fn push_batch(&self, items: &[PushItem]) -> Vec<PushOutcome> {
        let Some(url) = endpoint(&self.instance_url, &["api", "now", "v1", "batch"]) else {
            return vec![bad_url(); items.len()];
        };
        let sub_url = format!("/api/now/import/{}", self.staging_table);
        let ids = sub_request_ids(items);
        let bodies: Vec<String> = items
            .iter()
            .map(|i| STANDARD.encode(record(&i.change).to_string()))
            .collect();
        let state = Mutex::new(BatchState::new(items.len()));
        let build = |http: &reqwest::Client| {
            let pending = state.lock().expect("batch lock").start_call();
            let requests: Vec<Value> = pending
                .iter()
                .map(|&i| {
                    json!({
                        "id": ids[i], "method": "POST", "url": sub_url,
                        "headers": [{"name": "Content-Type", "value": "application/json"},
                                    {"name": "Accept", "value": "application/json"}],
                        "body": bodies[i], "exclude_response_headers": true,
                    })
                })
                .collect();
            let body = json!({"batch_request_id": uuid::Uuid::new_v4().to_string(), "rest_requests": requests});
            http.post(url.clone()).json(&body)
        };
        let judge = |reply: crate::push::Reply| {
            let mut st = state.lock().expect("batch lock");
            st.judge(&ids, &reply.body);
            match st.pending_count() {
                0 => Verdict::Done(()),
                n => Verdict::Retry(format!("{n} of {} items still owed", items.len())),
            }
        };
        let budget = self.client.budget();
        let result = self
            .client
            .send_judged(&budget, "batch", build, judge)
            .await;
        let st = state.into_inner().expect("batch lock");
        st.finish(result.err())
    }

    /// One insertMultiple call for `items`: all delivered or all failed.
    async fn push_insert_multiple(&self, items: &[PushItem]) -> Vec<PushOutcome> {
        let path = [
            "api",
            "now",
            "import",
            self.staging_table.as_str(),
            "insertMultiple",
        ];
        let Some(url) = endpoint(&self.instance_url, &path) else {
            return vec![bad_url(); items.len()];
        };
        let records: Vec<Value> = items.iter().map(|i| record(&i.change)).collect();
        let body = json!({ "records": records });
        let budget = self.client.budget();
        let sent = self
            .client
            .send(&budget, "insertMultiple", |http| {
                http.post(url.clone()).json(&body)
            })
            .await;
        let outcome = match sent {
            Ok(reply) => PushOutcome::Delivered {
                attempts: reply.attempts,
                correlation_id: reply.correlation_id,
            },
            Err(f) => PushOutcome::Failed(f),
        };
        vec![outcome; items.len()]
    }
}

impl Target for ServiceNowTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::Servicenow
    }

    fn push<'a>(&'a self, items: &'a [PushItem]) -> BoxFuture<'a, Vec<PushOutcome>> {
        Box::pin(async move {
            let calls = items.chunks(MAX_BATCH_ITEMS).map(|chunk| async move {
                match self.mode {
                    ServiceNowMode::Batch => self.push_batch(chunk).await,
                    ServiceNowMode::InsertMultiple => self.push_insert_multiple(chunk).await,
                }
            });
            join_all(calls).await.into_iter().flatten().collect()
        })
    }
}

/// The import record of a change: every value a string, absent optionals empty.
pub fn record(change: &ScriptChange) -> Value {
    json!({
        "u_tenant": change.tenant,
        "u_script_id": change.script_id,
        "u_version": change.version.to_string(),
        "u_version_hash": change.version_hash,
        "u_disclaimer": change.disclaimer.as_deref().unwrap_or(""),
        "u_campaign_id": change.campaign_id.as_deref().unwrap_or(""),
        "u_change_id": change.id,
        "u_published_at": change.published_at,
    })
}

/// Sub-request ids: the change id, made unique within the call if two items share one.
fn sub_request_ids(items: &[PushItem]) -> Vec<String> {
    let mut seen = HashSet::new();
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let id = item.change.id.clone();
            if seen.insert(id.clone()) {
                id
            } else {
                format!("{id}#{i}")
            }
        })
        .collect()
}

fn bad_url() -> PushOutcome {
    PushOutcome::Failed(PushFailure {
        reason: FailureReason::Permanent,
        status: None,
        error: "servicenow instance_url cannot hold a path".into(),
        attempts: 0,
        correlation_id: None,
    })
}

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
    let serviced: HashMap<&str, &Value> = parsed
        .get("serviced_requests")
        .and_then(Value::as_array)
        .map(|subs| {
            subs.iter()
                .filter_map(|s| Some((s.get("id")?.as_str()?, s)))
                .collect()
        })
        .unwrap_or_default();
    sent.iter()
        .map(|id| match serviced.get(id) {
            Some(sub) => judge_sub(sub),
            None => ItemVerdict::Retry {
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

/// Per-item progress of one batch push across its calls.
struct BatchState {
    outcomes: Vec<Option<PushOutcome>>,
    /// Batch calls each item was part of.
    tries: Vec<u32>,
    /// Why each owed item is still owed.
    last: Vec<Option<(Option<u16>, String)>>,
    in_call: Vec<usize>,
}

impl BatchState {
    fn new(n: usize) -> Self {
        Self {
            outcomes: vec![None; n],
            tries: vec![0; n],
            last: vec![None; n],
            in_call: Vec::new(),
        }
    }

    /// The items owed, which the next call carries.
    fn start_call(&mut self) -> Vec<usize> {
        self.in_call = (0..self.outcomes.len())
            .filter(|&i| self.outcomes[i].is_none())
            .collect();
        for &i in &self.in_call {
            self.tries[i] += 1;
        }
        self.in_call.clone()
    }

    fn judge(&mut self, ids: &[String], body: &[u8]) {
        let sent: Vec<&str> = self.in_call.iter().map(|&i| ids[i].as_str()).collect();
        for (&i, verdict) in self.in_call.iter().zip(judge_batch(body, &sent)) {
            self.outcomes[i] = match verdict {
                ItemVerdict::Delivered => Some(PushOutcome::Delivered {
                    attempts: self.tries[i],
                    correlation_id: None,
                }),
                ItemVerdict::Permanent { status, message } => {
                    Some(PushOutcome::Failed(PushFailure {
                        reason: FailureReason::Permanent,
                        status: Some(status),
                        error: message,
                        attempts: self.tries[i],
                        correlation_id: None,
                    }))
                }
                ItemVerdict::Retry { status, message } => {
                    self.last[i] = Some((status, message));
                    None
                }
            };
        }
    }

    fn pending_count(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_none()).count()
    }

    /// Every outcome; items still owed fail with `failure` (or their own last error).
    fn finish(self, failure: Option<PushFailure>) -> Vec<PushOutcome> {
        let failure = failure.unwrap_or_else(|| PushFailure {
            reason: FailureReason::Exhausted,
            status: None,
            error: "batch: item not answered".into(),
            attempts: 0,
            correlation_id: None,
        });
        let Self {
            outcomes,
            tries,
            last,
            ..
        } = self;
        outcomes
            .into_iter()
            .zip(tries.into_iter().zip(last))
            .map(|(outcome, (tries, last))| {
                outcome.unwrap_or_else(|| {
                    let mut f = PushFailure {
                        attempts: tries,
                        ..failure.clone()
                    };
                    if let (FailureReason::Exhausted, Some((status, message))) = (f.reason, last) {
                        f.status = status.or(f.status);
                        f.error = reply::truncate(
                            &format!("{message} (gave up after {tries} batch calls)"),
                            reply::MAX_ERROR_BYTES,
                        );
                    }
                    PushOutcome::Failed(f)
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(id: &str, status: u16, body: &str) -> Value {
        json!({"id": id, "status_code": status, "status_text": "x", "body": STANDARD.encode(body)})
    }

    fn import(status: &str, error: Option<&str>) -> String {
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
    fn a_garbage_answer_owes_everything() {
        let got = judge_batch(b"not json", &["a", "b"]);
        assert!(got.iter().all(|v| matches!(v, ItemVerdict::Retry { .. })));
    }

    #[test]
    fn batch_state_retries_only_the_owed_items() {
        let ids: Vec<String> = ["a", "b", "c"].map(String::from).into();
        let mut st = BatchState::new(3);
        assert_eq!(st.start_call(), vec![0, 1, 2]);
        let first = json!({"serviced_requests": [sub("a", 201, &import("inserted", None)),
                                                 sub("b", 201, &import("error", Some("nope")))],
                           "unserviced_requests": ["c"]});
        st.judge(&ids, first.to_string().as_bytes());
        assert_eq!(st.pending_count(), 1);
        assert_eq!(st.start_call(), vec![2]);
        let exhausted = PushFailure {
            reason: FailureReason::Exhausted,
            status: Some(200),
            error: "batch: 1 of 3 items still owed".into(),
            attempts: 2,
            correlation_id: None,
        };
        let out = st.finish(Some(exhausted));
        assert_eq!(
            out[0],
            PushOutcome::Delivered {
                attempts: 1,
                correlation_id: None
            }
        );
        let PushOutcome::Failed(b) = &out[1] else {
            panic!("{:?}", out[1])
        };
        assert_eq!(
            (b.reason, b.status, b.attempts),
            (FailureReason::Permanent, Some(201), 1)
        );
        let PushOutcome::Failed(c) = &out[2] else {
            panic!("{:?}", out[2])
        };
        assert_eq!((c.reason, c.attempts), (FailureReason::Exhausted, 2));
        assert_eq!(c.error, "batch: not serviced (gave up after 2 batch calls)");
    }

    #[test]
    fn records_are_all_strings() {
        let change: ScriptChange = serde_json::from_value(json!({
            "schema": "script-change/v1", "id": "c-1", "tenant": "t1", "script_id": "s1",
            "version": 12, "version_hash": "h", "published_at": "2026-01-01T00:00:00Z",
            "campaign_id": "camp",
        }))
        .unwrap();
        let r = record(&change);
        assert!(r.as_object().unwrap().values().all(Value::is_string), "{r}");
        assert_eq!(r["u_version"], "12");
        assert_eq!(r["u_disclaimer"], "");
        assert_eq!(r["u_campaign_id"], "camp");
        assert_eq!(r.as_object().unwrap().len(), 8);
    }
}
