//! Observability against the real worker (local RabbitMQ, simulator on port 0, admin
//! endpoints on port 0): exact `/metrics` counts after a known scenario, `/readyz` across a
//! broker-side connection close, `/status` during a forced pause, OTLP traces and metrics
//! to a loopback receiver (with the publisher's trace continued), and no export at all when
//! no endpoint is configured (the real binary, its sockets and its log lines inspected).

use crate::common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use common::{BROKER_URL, TestApp, change, eventually, spawn_app_with_admin};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use scriptsync::change::TargetKind;
use scriptsync::status::PushOutcomeLabel;
use scriptsync_sim::{Faults, InjectedResponse, SimConfig, SimTarget};
use serde_json::Value;

// ---- helpers ------------------------------------------------------------------------

fn admin(app: &TestApp) -> SocketAddr {
    app.admin.expect("admin endpoints bound")
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let res = reqwest::get(format!("http://{addr}{path}"))
        .await
        .expect("admin endpoint answers");
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// Parsed Prometheus text: series (name + sorted labels) → value.
type Scrape = BTreeMap<(String, BTreeSet<(String, String)>), f64>;

fn parse_prometheus(text: &str) -> Scrape {
    let mut out = Scrape::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once('=').expect("label");
                (k.to_owned(), v.trim_matches('"').to_owned())
            })
            .collect();
        out.insert((name.to_owned(), labels), value.parse().unwrap());
    }
    out
}

/// The value of the series with exactly these labels (0 when absent).
fn series(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    scrape
        .get(&(name.to_owned(), labels))
        .copied()
        .unwrap_or(0.0)
}

async fn scrape(addr: SocketAddr) -> Scrape {
    let (status, text) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    parse_prometheus(&text)
}

