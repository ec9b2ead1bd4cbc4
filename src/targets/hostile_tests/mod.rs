//! Hostile servers: a Genesys or ServiceNow that answers nonsense, absurd
//! `Retry-After` values, cancelled transactions, Batch API answers that do not match what was
//! sent, or headers that never finish. Each answer gets its DESIGN §6 class, nothing panics,
//! and every attempt ends. The token endpoint's hostile answers are in `push::oauth_http_tests`,
//! the 100 MB body in `push::client_tests`.

mod genesys_answers;
mod servicenow_answers;
mod unfinished;

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

fn job(script: &str, check_first: bool) -> Job {
    let change = json!({
        "schema": "script-change/v1", "id": format!("c-{script}"), "tenant": "t1",
        "script_id": script, "version": 3, "version_hash": "h3",
        "published_at": "2026-01-01T00:00:00Z",
    });
    let schedule = Schedule::new(&RetrySettings::default());
    Job::new(
        Arc::new(serde_json::from_value(change).unwrap()),
        check_first,
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
