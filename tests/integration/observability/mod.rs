//! Observability against the real worker (local RabbitMQ, simulator on port 0, admin
//! endpoints on port 0): exact `/metrics` counts after a known scenario, `/readyz` across a
//! broker-side connection close, `/status` during a forced pause, OTLP traces and metrics
//! to a loopback receiver (with the publisher's trace continued), and no export at all when
//! no endpoint is configured (the real binary, its sockets and its log lines inspected).

use crate::common;

mod endpoints;
mod metrics;
mod no_export;
mod otlp;
mod panics;

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
