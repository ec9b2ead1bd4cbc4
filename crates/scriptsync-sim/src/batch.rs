//! ServiceNow Batch API (`POST /api/now/v1/batch`): many import sub-requests in one call.
//!
//! Each sub-request is judged on its own, like the real API: an import path gets the same
//! transform as a single import and a 201 with its base64 result body; anything else gets a
//! 4xx sub-response; a record named in the `unserviced` fault (or, a given number of times, in
//! `unserviced_calls`) is listed in `unserviced_requests` and not applied (as when the 30 s
//! transaction cap is reached); one named in `item_rate_limited` is answered 429 and not
//! applied, a given number of times. Every sub-request received is counted in `sub_requests`.

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::SimTarget;
use super::fault_state::ItemFault;
use super::respond::json_response;
use super::servicenow_api::{error, error_body};
use super::transform::Importer;
use super::world::World;

/// Runs one batch call.
pub(crate) fn run(world: &mut World, importer: &Importer, body: &[u8]) -> Response {
    let request: Value = serde_json::from_slice(body).unwrap_or_default();
    let Some(subs) = request.get("rest_requests").and_then(Value::as_array) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Invalid request body",
            "expected {\"rest_requests\":[...]}",
        );
    };
    world
        .target(importer.principal, SimTarget::Servicenow)
        .sub_requests += subs.len() as u64;
    let mut serviced = Vec::new();
    let mut unserviced = Vec::new();
    for sub in subs {
        let started = Instant::now();
        let id = as_text(sub.get("id"));
        let (status, body) = match judge(sub) {
            Err((status, message)) => (
                status,
                error_body(message, "simulated batch sub-request check"),
            ),
            Ok((table, _)) if !importer.config.has_staging_table(&table) => (
                StatusCode::BAD_REQUEST,
                error_body(&format!("Invalid table {table}"), ""),
            ),
            Ok((table, record)) => {
                let script_id = record
                    .get("u_script_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if importer.admitted.unserviced.contains(script_id) {
                    unserviced.push(json!(id));
                    continue;
                }
                let one_shot = world
                    .faults_for(importer.principal, SimTarget::Servicenow)
                    .and_then(|f| f.take_item_fault(script_id));
                match one_shot {
                    Some(ItemFault::Unserviced) => {
                        unserviced.push(json!(id));
                        continue;
                    }
                    Some(ItemFault::RateLimited) => (
                        StatusCode::TOO_MANY_REQUESTS,
                        error_body("Rate limit exceeded", "simulated sub-request rate limit"),
                    ),
                    None => (StatusCode::CREATED, importer.import(world, &table, &record)),
                }
            }
        };
        let exclude_headers = sub
            .get("exclude_response_headers")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let headers = if exclude_headers {
            json!([])
        } else {
            json!([{"name": "Content-Type", "value": "application/json;charset=UTF-8"}])
        };
        serviced.push(json!({
            "id": id,
            "status_code": status.as_u16(),
            "status_text": status.canonical_reason().unwrap_or_default(),
            "body": STANDARD.encode(body.to_string()),
            "headers": headers,
            "execution_time": started.elapsed().as_millis(),
        }));
    }
    let batch_request_id = as_text(request.get("batch_request_id"));
    json_response(
        StatusCode::OK,
        json!({"batch_request_id": batch_request_id, "serviced_requests": serviced,
               "unserviced_requests": unserviced}),
    )
}

/// A sub-request that is an import: (staging table, record); else the status to answer.
fn judge(sub: &Value) -> Result<(String, Value), (StatusCode, &'static str)> {
    let url = sub.get("url").and_then(Value::as_str).unwrap_or_default();
    let path = url.split('?').next().unwrap_or_default();
    let table = path
        .strip_prefix("/api/now/import/")
        .filter(|t| !t.is_empty() && !t.contains('/'))
        .ok_or((
            StatusCode::BAD_REQUEST,
            "Requested URI does not represent any resource",
        ))?;
    let method = sub
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !method.eq_ignore_ascii_case("POST") {
        return Err((StatusCode::METHOD_NOT_ALLOWED, "Method not Supported"));
    }
    let bad_body = (StatusCode::BAD_REQUEST, "Invalid request body");
    let encoded = sub.get("body").and_then(Value::as_str).ok_or(bad_body)?;
    let decoded = STANDARD.decode(encoded).map_err(|_| bad_body)?;
    match serde_json::from_slice(&decoded) {
        Ok(record @ Value::Object(_)) => Ok((table.to_string(), record)),
        _ => Err(bad_body),
    }
}