// ---- /metrics -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_give_exact_counts_after_a_known_scenario() {
    let app = spawn_app_with_admin(&["obs"], SimConfig::default(), |_| {}).await;
    let addr = admin(&app);
    app.sim.set_faults(
        Some("obs"),
        SimTarget::Genesys,
        Faults {
            inject: vec![InjectedResponse::new(429).with_retry_after("1")],
            record_errors: BTreeSet::from(["bad".to_string()]),
            ..Faults::default()
        },
    );
    // Phase 1: three good changes, one Genesys refuses (permanent), one invalid body.
    for s in ["s1", "s2", "s3", "bad"] {
        app.publish(&change("obs", s, 1)).await;
    }
    app.publish_raw("obs", b"{not json").await;
    app.wait_settled("obs", 5).await;
    // Phase 2: an old version again (superseded) and a tenant nobody configured.
    app.publish(&change("obs", "s1", 1)).await;
    app.wait_settled("obs", 6).await;
    app.publish(&change("nobody", "x", 1)).await;
    app.wait_dlq(3).await;
    eventually("the unknown tenant's dead letter counted", || async {
        series(
            &scrape(addr).await,
            "scriptsync_dead_lettered_total",
            &[("tenant", "nobody"), ("reason", "unknown_tenant")],
        ) == 1.0
    })
    .await;

    let m = scrape(addr).await;
    let c = |name: &str, labels: &[(&str, &str)]| series(&m, name, labels);
    assert_eq!(
        c("scriptsync_changes_consumed_total", &[("tenant", "obs")]),
        6.0
    );
    let pushes = "scriptsync_pushes_total";
    let (g, s) = (("target", "genesys"), ("target", "servicenow"));
    let t = ("tenant", "obs");
    assert_eq!(c(pushes, &[t, g, ("outcome", "delivered")]), 3.0);
    assert_eq!(c(pushes, &[t, g, ("outcome", "permanent")]), 1.0);
    assert_eq!(c(pushes, &[t, s, ("outcome", "delivered")]), 4.0);
    assert_eq!(c(pushes, &[t, s, ("outcome", "permanent")]), 0.0);
    assert_eq!(c("scriptsync_rate_limited_total", &[t, g]), 1.0);
    assert_eq!(c("scriptsync_rate_limited_total", &[t, s]), 0.0);
    assert_eq!(
        c("scriptsync_http_requests_total", &[g, ("status", "429")]),
        1.0
    );
    let dead = "scriptsync_dead_lettered_total";
    assert_eq!(c(dead, &[t, ("reason", "invalid")]), 1.0);
    assert_eq!(c(dead, &[t, ("reason", "permanent")]), 1.0);
    assert_eq!(c(dead, &[t, ("reason", "exhausted")]), 0.0);
    assert_eq!(
        c(dead, &[("tenant", "nobody"), ("reason", "unknown_tenant")]),
        1.0
    );
    assert_eq!(c("scriptsync_superseded_total", &[t]), 1.0);
    // Each change written is timed from its published_at, per tenant and target; each
    // request to a target by its duration.
    assert_eq!(c("scriptsync_end_to_end_seconds_count", &[t, g]), 3.0);
    assert_eq!(c("scriptsync_end_to_end_seconds_count", &[t, s]), 4.0);
    let requests = "scriptsync_http_request_duration_seconds_count";
    assert!(c(requests, &[t, g]) >= 4.0, "{}", c(requests, &[t, g]));
    assert!(c(requests, &[t, s]) >= 1.0, "{}", c(requests, &[t, s]));
    assert_eq!(c("scriptsync_inflight", &[t]), 0.0);
    assert!(c("scriptsync_gate_paused_seconds_total", &[t, g]) >= 1.0);
    // The status board (what `/status`, the demo and these tests read) agrees with
    // `/metrics`, and counts settled deliveries exactly.
    let board = app.status("obs");
    assert_eq!((board.consumed, board.settled, board.inflight), (6, 6, 0));
    let genesys = board.target(TargetKind::Genesys);
    assert_eq!(genesys.pushes.get(PushOutcomeLabel::Delivered), 3);
    assert_eq!(genesys.pushes.get(PushOutcomeLabel::Permanent), 1);
    assert_eq!(genesys.rate_limited, 1);
    assert!(genesys.paused_seconds >= 1.0);
    assert_eq!(board.superseded, 1);
    assert_eq!(board.dead_lettered["invalid"], 1);
    assert_eq!(board.dead_lettered["permanent"], 1);
    assert_eq!(app.status("nobody").dead_lettered["unknown_tenant"], 1);
    let text = get(addr, "/metrics").await.1;
    assert!(
        text.contains("# TYPE scriptsync_end_to_end_seconds histogram"),
        "{text}"
    );
    // The DLQ's depth as the broker counts it (read every 30 s): the three letters above.
    eventually(
        "scriptsync_dlq_messages counts the dead letters",
        || async move {
            let scraped = parse_prometheus(&get(addr, "/metrics").await.1);
            scraped.get(&("scriptsync_dlq_messages".to_owned(), Default::default())) == Some(&3.0)
        },
    )
    .await;
    app.stop().await;
}

