//! OTLP traces and metrics to a loopback receiver, the publisher's trace continued.

use super::*;

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