/// Ids may arrive as strings or numbers; the answer echoes them as strings.
fn as_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::Admitted;
    use std::collections::BTreeSet;

    fn sub(id: &str, url: &str, script: &str) -> Value {
        let record = json!({"u_tenant": "t", "u_script_id": script, "u_version": "1"});
        json!({"id": id, "method": "POST", "url": url, "headers": [],
               "body": STANDARD.encode(record.to_string()), "exclude_response_headers": true})
    }

    #[tokio::test]
    async fn sub_requests_are_judged_one_by_one() {
        let mut world = World::default();
        let admitted = Admitted {
            record_errors: BTreeSet::from(["bad".to_string()]),
            unserviced: BTreeSet::from(["later".to_string()]),
            ..Admitted::default()
        };
        let request = json!({"batch_request_id": 7, "rest_requests": [
            sub("a", "/api/now/import/u_stage", "s1"),
            sub("b", "/api/now/import/u_stage", "bad"),
            sub("c", "/api/now/import/u_stage", "later"),
            sub("d", "/api/now/table/incident", "s2"),
        ]});
        let importer = Importer {
            skip_older: true,
            principal: "p",
            admitted: &admitted,
            base_url: "http://x",
            config: &crate::SimConfig::default(),
        };
        let response = run(&mut world, &importer, request.to_string().as_bytes());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(answer["batch_request_id"], "7");
        assert_eq!(answer["unserviced_requests"], json!(["c"]));
        let served = answer["serviced_requests"].as_array().unwrap();
        let statuses: Vec<_> = served
            .iter()
            .map(|s| s["status_code"].as_u64().unwrap())
            .collect();
        assert_eq!(statuses, [201, 201, 400]);
        let result = |i: usize| -> Value {
            let body = STANDARD
                .decode(served[i]["body"].as_str().unwrap())
                .unwrap();
            serde_json::from_slice(&body).unwrap()
        };
        assert_eq!(result(0)["result"][0]["status"], "inserted");
        assert_eq!(result(1)["result"][0]["status"], "error");
        assert_eq!(world.tenants["t"].servicenow.held.len(), 1);
    }

    #[tokio::test]
    async fn one_shot_item_faults_hold_back_only_their_record() {
        use crate::Faults;
        use std::collections::BTreeMap;
        let mut world = World::default();
        let faults = Faults {
            item_rate_limited: BTreeMap::from([("s1".to_string(), 1)]),
            unserviced_calls: BTreeMap::from([("s2".to_string(), 1)]),
            ..Faults::default()
        };
        world.set_faults(Some("p"), SimTarget::Servicenow, faults);
        let admitted = Admitted::default();
        let importer = Importer {
            skip_older: true,
            principal: "p",
            admitted: &admitted,
            base_url: "http://x",
            config: &crate::SimConfig::default(),
        };
        let call = |world: &mut World, scripts: &[&str]| {
            let subs: Vec<Value> = scripts
                .iter()
                .map(|s| sub(s, "/api/now/import/u_stage", s))
                .collect();
            let request = json!({"batch_request_id": "b", "rest_requests": subs});
            run(world, &importer, request.to_string().as_bytes())
        };
        let answer = |response: Response| async move {
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        };
        let first = answer(call(&mut world, &["s0", "s1", "s2"])).await;
        assert_eq!(first["unserviced_requests"], json!(["s2"]));
        let statuses: Vec<_> = first["serviced_requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["id"].clone(), s["status_code"].as_u64().unwrap()))
            .collect();
        assert_eq!(statuses, [(json!("s0"), 201), (json!("s1"), 429)]);
        assert_eq!(world.tenants["t"].servicenow.held.len(), 1);
        let second = answer(call(&mut world, &["s1", "s2"])).await;
        assert_eq!(second["unserviced_requests"], json!([]));
        assert_eq!(world.tenants["t"].servicenow.held.len(), 3);
        assert_eq!(world.tenants["p"].servicenow.sub_requests, 5);
    }
}