/// Prometheus advises exporting every series whose labels are known at start at 0: before
/// any traffic, `/metrics` already lists each counter of DESIGN §11 for the tenant's targets,
/// outcomes and dead-letter reasons (the line itself, not an absent series read as 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_series_are_exported_at_zero_before_any_traffic() {
    let app = spawn_app_with_admin(&["zero"], SimConfig::default(), |_| {}).await;
    let text = get(admin(&app), "/metrics").await.1;
    let scraped = parse_prometheus(&text);
    let has_zero = |name: &str, labels: &[(&str, &str)]| {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        scraped.get(&(name.to_owned(), labels)) == Some(&0.0)
    };
    let t = ("tenant", "zero");
    let mut missing = Vec::new();
    let mut expect = |name: &str, labels: &[(&str, &str)]| {
        if !has_zero(name, labels) {
            missing.push(format!("{name} {labels:?}"));
        }
    };
    expect("scriptsync_changes_consumed_total", &[t]);
    expect("scriptsync_superseded_total", &[t]);
    expect("scriptsync_inflight", &[t]);
    for reason in ["invalid", "permanent", "exhausted"] {
        expect("scriptsync_dead_lettered_total", &[t, ("reason", reason)]);
    }
    for target in ["genesys", "servicenow"] {
        let g = ("target", target);
        expect("scriptsync_rate_limited_total", &[t, g]);
        expect("scriptsync_gate_paused_seconds_total", &[t, g]);
        expect("scriptsync_token_renewals_total", &[t, g]);
        expect("scriptsync_retries_total", &[t, g]);
        expect("scriptsync_token_failures_total", &[t, g]);
        expect("scriptsync_end_to_end_seconds_count", &[t, g]);
        expect("scriptsync_http_request_duration_seconds_count", &[t, g]);
        for outcome in ["delivered", "superseded", "permanent", "exhausted"] {
            expect("scriptsync_pushes_total", &[t, g, ("outcome", outcome)]);
        }
    }
    for task in ["genesys", "servicenow", "tenant"] {
        expect("scriptsync_task_panics_total", &[t, ("task", task)]);
    }
    assert!(missing.is_empty(), "absent at start: {missing:#?}\n{text}");
    // The operator's gauges: once it has started, this replica consumes the tenant, is
    // ready, and says its build.
    let version = env!("CARGO_PKG_VERSION");
    let addr = admin(&app);
    eventually(
        "consuming, ready and the build on /metrics",
        || async move {
            let scraped = parse_prometheus(&get(addr, "/metrics").await.1);
            let value = |name: &str, labels: &[(&str, &str)]| {
                let labels = labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                scraped.get(&(name.to_owned(), labels)).copied()
            };
            value("scriptsync_consuming", &[("tenant", "zero")]) == Some(1.0)
                && value("scriptsync_ready", &[]) == Some(1.0)
                && value("scriptsync_build_info", &[("version", version)]) == Some(1.0)
        },
    )
    .await;
    assert!(
        text.contains("scriptsync_gate_rate_per_minute{"),
        "gate rates from the start:\n{text}"
    );
    app.stop().await;
}

/// Supervised tasks: a lane that panics (the test-only fault hook) is logged and counted, its
/// tenant's consumers restart on a new connection, the broker requeues what they held and
/// the change is delivered; repeated panics make `/readyz` fail while `/healthz` stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_lane_is_counted_requeued_restarted_and_repeated_panics_fail_readyz() {
    use scriptsync::pipeline::panics::{PanicLog, fault};
    let tenant = "panicky";
    let app = spawn_app_with_admin(&[tenant], SimConfig::default(), |_| {}).await;
    let addr = admin(&app);
    let panics = |m: &Scrape| {
        ["genesys", "servicenow", "tenant"]
            .iter()
            .map(|t| {
                series(
                    m,
                    "scriptsync_task_panics_total",
                    &[("tenant", tenant), ("task", t)],
                )
            })
            .sum::<f64>()
    };
    let held = |script: &str| {
        let st = app.sim_state().tenant(tenant);
        st.genesys.held.get(script).is_some_and(|h| h.version == 1)
            && st
                .servicenow
                .held
                .get(script)
                .is_some_and(|h| h.version == 1)
    };
    for round in 1..=PanicLog::LIMIT {
        fault::arm_lane_panic(tenant);
        let script = format!("s{round}");
        app.publish(&change(tenant, &script, 1)).await;
        eventually("the panic is counted", || async {
            panics(&scrape(addr).await) == round as f64
        })
        .await;
        eventually(
            "the requeued change is delivered after the restart",
            || async { held(&script) },
        )
        .await;
        if round < PanicLog::LIMIT {
            eventually("ready again after one restart", || async {
                get(addr, "/readyz").await.0 == 200
            })
            .await;
        }
    }
    eventually("/readyz fails after repeated panics", || async {
        get(addr, "/readyz").await.0 == 503
    })
    .await;
    assert_eq!(get(addr, "/healthz").await.0, 200);
    app.wait_depth(&app.names.tenant_queue(tenant), 0).await;
    // What the panicked loops held went back to the broker: none of it is still counted as
    // held, on the status board or in `/metrics`.
    eventually("nothing held after the restarts", || async {
        app.status(tenant).inflight == 0
    })
    .await;
    let inflight = series(
        &scrape(addr).await,
        "scriptsync_inflight",
        &[("tenant", tenant)],
    );
    assert_eq!(inflight, 0.0);
    app.stop().await;
}

