//! A target that answers 200 with a body of 100 MB (declared, and streamed without a length):
//! the client reads at most `MAX_TARGET_BODY` of it, classifies the answer as transient, and
//! gives up within its attempts budget with a clear error; the server never gets to send the
//! whole body, and the process's memory stays far below one such body.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::put;
use futures::stream;

use super::*;
use crate::config::{RetrySettings, SecretString};
use crate::push::FailureReason;
use crate::push::{AuthMethod, GateConfig};

const HUGE: u64 = 100 << 20;
const CHUNK: usize = 64 << 10;

/// Bytes the server has handed to the connection, over all requests.
#[derive(Default)]
struct Sent(AtomicU64);

async fn huge(State(sent): State<Arc<Sent>>, declared: bool) -> axum::response::Response {
    let chunks = stream::unfold(0u64, move |done| {
        let sent = sent.clone();
        async move {
            (done < HUGE).then(|| {
                sent.0.fetch_add(CHUNK as u64, Ordering::SeqCst);
                let chunk = axum::body::Bytes::from(vec![b'x'; CHUNK]);
                (Ok::<_, std::io::Error>(chunk), done + CHUNK as u64)
            })
        }
    });
    let mut response = axum::response::Response::new(Body::from_stream(chunks));
    if declared {
        response
            .headers_mut()
            .insert("content-length", HUGE.to_string().parse().unwrap());
    }
    response
}

async fn serve(declared: bool) -> (Arc<Sent>, String) {
    let sent = Arc::new(Sent::default());
    let app = Router::new()
        .route("/row", put(move |s: State<Arc<Sent>>| huge(s, declared)))
        .with_state(sent.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (sent, format!("http://{addr}/row"))
}

fn client() -> PushClient {
    let retry = RetrySettings {
        initial: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        max_attempts: 3,
        ..RetrySettings::default()
    };
    let ctx = TargetContext {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        max_changes: 100,
        retry,
        metrics: Arc::new(Metrics::new()),
    };
    let gate = GateConfig {
        per_minute: 6000.0,
        burst: 10,
        max_concurrency: 1,
        headroom: 0.9,
        recovery_period: Duration::from_secs(60),
        window: Duration::from_secs(60),
        learns_from_429: true,
    };
    let auth = AuthMethod::Basic(crate::push::Credential::basic(
        "user".into(),
        SecretString::from("pw"),
    ));
    PushClient::for_tenant("t1", TargetKind::Genesys, &ctx, gate, auth)
}

/// This process's resident set (Linux), in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test]
async fn a_huge_answer_is_cut_at_the_limit_and_retried_as_transient() {
    let before = rss();
    for declared in [true, false] {
        let (sent, url) = serve(declared).await;
        let client = client();
        let failure = client
            .send("PUT row", |http| http.put(&url).body("{}"))
            .await
            .expect_err("no usable answer");
        assert_eq!(
            failure.reason,
            FailureReason::Exhausted,
            "declared {declared}"
        );
        assert_eq!(failure.attempts, 3, "declared {declared}");
        assert_eq!(failure.status, Some(200));
        assert!(
            failure.error.contains("answer body over 4194304 bytes"),
            "{}",
            failure.error
        );
        let streamed = sent.0.load(Ordering::SeqCst);
        assert!(
            streamed < 3 * (32 << 20),
            "declared {declared}: the server streamed {streamed} bytes over 3 attempts"
        );
    }
    // Six answers of 100 MB went by; memory grew by far less than one of them.
    let grown = rss().saturating_sub(before);
    assert!(grown < 64 << 20, "RSS grew by {} MiB", grown >> 20);
}
