//! The only place tracing subscribers and OpenTelemetry providers are built.
//!
//! Logs: JSON lines by default for the worker, pretty lines for the demo and the simulator;
//! the level comes from `RUST_LOG`, else the config, else `info`. JSON lines carry the fields
//! of every enclosing span (`spans`), so a push attempt's line also shows the tenant, script
//! and version of the change it serves.
//!
//! Traces: when an OTLP endpoint is configured (`[telemetry] otlp_endpoint` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT`), spans go to `<endpoint>/v1/traces` over OTLP/HTTP
//! (protobuf, batched, the exporter's own blocking client on its own thread). Without one no
//! OpenTelemetry layer is installed: no exporter, no connection attempts, no export errors.
//! The OpenTelemetry SDK's own error lines are filtered out of the default log filter
//! (`opentelemetry_sdk=off`): an unreachable collector must not flood the worker's logs.
//!
//! Propagation: [`continue_trace`] reads a W3C `traceparent` (and `tracestate`) from message
//! headers and makes a span a child of the publisher's trace; [`outgoing_trace`] is the other
//! side, the headers a publisher (`scriptsync publish`) sends.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::{LogFormat, LogSettings, TelemetrySettings};
use crate::metrics::{OtlpMetrics, signal_url};

/// Added to the default filter (not to `RUST_LOG`): the SDK logs every failed export at ERROR.
const QUIET_SDK: &str = "opentelemetry_sdk=off";

/// The W3C trace-context headers read from AMQP messages.
pub const TRACE_HEADERS: [&str; 2] = ["traceparent", "tracestate"];

/// Keeps the tracer provider alive; [`Telemetry::shutdown`] exports what is still buffered.
#[derive(Default)]
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes and stops the span exporter (blocking: call it outside the async runtime's
    /// worker threads, e.g. at the end of `main` or through `spawn_blocking`).
    pub fn shutdown(self) {
        if let Some(tracer) = self.tracer {
            let _ = tracer.force_flush();
            let _ = tracer.shutdown();
        }
    }
}

/// Installs the global subscriber once; later calls do nothing. Logs only, no export.
pub fn init_logs(settings: &LogSettings, default_format: LogFormat) {
    init_logs_with_level(settings, default_format, "info");
}

/// Like [`init_logs`] with a different default level (the demo uses `warn`).
pub fn init_logs_with_level(
    settings: &LogSettings,
    default_format: LogFormat,
    default_level: &str,
) {
    let _ = tracing_subscriber::registry()
        .with(log_layer(settings, default_format, default_level))
        .try_init();
}

/// The worker's telemetry: logs, plus OTLP trace export when an endpoint is configured.
pub fn init(
    log: &LogSettings,
    telemetry: &TelemetrySettings,
    default_format: LogFormat,
) -> anyhow::Result<Telemetry> {
    let tracer = match &telemetry.otlp_endpoint {
        Some(endpoint) => Some(tracer_provider(endpoint, &telemetry.service_name)?),
        None => None,
    };
    let otel = tracer.as_ref().map(otel_layer);
    let _ = tracing_subscriber::registry()
        .with(log_layer(log, default_format, "info"))
        .with(otel)
        .try_init();
    Ok(Telemetry { tracer })
}

/// The OTLP metrics settings, when an endpoint is configured.
pub fn otlp_metrics(telemetry: &TelemetrySettings) -> Option<OtlpMetrics> {
    telemetry
        .otlp_endpoint
        .as_ref()
        .map(|endpoint| OtlpMetrics {
            endpoint: endpoint.clone(),
            interval: telemetry.metrics_interval,
            service_name: telemetry.service_name.clone(),
        })
}

/// A tracer provider batching spans to `<endpoint>/v1/traces` over OTLP/HTTP.
pub fn tracer_provider(
    endpoint: &url::Url,
    service_name: &str,
) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(signal_url(endpoint, "traces"))
        .build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service_name.to_owned())
                .build(),
        )
        .build())
}

/// The layer that turns `tracing` spans into OpenTelemetry spans of `provider`.
pub fn otel_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S> + use<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("scriptsync"))
}

/// The filtered log formatter (JSON or pretty) on stderr.
fn log_layer<S>(
    settings: &LogSettings,
    default_format: LogFormat,
    default_level: &str,
) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let level = settings
            .level
            .clone()
            .unwrap_or_else(|| default_level.to_owned());
        EnvFilter::new(format!("{level},{QUIET_SDK}"))
    });
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match settings.format.unwrap_or(default_format) {
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .with_filter(filter)
            .boxed(),
        LogFormat::Pretty => fmt.compact().with_filter(filter).boxed(),
    }
}