// ---- /readyz and /healthz ---------------------------------------------------------------

/// The broker-side pid of the connection named `name` (client property `connection_name`).
fn broker_connection_pid(name: &str) -> Option<String> {
    let out = std::process::Command::new("rabbitmqctl")
        .args(["list_connections", "pid", "client_properties", "-q"])
        .output()
        .expect("rabbitmqctl runs");
    let wanted = format!("{{\"connection_name\",\"{name}\"}}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.contains(&wanted))
        .find_map(|line| line.split('\t').next().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_broker_connection_and_healthz_stays_up() {
    let app = spawn_app_with_admin(&["ready"], SimConfig::default(), |_| {}).await;
    let addr = admin(&app);
    eventually("/readyz is 200", || async {
        get(addr, "/readyz").await.0 == 200
    })
    .await;
    assert_eq!(get(addr, "/healthz").await.0, 200);

    // Watch /readyz and /healthz closely from another task while the broker closes our
    // worker's connection (and only ours: it is found by its unique connection name).
    let seen = Arc::new(Mutex::new(Vec::<(u16, u16)>::new()));
    let watcher = {
        let seen = seen.clone();
        tokio::spawn(async move {
            loop {
                let ready = get(addr, "/readyz").await.0;
                let health = get(addr, "/healthz").await.0;
                seen.lock().unwrap().push((ready, health));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let mut pid = None;
    eventually("the worker's connection is listed", || {
        pid = broker_connection_pid(&app.connection_name);
        let found = pid.is_some();
        async move { found }
    })
    .await;
    let pid = pid.unwrap();
    let closed = std::process::Command::new("rabbitmqctl")
        .args(["close_connection", &pid, "observability test"])
        .output()
        .expect("rabbitmqctl runs");
    assert!(closed.status.success(), "{closed:?}");
    eventually("/readyz went 503 and came back to 200", || {
        let seen = seen.lock().unwrap().clone();
        let down = seen.iter().position(|(r, _)| *r == 503);
        let back = down.is_some_and(|i| seen[i..].iter().any(|(r, _)| *r == 200));
        async move { back }
    })
    .await;
    watcher.abort();
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().all(|(_, h)| *h == 200), "/healthz stayed 200");
    // Recovered for real: a new connection under the same name, and changes flow again.
    assert_ne!(broker_connection_pid(&app.connection_name), Some(pid));
    app.publish(&change("ready", "after", 1)).await;
    app.wait_settled("ready", 1).await;
    app.stop().await;
}

// ---- /status ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_paused_until_during_a_forced_pause() {
    let app = spawn_app_with_admin(&["paused", "calm"], SimConfig::default(), |_| {}).await;
    let addr = admin(&app);
    app.sim.set_faults(
        Some("paused"),
        SimTarget::Genesys,
        Faults {
            inject: vec![InjectedResponse::new(429).with_retry_after("120")],
            ..Faults::default()
        },
    );
    let before = time::OffsetDateTime::now_utc();
    app.publish(&change("paused", "s", 1)).await;
    let status_now =
        || async { serde_json::from_str::<Value>(&get(addr, "/status").await.1).unwrap() };
    eventually(
        "/status shows the Genesys gate of 'paused' paused",
        || async { status_now().await["tenants"][1]["targets"][0]["gate"] == "paused" },
    )
    .await;
    // The pause lasts minutes: it is still on when read again.
    let status = status_now().await;
    // Tenants are listed by id.
    let tenant = &status["tenants"][1];
    assert_eq!(tenant["tenant"], "paused");
    let genesys = &tenant["targets"][0];
    assert_eq!(genesys["target"], "genesys");
    let until = genesys["paused_until"].as_str().expect("paused_until");
    let until =
        time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(until > before + time::Duration::seconds(60), "{status:#}");
    assert!(genesys["rate_per_minute"].as_f64().unwrap() > 0.0);
    assert!(genesys["ceiling_per_minute"].as_f64().unwrap() > 0.0);
    assert!(genesys["in_flight"].is_u64());
    assert_eq!(genesys["last_status"], 429);
    assert!(
        genesys["last_error"].as_str().unwrap().contains("429"),
        "{status:#}"
    );
    // The other target and the other tenant are open.
    assert_eq!(tenant["targets"][1]["target"], "servicenow");
    assert_eq!(tenant["targets"][1]["gate"], "open");
    assert_eq!(status["tenants"][0]["tenant"], "calm");
    assert!(
        status["tenants"][0]["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["gate"] == "open" && t["paused_until"].is_null())
    );
    // The first tenant consumes (and so pauses) before the worker has started every
    // consumer and says it is ready: wait for that rather than race it.
    eventually("/status says ready", || async {
        status_now().await["ready"] == true
    })
    .await;
    // One replica alone: it is the only live one and owns every tenant.
    let me = status["replica"].as_str().expect("replica").to_owned();
    assert_eq!(status["replicas"], serde_json::json!([me]), "{status:#}");
    for t in status["tenants"].as_array().unwrap() {
        assert_eq!(t["owner"], me.as_str(), "{status:#}");
    }
    let text = serde_json::to_string(&status).unwrap();
    assert!(!text.contains(scriptsync_sim::fixtures::SIM_SECRET));
    app.stop().await;
}

// ---- OTLP -------------------------------------------------------------------------------

/// A loopback OTLP/HTTP receiver: records the body of every POST by path.
#[derive(Clone, Default)]
struct Receiver {
    posts: Arc<Mutex<Vec<(String, Bytes)>>>,
}

impl Receiver {
    async fn start() -> (Self, url::Url) {
        let receiver = Self::default();
        let app = axum::Router::new()
            .fallback(axum::routing::post(
                |State(r): State<Receiver>, uri: Uri, body: Bytes| async move {
                    r.posts.lock().unwrap().push((uri.path().to_owned(), body));
                    ""
                },
            ))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn spans(&self) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter(|(path, _)| path == "/v1/traces")
            .flat_map(|(_, body)| {
                ExportTraceServiceRequest::decode(body.clone())
                    .expect("OTLP protobuf")
                    .resource_spans
            })
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .collect()
    }

    fn metric_names(&self) -> HashSet<String> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter(|(path, _)| path == "/v1/metrics")
            .flat_map(|(_, body)| {
                ExportMetricsServiceRequest::decode(body.clone())
                    .expect("OTLP protobuf")
                    .resource_metrics
            })
            .flat_map(|r| r.scope_metrics)
            .flat_map(|s| s.metrics)
            .map(|m| m.name)
            .collect()
    }
}

fn attribute(
    span: &opentelemetry_proto::tonic::trace::v1::Span,
    key: &str,
) -> Option<opentelemetry_proto::tonic::common::v1::any_value::Value> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.clone())
        .and_then(|v| v.value)
}

/// The test process's trace pipeline: a receiver on its own thread (it outlives every test's
/// runtime) and the global subscriber exporting to it. Global, because a thread-local
/// default misses spans when other tests register the same callsites first; spans of the
/// other tests in this binary arrive too and are told apart by trace id.
struct TracePipeline {
    receiver: Receiver,
    url: url::Url,
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
}

fn trace_pipeline() -> &'static TracePipeline {
    static PIPELINE: std::sync::OnceLock<TracePipeline> = std::sync::OnceLock::new();
    PIPELINE.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;

        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                tx.send(Receiver::start().await).unwrap();
                std::future::pending::<()>().await
            })
        });
        let (receiver, url) = rx.recv().unwrap();
        let provider = scriptsync::telemetry::tracer_provider(&url, "scriptsync-test").unwrap();
        tracing_subscriber::registry()
            .with(scriptsync::telemetry::otel_layer(&provider))
            .init();
        TracePipeline {
            receiver,
            url,
            provider,
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_gets_spans_and_metrics_and_pushes_continue_the_publishers_trace() {
    let pipeline = trace_pipeline();
    let receiver = &pipeline.receiver;
    let url = pipeline.url.clone();
    let app = spawn_app_with_admin(&["traced"], SimConfig::default(), |s| {
        s.telemetry.otlp_endpoint = Some(url.clone());
        s.telemetry.metrics_interval = Duration::from_secs(1);
    })
    .await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let mut headers = FieldTable::default();
    headers.insert(
        "traceparent".into(),
        AMQPValue::LongString(format!("00-{trace_id}-{parent_id}-01").into()),
    );
    let props = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_headers(headers);
    let body = serde_json::to_vec(&change("traced", "s", 1)).unwrap();
    app.publisher
        .publish(&app.names.exchange(), "traced", &body, props, false)
        .await
        .unwrap();
    app.wait_settled("traced", 1).await;
    let p = pipeline.provider.clone();
    tokio::task::spawn_blocking(move || p.force_flush())
        .await
        .unwrap()
        .unwrap();

    let trace_id = hex(trace_id);
    let parent_id = hex(parent_id);
    eventually(
        "the delivery and both targets' attempts arrived in our trace",
        || {
            let spans = receiver.spans();
            let ours: Vec<_> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
            let delivery = ours
                .iter()
                .any(|s| s.kind == SpanKind::Consumer as i32 && s.parent_span_id == parent_id);
            let clients: Vec<_> = ours
                .iter()
                .filter(|s| s.kind == SpanKind::Client as i32)
                .collect();
            let put_row = clients.iter().any(|s| {
                s.name == "POST row"
                    && attribute(s, "http.response.status_code").is_some()
                    && attribute(s, "http.request.method").is_some()
                    && attribute(s, "http.request.resend_count").is_some()
            });
            let batch = clients.iter().any(|s| s.name == "batch");
            let gate = ours.iter().any(|s| s.name == "gate wait");
            async move { delivery && put_row && batch && gate }
        },
    )
    .await;
    // Every family of DESIGN §11 arrives over OTLP under its Prometheus name.
    let design = [
        "scriptsync_changes_consumed_total",
        "scriptsync_pushes_total",
        "scriptsync_http_requests_total",
        "scriptsync_rate_limited_total",
        "scriptsync_gate_paused_seconds_total",
        "scriptsync_gate_rate_per_minute",
        "scriptsync_dead_lettered_total",
        "scriptsync_superseded_total",
        "scriptsync_end_to_end_seconds",
        "scriptsync_inflight",
        "scriptsync_token_renewals_total",
    ];
    eventually("OTLP metrics arrived with every §11 name", || {
        let names = receiver.metric_names();
        async move { design.iter().all(|n| names.contains(*n)) }
    })
    .await;
    app.stop().await;
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// ---- no endpoint: no export ---------------------------------------------------------------

/// Remote ports of the TCP sockets `pid` holds (from /proc), and the local ports it listens on.
fn tcp_peers(pid: u32) -> (Vec<u16>, Vec<u16>) {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    l.strip_prefix("socket:[")?
                        .strip_suffix(']')
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    let (mut remote, mut listening) = (Vec::new(), Vec::new());
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 || !inodes.contains(cols[9]) {
                continue;
            }
            let port =
                |addr: &str| u16::from_str_radix(addr.rsplit(':').next().unwrap(), 16).unwrap();
            if cols[3] == "0A" {
                listening.push(port(cols[1]));
            } else {
                remote.push(port(cols[2]));
            }
        }
    }
    (remote, listening)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_nothing_connects_and_nothing_is_logged() {
    // The simulator and a prefix from the helper; the worker is the real binary.
    let helper = common::spawn_app(&["quiet"], |_| {}).await;
    let config = helper.write_config();
    let stderr_path = config.with_file_name("worker.log");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_scriptsync"));
    cmd.args(["run", "--config"])
        .arg(&config)
        .env("SCRIPTSYNC__ADMIN__LISTEN", "127.0.0.1:0")
        .env(
            "SCRIPTSYNC__BROKER__PREFIX",
            format!("{}-bin", helper.settings.broker.prefix),
        )
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("OTEL_")) {
        cmd.env_remove(k);
    }
    let mut child = cmd.spawn().expect("the scriptsync binary starts");
    let pid = child.id();
    // If the test fails before reaping the worker, do not leave it running.
    let _reaper = KillPidOnDrop(pid);

    // The worker consumes from its own prefix: publish there and wait for the simulator.
    let names = scriptsync::broker::Names::new(&format!("{}-bin", helper.settings.broker.prefix));
    let sim_port = url::Url::parse(&helper.sim.base_url())
        .unwrap()
        .port()
        .unwrap();
    let broker_port = url::Url::parse(BROKER_URL).unwrap().port().unwrap();
    let mut peers = Vec::new();
    let mut listening = Vec::new();
    let mut published = false;
    eventually("the binary delivered the change to both targets", || {
        let (remote, listen) = tcp_peers(pid);
        peers.extend(remote);
        listening.extend(listen);
        let held = helper.sim_state();
        let done = held.tenants.get("quiet").is_some_and(|t| {
            t.genesys.held.contains_key("s") && t.servicenow.held.contains_key("s")
        });
        let publish = !published;
        published = true;
        let names = &names;
        let helper = &helper;
        let stderr_path = &stderr_path;
        async move {
            if publish {
                // Wait until the worker has declared its whole topology (queue AND binding)
                // and consumes: it logs "consuming" then. A queue that merely exists may
                // not be bound yet, and a message published then goes to the unrouted queue.
                eventually("the binary is consuming", || async {
                    std::fs::read_to_string(stderr_path)
                        .unwrap_or_default()
                        .contains("\"message\":\"consuming\"")
                })
                .await;
                let body = serde_json::to_vec(&change("quiet", "s", 1)).unwrap();
                let props = BasicProperties::default().with_content_type("application/json".into());
                helper
                    .publisher
                    .publish(&names.exchange(), "quiet", &body, props, false)
                    .await
                    .unwrap();
            }
            done
        }
    })
    .await;
    let (remote, listen) = tcp_peers(pid);
    peers.extend(remote);
    listening.extend(listen);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");

    let log = std::fs::read_to_string(&stderr_path).unwrap();
    let admin_port: Vec<u16> = listening.clone();
    let strangers: Vec<u16> = peers
        .iter()
        .copied()
        .filter(|p| *p != broker_port && *p != sim_port && *p != 0 && !admin_port.contains(p))
        .collect();
    assert!(!peers.is_empty(), "the worker's sockets were seen");
    assert!(
        strangers.is_empty(),
        "unexpected peers {strangers:?}; log:\n{log}"
    );
    for line in log.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or(Value::Null);
        assert_ne!(v["level"], "ERROR", "{line}");
        let lower = line.to_lowercase();
        assert!(
            !lower.contains("opentelemetry") && !lower.contains("otlp"),
            "{line}"
        );
    }
    assert!(log.contains("admin endpoints listening"), "{log}");
    // Clean up the binary's own queues too.
    let topology =
        scriptsync::broker::Topology::new(&names, &helper.settings.broker, ["quiet".to_string()]);
    let _ = topology.delete(helper.publisher.channel()).await;
    helper.stop().await;
}

/// Sends SIGKILL to `pid` when dropped (a no-op once the worker has exited and been reaped).
struct KillPidOnDrop(u32);

impl Drop for KillPidOnDrop {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .status();
        }
    }
}
