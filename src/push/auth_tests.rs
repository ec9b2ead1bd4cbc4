//! Unit tests of the token cache against a tiny token endpoint on loopback (axum): one fetch
//! for many callers, one renewal for many 401s, remembered failures, form vs Basic client auth.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use url::Url;

use super::*;

#[derive(Default)]
struct Endpoint {
    calls: AtomicU32,
    /// Answer this status (0 = 200 with a token).
    status: AtomicU32,
    last_auth_header: parking_lot::Mutex<Option<String>>,
    last_body: parking_lot::Mutex<String>,
}

async fn token(
    State(ep): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, HeaderMap, String) {
    let n = ep.calls.fetch_add(1, Ordering::SeqCst) + 1;
    *ep.last_auth_header.lock() = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    *ep.last_body.lock() = body;
    // A little latency so concurrent callers overlap.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut out = HeaderMap::new();
    out.insert("content-type", "application/json".parse().unwrap());
    match ep.status.load(Ordering::SeqCst) {
        0 => {
            let body =
                format!(r#"{{"access_token":"tok-{n}","token_type":"bearer","expires_in":86400}}"#);
            (StatusCode::OK, out, body)
        }
        s => {
            out.insert("retry-after", "30".parse().unwrap());
            let body = r#"{"error":"temporarily_unavailable"}"#.to_owned();
            (StatusCode::from_u16(s as u16).unwrap(), out, body)
        }
    }
}

async fn serve() -> (Arc<Endpoint>, Url) {
    let ep = Arc::new(Endpoint::default());
    let app = Router::new()
        .route("/oauth/token", post(token))
        .with_state(ep.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (
        ep,
        Url::parse(&format!("http://{addr}/oauth/token")).unwrap(),
    )
}

fn cache(
    token_url: Url,
    basic_header: bool,
    retry: RetrySettings,
) -> (Arc<TokenCache>, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let method = AuthMethod::ClientCredentials {
        token_url,
        client_id: "client-1".into(),
        client_secret: SecretString::from("s3cret"),
        basic_header,
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let cache = TokenCache::new(
        "t1",
        TargetKind::Genesys,
        method,
        http,
        &retry,
        metrics.clone(),
    );
    (Arc::new(cache), metrics)
}

#[tokio::test]
async fn many_concurrent_callers_one_token_request() {
    let (ep, url) = serve().await;
    let (cache, metrics) = cache(url, true, RetrySettings::default());
    let calls = (0..20).map(|_| {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get().await.unwrap().generation() })
    });
    for call in calls {
        assert_eq!(call.await.unwrap(), 1);
    }
    assert_eq!(ep.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        metrics
            .board()
            .tenant("t1")
            .sum_targets(|t| t.token_renewals),
        1
    );
    // Genesys: client in a Basic header, grant in the form body.
    let header = ep.last_auth_header.lock().clone().unwrap();
    assert!(header.starts_with("Basic "), "{header}");
    assert_eq!(*ep.last_body.lock(), "grant_type=client_credentials");
}

#[tokio::test]
async fn many_401s_with_one_token_renew_once() {
    let (ep, url) = serve().await;
    let (cache, _) = cache(url, true, RetrySettings::default());
    let first = cache.get().await.unwrap();
    for _ in 0..5 {
        cache.invalidate(&first).await;
    }
    let second = cache.get().await.unwrap();
    // Late 401s for the old token do not throw away the new one.
    cache.invalidate(&first).await;
    let third = cache.get().await.unwrap();
    assert_eq!(
        (first.generation(), second.generation(), third.generation()),
        (1, 2, 2)
    );
    assert_eq!(ep.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_failed_fetch_is_remembered_not_retried_in_a_loop() {
    let (ep, url) = serve().await;
    ep.status.store(503, Ordering::SeqCst);
    let retry = RetrySettings {
        initial: Duration::from_secs(60),
        ..RetrySettings::default()
    };
    let (cache, _) = cache(url, true, retry);
    let err = cache.get().await.unwrap_err();
    assert!(matches!(err.class, Class::RateLimited { .. }), "{err:?}");
    assert_eq!(err.status, Some(503));
    assert!(err.wait.is_some_and(|w| w >= Duration::from_secs(30)));
    for _ in 0..10 {
        let again = cache.get().await.unwrap_err();
        assert_eq!(again.status, Some(503));
    }
    assert_eq!(ep.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn client_in_the_form_body_for_servicenow() {
    let (ep, url) = serve().await;
    let (cache, _) = cache(url, false, RetrySettings::default());
    cache.get().await.unwrap();
    assert!(ep.last_auth_header.lock().is_none());
    let body = ep.last_body.lock().clone();
    assert!(body.contains("grant_type=client_credentials"), "{body}");
    assert!(
        body.contains("client_id=client-1") && body.contains("client_secret=s3cret"),
        "{body}"
    );
}

#[tokio::test]
async fn basic_auth_needs_no_token_and_secrets_never_print() {
    let method = AuthMethod::Basic(Credential::basic(
        "user".into(),
        SecretString::from("pw-secret"),
    ));
    assert!(!format!("{method:?}").contains("pw-secret"));
    let cache = TokenCache::new(
        "t1",
        TargetKind::Servicenow,
        method,
        reqwest::Client::new(),
        &RetrySettings::default(),
        Arc::new(Metrics::new()),
    );
    let credential = cache.get().await.unwrap();
    assert!(!format!("{credential:?}").contains("pw-secret"));
    let bearer = Credential::bearer(SecretString::from("tok-secret"), 3);
    assert!(!format!("{bearer:?}").contains("tok-secret"));
}

#[test]
fn renewal_timing() {
    assert_eq!(
        renew_after(Duration::from_secs(86_400)),
        Duration::from_secs(86_340)
    );
    assert_eq!(
        renew_after(Duration::from_secs(1800)),
        Duration::from_secs(1740)
    );
    // Short-lived: at 80 % of the lifetime.
    assert_eq!(
        renew_after(Duration::from_secs(100)),
        Duration::from_secs(80)
    );
    assert_eq!(renew_after(Duration::from_secs(10)), Duration::from_secs(8));
}

#[test]
fn renewals_are_spread_by_a_bounded_random_jitter() {
    let day = Duration::from_secs(86_400);
    let draws: Vec<Duration> = (0..200).map(|_| renewal_jitter(day)).collect();
    assert!(
        draws.iter().all(|d| *d < MAX_RENEWAL_JITTER),
        "at most 10 min"
    );
    let spread = draws
        .iter()
        .max()
        .unwrap()
        .saturating_sub(*draws.iter().min().unwrap());
    assert!(
        spread > Duration::from_secs(300),
        "spread over minutes: {spread:?}"
    );
    let short = Duration::from_secs(100);
    assert!(
        (0..200).all(|_| renewal_jitter(short) <= Duration::from_secs(10)),
        "a tenth of a short lifetime"
    );
    assert!(renew_after(short) - renewal_jitter(short) > Duration::ZERO);
}
