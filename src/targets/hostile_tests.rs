//! Hostile servers: a Genesys or ServiceNow that answers nonsense, absurd
//! `Retry-After` values, cancelled transactions, Batch API answers that do not match what was
//! sent, or headers that never finish. Each answer gets its DESIGN §6 class, nothing panics,
//! and every attempt ends. The token endpoint's hostile answers are in `push::oauth_http_tests`,
//! the 100 MB body in `push::client_tests`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as STANDARD_B64;
use parking_lot::Mutex;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::genesys::GenesysTarget;
use super::servicenow::ServiceNowTarget;
use super::*;
use crate::config::{RetrySettings, Secret, ServiceNowAuth, ServiceNowSettings, TenantSettings};
use crate::metrics::Metrics;
use crate::push::{Class, Retries, Schedule};

/// One canned answer: status, headers, body.
type Canned = (u16, Vec<(&'static str, String)>, String);

/// A server that answers the token endpoint properly and every other request with the next
/// canned answer (500 once they run out).
async fn serve(answers: Vec<Canned>) -> String {
    let queue = Arc::new(Mutex::new(VecDeque::from(answers)));
    let token = || async {
        axum::Json(json!({"access_token": "t", "token_type": "bearer", "expires_in": 3600}))
    };
    let next = move || {
        let queue = queue.clone();
        async move {
            let (status, headers, body) =
                queue
                    .lock()
                    .pop_front()
                    .unwrap_or((500, vec![], String::new()));
            let mut map = HeaderMap::new();
            for (k, v) in headers {
                map.insert(k, v.parse().unwrap());
            }
            let status = StatusCode::from_u16(status).unwrap();
            (status, map, body).into_response()
        }
    };
    let app: Router = Router::new()
        .route("/oauth/token", post(token))
        .fallback(any(next));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/")
}

/// A server that reads a request, sends a status line and one header, and then nothing.
async fn serve_unfinished_headers() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nX-Half: ").await;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            });
        }
    });
    format!("http://{addr}/")
}

fn context() -> TargetContext {
    TargetContext {
        http: reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap(),
        max_changes: 100,
        retry: RetrySettings {
            max_retry_after: Duration::from_secs(300),
            ..RetrySettings::default()
        },
        metrics: Arc::new(Metrics::new()),
    }
}

fn tenant(base: &str) -> TenantSettings {
    crate::config::simulator::sim_tenant("t1", base)
}

fn genesys(base: &str) -> GenesysTarget {
    GenesysTarget::new("t1", tenant(base).genesys.as_ref().unwrap(), &context()).unwrap()
}

fn servicenow(base: &str) -> ServiceNowTarget {
    let settings = ServiceNowSettings {
        auth: ServiceNowAuth::Basic,
        username: Some("u".into()),
        password: Some(Secret::inline(crate::config::SecretString::from("p"))),
        ..tenant(base).servicenow.unwrap()
    };
    ServiceNowTarget::new("t1", &settings, &context(), 100).unwrap()
}

fn job(script: &str, replay: bool) -> Job {
    let change = json!({
        "schema": "script-change/v1", "id": format!("c-{script}"), "tenant": "t1",
        "script_id": script, "version": 3, "version_hash": "h3",
        "published_at": "2026-01-01T00:00:00Z",
    });
    let schedule = Schedule::new(&RetrySettings::default());
    Job::new(
        Arc::new(serde_json::from_value(change).unwrap()),
        replay,
        Retries::start(&schedule),
    )
}

async fn attempt(target: &dyn Target, jobs: &mut [Job]) -> Vec<Attempted> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let permit = target.gate().acquire(deadline).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), target.attempt(permit, jobs))
        .await
        .expect("the attempt ends")
}

