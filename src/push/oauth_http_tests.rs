//! A token endpoint that answers nonsense: every answer gets a defined outcome through the
//! real token cache (a usable, clamped token, or a transient error that is remembered, so a
//! second caller does not ask again), never a panic, never a body read whole.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

use crate::change::TargetKind;
use crate::config::{RetrySettings, SecretString};
use crate::metrics::Metrics;
use crate::push::{AuthMethod, Class, TokenCache};

struct Answer {
    calls: AtomicU32,
    content_type: &'static str,
    body: String,
}

async fn token(
    State(a): State<Arc<Answer>>,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    a.calls.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::OK,
        [("content-type", a.content_type)],
        a.body.clone(),
    )
}

/// A token endpoint answering 200 with `body`; how many times it was asked.
async fn endpoint(content_type: &'static str, body: String) -> (Arc<Answer>, Url) {
    let answer = Arc::new(Answer {
        calls: AtomicU32::new(0),
        content_type,
        body,
    });
    let app = Router::new()
        .route("/token", post(token))
        .with_state(answer.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (answer, Url::parse(&format!("http://{addr}/token")).unwrap())
}

fn cache(token_url: Url) -> TokenCache {
    let method = AuthMethod::ClientCredentials {
        token_url,
        client_id: "client-1".into(),
        client_secret: SecretString::from("s3cret"),
        basic_header: false,
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let retry = RetrySettings::default();
    TokenCache::new(
        "t1",
        TargetKind::Genesys,
        method,
        http,
        &retry,
        Arc::new(Metrics::new()),
    )
}

fn json(token: &str, kind: &str, expires_in: &str) -> String {
    format!(r#"{{"access_token":"{token}","token_type":"{kind}"{expires_in}}}"#)
}

#[tokio::test]
async fn absurd_lifetimes_are_clamped_and_the_token_is_used() {
    for expires in [
        r#","expires_in":18446744073709551615"#,
        r#","expires_in":0"#,
        r#","expires_in":1"#,
        "",
    ] {
        let (answer, url) = endpoint("application/json", json("tok", "bearer", expires)).await;
        let cache = cache(url);
        assert!(cache.get().await.is_ok(), "{expires}");
        assert!(cache.get().await.is_ok(), "{expires}");
        assert_eq!(
            answer.calls.load(Ordering::SeqCst),
            1,
            "one fetch: {expires}"
        );
    }
}

#[tokio::test]
async fn unusable_answers_are_transient_errors_remembered_not_retried_in_a_loop() {
    let big = format!(r#"{{"access_token":"{}"}}"#, "x".repeat(50 << 20));
    let cases: Vec<(&str, &'static str, String, &str)> = vec![
        (
            "negative lifetime",
            "application/json",
            json("tok", "bearer", r#","expires_in":-5"#),
            "unreadable",
        ),
        (
            "lifetime as a word",
            "application/json",
            json("tok", "bearer", r#","expires_in":"soon""#),
            "unreadable",
        ),
        (
            "mac token",
            "application/json",
            json("tok", "mac", ""),
            "not bearer",
        ),
        (
            "empty token",
            "application/json",
            json("", "bearer", ""),
            "empty access token",
        ),
        (
            "html page",
            "text/html",
            "<html><body>Service Unavailable</body></html>".into(),
            "Content-Type",
        ),
        ("50 MB body", "application/json", big, "over 65536 bytes"),
    ];
    for (what, content_type, body, expected) in cases {
        let (answer, url) = endpoint(content_type, body).await;
        let cache = cache(url);
        let err = cache.get().await.expect_err(what);
        assert_eq!(err.class, Class::Transient, "{what}");
        assert!(err.message.contains(expected), "{what}: {}", err.message);
        assert!(err.wait.is_some(), "{what}: a backoff");
        let again = cache.get().await.expect_err(what);
        assert_eq!(again.message, err.message, "{what}");
        assert_eq!(
            answer.calls.load(Ordering::SeqCst),
            1,
            "{what}: no token storm"
        );
    }
}

#[tokio::test]
async fn an_answer_that_stalls_after_its_headers_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"access";
        socket.write_all(head.as_bytes()).await.unwrap();
        // Never finishes; the socket is held until the test ends.
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(socket);
    });
    let cache = cache(Url::parse(&format!("http://{addr}/token")).unwrap());
    let err = cache.get().await.expect_err("a stalled answer");
    assert_eq!(err.class, Class::Transient);
    assert!(
        err.message.contains("timed out") || err.message.contains("timeout"),
        "{}",
        err.message
    );
}

/// A token endpoint answering `status` with `body` every time.
async fn refusing(status: StatusCode, body: &'static str) -> Url {
    let app = Router::new().route(
        "/token",
        post(move || async move { (status, [("content-type", "application/json")], body) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Url::parse(&format!("http://{addr}/token")).unwrap()
}

#[tokio::test]
async fn a_refused_client_is_transient_as_400_or_401_and_other_400s_are_permanent() {
    let genesys = r#"{"error":"invalid_client","description":"authentication failed","error_description":"authentication failed"}"#;
    for status in [StatusCode::BAD_REQUEST, StatusCode::UNAUTHORIZED] {
        let err = cache(refusing(status, genesys).await)
            .get()
            .await
            .unwrap_err();
        assert_eq!(err.class, Class::Transient, "{status}");
        assert!(
            err.message.contains("authentication failed"),
            "{}",
            err.message
        );
    }
    let malformed = r#"{"error":"invalid_request","error_description":"grant_type missing"}"#;
    let err = cache(refusing(StatusCode::BAD_REQUEST, malformed).await)
        .get()
        .await
        .unwrap_err();
    assert_eq!(err.class, Class::Permanent);
}