/// Makes `span` a child of the trace named by the W3C headers `header` returns (if any).
/// Call it before the span is entered. Without a trace-context layer this does nothing.
pub fn continue_trace(span: &tracing::Span, header: impl Fn(&str) -> Option<String>) {
    let carrier: HashMap<String, String> = TRACE_HEADERS
        .iter()
        .filter_map(|k| header(k).map(|v| ((*k).to_owned(), v)))
        .collect();
    if carrier.is_empty() {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(parent);
}

/// The W3C trace-context headers a message published inside `span` carries: `span`'s own
/// context when an OpenTelemetry layer gives it one (the consumer's spans join the
/// publisher's trace), else a fresh `traceparent` (random trace and parent ids, sampled), so
/// every change can be followed through the worker by one trace id.
pub fn outgoing_trace(span: &tracing::Span) -> Vec<(String, String)> {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = span.context();
    if cx.span().span_context().is_valid() {
        let mut carrier = HashMap::new();
        TraceContextPropagator::new().inject_context(&cx, &mut carrier);
        return carrier.into_iter().collect();
    }
    let trace = uuid::Uuid::new_v4().simple();
    let parent = rand::random_range(1..=u64::MAX);
    vec![("traceparent".into(), format!("00-{trace}-{parent:016x}-01"))]
}

/// Adds a link from `span` to the trace `other` belongs to (batch members beyond the first).
pub fn link_to(span: &tracing::Span, other: &tracing::Span) {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = other.context();
    span.add_link(cx.span().span_context().clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_endpoint_no_metrics_export() {
        assert!(otlp_metrics(&TelemetrySettings::default()).is_none());
        let settings = TelemetrySettings {
            otlp_endpoint: Some(url::Url::parse("http://127.0.0.1:4318").unwrap()),
            ..TelemetrySettings::default()
        };
        assert!(otlp_metrics(&settings).is_some());
    }

    /// The trace id `span` ends up in after `continue_trace` with `traceparent`, under an
    /// OpenTelemetry layer (no exporter).
    fn trace_of(traceparent: Option<&str>) -> opentelemetry::trace::TraceId {
        use opentelemetry::trace::TraceContextExt as _;
        let provider = SdkTracerProvider::builder().build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("x");
            continue_trace(&span, |k| {
                (k == "traceparent").then(|| traceparent.map(str::to_owned))?
            });
            span.context().span().span_context().trace_id()
        })
    }

    #[test]
    fn outgoing_trace_is_a_fresh_traceparent_or_the_spans_own() {
        let fresh = |headers: Vec<(String, String)>| headers[0].1.clone();
        let a = fresh(outgoing_trace(&tracing::Span::none()));
        let b = fresh(outgoing_trace(&tracing::Span::none()));
        assert_ne!(a, b, "each message starts its own trace");
        // The worker's side reads it back as that trace.
        let trace = &a[3..35];
        assert_eq!(trace_of(Some(&a)).to_string(), trace, "{a}");
        assert!(
            a.starts_with("00-") && a.ends_with("-01") && a.len() == 55,
            "{a}"
        );

        // Inside a span with a context, the headers carry that span's trace.
        let provider = SdkTracerProvider::builder().build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            use opentelemetry::trace::TraceContextExt as _;
            let span = tracing::info_span!("publish");
            let own = span.context().span().span_context().trace_id().to_string();
            let headers = outgoing_trace(&span);
            let parent = headers.iter().find(|(k, _)| k == "traceparent").unwrap();
            assert_eq!(&parent.1[3..35], own);
        });
    }

    #[test]
    fn continue_trace_joins_the_publishers_trace_and_ignores_garbage() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let header = format!("00-{trace}-00f067aa0ba902b7-01");
        assert_eq!(trace_of(Some(&header)).to_string(), trace);
        // Without a header, or with garbage, the span starts a trace of its own.
        for other in [None, Some("garbage"), Some("00-xyz-00f067aa0ba902b7-01")] {
            let got = trace_of(other);
            assert_ne!(got.to_string(), trace, "{other:?}");
            assert_ne!(got, opentelemetry::trace::TraceId::INVALID, "{other:?}");
        }
    }
}