fn failure(a: &Attempted) -> &AttemptError {
    match a {
        Attempted::Failed(e) => e,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn json(body: serde_json::Value) -> Canned {
    (
        200,
        vec![("content-type", "application/json".into())],
        body.to_string(),
    )
}

fn text(status: u16, body: &str) -> Canned {
    (
        status,
        vec![("content-type", "text/html".into())],
        body.into(),
    )
}

#[tokio::test]
async fn genesys_a_row_that_cannot_be_read_is_transient_never_overwritten() {
    for body in [
        "<html>Service Unavailable</html>",
        r#"{"key":"s","version":"#,
    ] {
        let base = serve(vec![text(200, body)]).await;
        let target = genesys(&base);
        let mut jobs = [job("s", true)];
        let got = attempt(&target, &mut jobs).await;
        let e = failure(&got[0]);
        assert_eq!((e.class, e.status), (Class::Transient, Some(200)), "{body}");
        assert!(e.message.contains("unreadable row"), "{}", e.message);
        assert!(
            !jobs[0].steps.row_written,
            "no write after an unreadable row"
        );
    }
}

#[tokio::test]
async fn genesys_a_written_row_with_a_nonsense_body_is_delivered() {
    // The status says the row was written; the body of a write is never used.
    for body in ["<html>ok</html>", "", "{\"truncated"] {
        let base = serve(vec![text(200, body)]).await;
        let target = genesys(&base);
        let got = attempt(&target, &mut [job("s", false)]).await;
        assert!(matches!(got[0], Attempted::Delivered), "{body:?}: {got:?}");
    }
}

#[tokio::test]
async fn absurd_retry_after_values_wait_nothing_back_off_or_clamp() {
    let max = Duration::from_secs(300);
    // (Retry-After, the wait used: None = no hint, so the backoff step decides)
    let cases: [(&str, Option<(Duration, Duration)>); 7] = [
        ("-1", Some((Duration::ZERO, Duration::ZERO))),
        ("1e12", None),
        ("Infinity", None),
        (
            "Thu, 01 Jan 1970 00:00:00 GMT",
            Some((Duration::ZERO, Duration::ZERO)),
        ),
        ("Tue, 01 Jan 2999 00:00:00 GMT", Some((max, max + max / 10))),
        ("Wed, 01 Jan 2999 00:00:00 GMT", None), // a date with the wrong weekday
        ("99999999999999999999999", Some((max, max + max / 10))),
    ];
    for (value, expected) in cases {
        let base = serve(vec![(
            429,
            vec![("retry-after", value.into())],
            String::new(),
        )])
        .await;
        let target = genesys(&base);
        let got = attempt(&target, &mut [job("s", false)]).await;
        let e = failure(&got[0]);
        assert_eq!(e.status, Some(429), "{value}");
        assert!(
            matches!(e.class, Class::RateLimited { .. }),
            "{value}: {e:?}"
        );
        match expected {
            None => assert_eq!(e.wait, None, "{value}"),
            Some((low, high)) => {
                let wait = e.wait.unwrap_or_else(|| panic!("{value}: no wait"));
                assert!(low <= wait && wait <= high, "{value}: {wait:?}");
            }
        }
    }
}

#[tokio::test]
async fn servicenow_a_200_that_is_not_a_whole_answer_is_transient() {
    let cancelled = r#"{"serviced_requests":[],"unserviced_requests":[],"error":{"message":"Transaction cancelled: maximum execution time exceeded","detail":"Transaction cancelled"}}"#;
    let answers = [
        text(200, "<html>maintenance</html>"),
        text(200, r#"{"serviced_requests":[{"id":"#),
        (
            200,
            vec![("content-type", "application/json".into())],
            cancelled.into(),
        ),
    ];
    for answer in answers {
        let base = serve(vec![answer.clone()]).await;
        let target = servicenow(&base);
        let mut jobs = [job("a", false), job("b", false)];
        let got = attempt(&target, &mut jobs).await;
        assert_eq!(got.len(), 2);
        for a in &got {
            assert_eq!(failure(a).class, Class::Transient, "{:?}", answer.2);
        }
    }
}

#[tokio::test]
async fn servicenow_a_batch_answer_that_does_not_match_the_call() {
    // Sub-request ids are the change ids.
    let mut jobs = [job("a", false), job("b", false), job("c", false)];
    let ids = ["c-a", "c-b", "c-c"];
    let ok = STANDARD_B64.encode(r#"{"result":[{"status":"inserted"}]}"#);
    let error = STANDARD_B64.encode(r#"{"result":[{"status":"error","error_message":"bad"}]}"#);
    let sub = |id: &str, body: &str| json!({"id": id, "status_code": 201, "body": body});
    let answer = json!({
        "batch_request_id": "x",
        "serviced_requests": [
            sub(ids[0], &ok),
            sub(ids[1], &ok), sub(ids[1], &error),
            sub("an-id-never-sent", &ok),
        ],
        "unserviced_requests": [],
    });
    let base = serve(vec![json(answer)]).await;
    let target = servicenow(&base);
    let got = attempt(&target, &mut jobs).await;
    assert!(matches!(got[0], Attempted::Delivered), "{got:?}");
    let repeated = failure(&got[1]);
    assert_eq!(repeated.class, Class::Transient);
    assert!(
        repeated.message.contains("more than once"),
        "{}",
        repeated.message
    );
    let omitted = failure(&got[2]);
    assert_eq!(omitted.class, Class::Transient);
    assert!(
        omitted.message.contains("not serviced"),
        "{}",
        omitted.message
    );
}

#[tokio::test]
async fn headers_that_never_finish_time_out_as_transient() {
    let stalled = serve_unfinished_headers().await;
    let tokens = serve(vec![]).await;
    let mut settings = tenant(&tokens).genesys.unwrap();
    settings.api_base = Some(url::Url::parse(&stalled).unwrap());
    let target = GenesysTarget::new("t1", &settings, &context()).unwrap();
    let got = attempt(&target, &mut [job("s", false)]).await;
    let e = failure(&got[0]);
    assert_eq!(e.class, Class::Transient, "{e:?}");
    assert!(e.message.contains("timeout"), "{}", e.message);
    let target = servicenow(&stalled);
    let got = attempt(&target, &mut [job("a", false)]).await;
    let e = failure(&got[0]);
    assert_eq!(e.class, Class::Transient, "{e:?}");
    assert!(e.message.contains("timeout"), "{}", e.message);
}

/// A tenant file edited to drop a target's section: rotating that target's credentials is
/// refused, naming the section; with the section there, the rotation is taken.
#[tokio::test]
async fn a_rotation_without_the_targets_section_is_refused() {
    let base = "http://127.0.0.1:9/";
    let (genesys, servicenow) = (genesys(base), servicenow(base));
    let mut settings = tenant(base);
    settings.servicenow = Some(ServiceNowSettings {
        auth: ServiceNowAuth::Basic,
        username: Some("u".into()),
        password: Some(Secret::inline(crate::config::SecretString::from("p"))),
        ..settings.servicenow.unwrap()
    });
    genesys.rotate_credentials(&settings).await.unwrap();
    servicenow.rotate_credentials(&settings).await.unwrap();
    let (without_genesys, without_servicenow) = (
        TenantSettings {
            genesys: None,
            ..settings.clone()
        },
        TenantSettings {
            servicenow: None,
            ..settings
        },
    );
    let e = genesys.rotate_credentials(&without_genesys).await;
    let message = e.unwrap_err().to_string();
    assert_eq!(
        message,
        "invalid configuration: tenant t1: no [genesys] section any more"
    );
    let e = servicenow.rotate_credentials(&without_servicenow).await;
    let message = e.unwrap_err().to_string();
    assert_eq!(
        message,
        "invalid configuration: tenant t1: no [servicenow] section any more"
    );
}
