//! Unit tests of the metrics: the Prometheus text carries the §11 names, and the status
//! board is written by the same calls.

use super::*;
use crate::status::{LastOutcome, MAX_STATUS_ERROR};

#[test]
fn prometheus_text_uses_the_design_names() {
    let m = Metrics::new();
    m.consumed("acme");
    m.consumed("acme");
    m.push_outcome("acme", TargetKind::Genesys, PushOutcomeLabel::Delivered);
    m.gate_paused("acme", TargetKind::Genesys, 1.5);
    m.gate_rate("acme", TargetKind::Genesys, 270.0);
    m.inflight_add("acme", 3);
    m.inflight_add("acme", -1);
    m.end_to_end("acme", TargetKind::Genesys, 0.3);
    m.http_duration("acme", TargetKind::Genesys, 0.02);
    m.token_failure("acme", TargetKind::Servicenow);
    m.consuming("acme", true);
    m.ready(true);
    m.dlq_messages(7);
    let text = m.render();
    for line in [
        "scriptsync_changes_consumed_total{tenant=\"acme\"} 2",
        "scriptsync_pushes_total{outcome=\"delivered\",target=\"genesys\",tenant=\"acme\"} 1",
        "scriptsync_gate_paused_seconds_total{target=\"genesys\",tenant=\"acme\"} 1.5",
        "scriptsync_gate_rate_per_minute{target=\"genesys\",tenant=\"acme\"} 270",
        "scriptsync_inflight{tenant=\"acme\"} 2",
        "scriptsync_end_to_end_seconds_bucket{target=\"genesys\",tenant=\"acme\",le=\"0.35\"} 1",
        "scriptsync_http_request_duration_seconds_bucket{target=\"genesys\",tenant=\"acme\",le=\"0.025\"} 1",
        "scriptsync_token_failures_total{target=\"servicenow\",tenant=\"acme\"} 1",
        "scriptsync_consuming{tenant=\"acme\"} 1",
        "scriptsync_ready 1",
        "scriptsync_dlq_messages 7",
        "scriptsync_build_info{version=",
        "# TYPE scriptsync_changes_consumed_total counter",
        "# TYPE scriptsync_end_to_end_seconds histogram",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains("otel_scope"), "{text}");
}

#[test]
fn the_status_board_is_written_alongside() {
    let m = Metrics::new();
    m.start_at_zero("acme", &[TargetKind::Genesys], &["invalid"]);
    assert_eq!(
        m.board().tenant("acme").targets.keys().collect::<Vec<_>>(),
        [&TargetKind::Genesys]
    );
    m.consumed("acme");
    m.consumed("acme");
    m.inflight_add("acme", 2);
    m.inflight_add("acme", -1);
    m.settled("acme");
    m.push_outcome("acme", TargetKind::Genesys, PushOutcomeLabel::Delivered);
    m.rate_limited("acme", TargetKind::Genesys);
    m.gate_paused("acme", TargetKind::Genesys, 1.5);
    m.gate_rate("acme", TargetKind::Genesys, 270.0);
    m.dead_lettered("acme", "invalid");
    m.dead_lettered("nobody", "unknown_tenant");
    let all = m.board().snapshot();
    let t = all.tenant("acme");
    assert_eq!((t.consumed, t.settled, t.inflight), (2, 1, 1));
    let g = t.target(TargetKind::Genesys);
    assert_eq!(g.pushes.get(PushOutcomeLabel::Delivered), 1);
    assert_eq!(g.rate_limited, 1);
    assert_eq!(g.paused_seconds, 1.5);
    assert_eq!(g.gate_rate, Some(270.0));
    assert_eq!(t.dead_lettered_total(), 1);
    assert_eq!(all.total(|t| t.dead_lettered_total()), 2);
    assert_eq!(all.tenant("else"), Default::default());
}

#[test]
fn last_outcome_keeps_success_and_error() {
    let m = Metrics::new();
    let last = |m: &Metrics| m.board().tenant("acme").target(TargetKind::Genesys).last;
    assert_eq!(last(&m), LastOutcome::default());
    m.request_failed("acme", TargetKind::Genesys, Some(429), &"x".repeat(1000));
    m.request_succeeded("acme", TargetKind::Genesys, 200);
    let last = last(&m);
    assert!(last.last_success.is_some());
    assert_eq!(last.last_error.map(|e| e.len()), Some(MAX_STATUS_ERROR));
    assert_eq!(last.last_status, Some(200));
}

#[test]
fn signal_urls() {
    let base = url::Url::parse("http://127.0.0.1:4318").unwrap();
    assert_eq!(
        signal_url(&base, "traces"),
        "http://127.0.0.1:4318/v1/traces"
    );
    let base = url::Url::parse("http://c:4318/otlp/").unwrap();
    assert_eq!(
        signal_url(&base, "metrics"),
        "http://c:4318/otlp/v1/metrics"
    );
}

#[test]
fn series_per_tenant_are_counted_and_can_be_folded_into_one() {
    let reasons = crate::dlq::Reason::TENANT_REASONS.map(crate::dlq::Reason::as_str);
    let both = [TargetKind::Genesys, TargetKind::Servicenow];
    let series = |m: &Metrics, tenant: &str| {
        m.render()
            .lines()
            .filter(|l| l.contains(&format!("tenant=\"{tenant}\"")))
            .count()
    };
    let per = Metrics::new();
    per.start_at_zero("acme", &both, &reasons);
    per.gate_rate("acme", TargetKind::Genesys, 270.0);
    let n = series(&per, "acme");
    println!("series per tenant at start: {n}");
    // The cardinality the operations guide quotes (the rest appear with events).
    assert!((110..=130).contains(&n), "{n} series per tenant at start");

    let folded = Metrics::new().with_per_tenant_series(false);
    for t in ["acme", "globex"] {
        folded.start_at_zero(t, &both, &reasons);
        folded.consumed(t);
        folded.gate_rate(t, TargetKind::Genesys, 270.0);
    }
    let text = folded.render();
    assert_eq!(series(&folded, "acme"), 0);
    assert!(
        text.contains("scriptsync_changes_consumed_total{tenant=\"_all\"} 2"),
        "{text}"
    );
    assert!(
        !text.contains("scriptsync_gate_rate_per_minute{"),
        "no per-tenant gauge"
    );
    assert_eq!(
        folded.board().tenant("acme").consumed,
        1,
        "/status keeps the detail"
    );
}
