//! The dashboard and the alerts against a real Prometheus (Debian's `prometheus` package) on
//! loopback, scraping a running worker every second with the chart's rule file loaded: every
//! panel query of `helm/scriptsync/files/grafana-dashboard.json` and every alert expression
//! must parse and evaluate through Prometheus's HTTP API, the key panels must return series,
//! and every rule must be evaluated healthy. Without `prometheus` the test says so and passes,
//! unless `SCRIPTSYNC_REQUIRE_PROMETHEUS=1` (CI) makes it fail.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{TestApp, change, eventually, spawn_app_with_admin};
use scriptsync_sim::SimConfig;
use serde_json::Value;

const DASHBOARD: &str = "helm/scriptsync/files/grafana-dashboard.json";
const RULES: &str = "helm/scriptsync/files/prometheus-rules.yaml";
/// Panels that must show data for a worker that consumed, delivered and dead-lettered.
const KEY_PANELS: &[&str] = &[
    "Replicas ready",
    "Tenants consumed / configured",
    "DLQ depth",
    "End to end p99 by tenant and target (5 s disclaimer window)",
    "Requests per minute vs gate ceiling",
    "Deliveries held (lanes' pending)",
    "Pushes by outcome and superseded deliveries",
    "Dead letters by reason (per hour)",
    "HTTP request p99 by target",
    "Tenants consumed per replica",
    "Memory",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A Prometheus server of the test's own; stopped (and its data removed) when dropped.
struct Prometheus {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Prometheus {
    /// Starts one scraping `target` (host:port) every second, with the chart's rules.
    fn start(target: std::net::SocketAddr) -> Option<Self> {
        if Command::new("prometheus")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var("SCRIPTSYNC_REQUIRE_PROMETHEUS").as_deref() != Ok("1"),
                "prometheus is required here (SCRIPTSYNC_REQUIRE_PROMETHEUS=1): apt-get install prometheus"
            );
            eprintln!(
                "prometheus_scrape: prometheus not found (Debian package prometheus); skipped"
            );
            return None;
        }
        let dir = std::env::temp_dir().join(format!("scriptsync-prom-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {rules:?}\n\
             scrape_configs:\n  - job_name: scriptsync\n    static_configs:\n      - targets: [\"{target}\"]\n",
            rules = root().join(RULES).display().to_string(),
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        // A free port: bound and released (Prometheus takes no port 0).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        Some(Self {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    /// An instant query's result (`data.result`), or the error Prometheus gave.
    async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let body: Value = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", expr)])
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        Ok(body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    async fn get(&self, path: &str) -> Option<Value> {
        reqwest::get(format!("{}{path}", self.url))
            .await
            .ok()?
            .json()
            .await
            .ok()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every panel's (title, query) with Grafana's variables as a dashboard would send them.
fn panel_queries() -> Vec<(String, String)> {
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(DASHBOARD)).unwrap()).unwrap();
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().expect("a title").to_owned();
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"]
                .as_str()
                .expect("an expr")
                .replace("$tenant", ".*")
                .replace("$__rate_interval", "1m");
            out.push((title.clone(), expr));
        }
    }
    out
}

/// Every alert's (name, expression) of the rule file.
fn alert_exprs() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join(RULES)).unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(name) = line.trim().strip_prefix("- alert: ") {
            let expr_line = lines.next().expect("expr after alert").trim();
            let expr = match expr_line.strip_prefix("expr: ") {
                Some("|") => {
                    let mut body = String::new();
                    while let Some(next) = lines.peek() {
                        if next.trim_start().starts_with("for:")
                            || next.trim_start().starts_with("labels:")
                        {
                            break;
                        }
                        body.push_str(lines.next().unwrap().trim());
                        body.push(' ');
                    }
                    body
                }
                Some(inline) => inline.to_owned(),
                None => panic!("{name}: no expr line"),
            };
            out.push((name.to_owned(), expr));
        }
    }
    out
}

async fn traffic(app: &TestApp) {
    for (tenant, script) in [("prom-a", "s1"), ("prom-a", "s2"), ("prom-b", "s1")] {
        for version in 1..=3 {
            app.publish(&change(tenant, script, version)).await;
        }
    }
    app.publish_raw("prom-a", b"{ not json").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_and_alert_evaluates_on_a_real_prometheus_scraping_the_worker() {
    let app = spawn_app_with_admin(&["prom-a", "prom-b"], SimConfig::default(), |_| {}).await;
    let Some(prometheus) = Prometheus::start(app.admin.expect("admin bound")) else {
        app.stop().await;
        return;
    };
    eventually("Prometheus scrapes the worker", || async {
        matches!(prometheus.query("up{job=\"scriptsync\"} == 1").await, Ok(r) if !r.is_empty())
    })
    .await;
    // Traffic while it scrapes, so that the rates over the last minute move.
    traffic(&app).await;
    eventually("the changes written, as Prometheus sees them", || async {
        let expr =
            "sum(scriptsync_end_to_end_seconds_count) >= 6 and sum(scriptsync_dlq_messages) >= 1";
        matches!(prometheus.query(expr).await, Ok(r) if !r.is_empty())
    })
    .await;
    traffic(&app).await;

    let panels = panel_queries();
    assert!(panels.len() >= 17, "{} panel queries", panels.len());
    for (title, expr) in &panels {
        if let Err(e) = prometheus.query(expr).await {
            panic!("panel {title:?}: {expr}\n{e}");
        }
    }
    for key in KEY_PANELS {
        let exprs: Vec<&String> = panels
            .iter()
            .filter(|(t, _)| t == key)
            .map(|(_, e)| e)
            .collect();
        assert!(!exprs.is_empty(), "no panel titled {key:?}");
        eventually(&format!("panel {key:?} shows data"), || async {
            for expr in &exprs {
                if matches!(prometheus.query(expr).await, Ok(r) if !r.is_empty()) {
                    return true;
                }
            }
            false
        })
        .await;
    }
    let alerts = alert_exprs();
    assert!(alerts.len() >= 10, "{alerts:?}");
    for (name, expr) in &alerts {
        if let Err(e) = prometheus.query(expr).await {
            panic!("alert {name}: {expr}\n{e}");
        }
    }
    // The rule file as Prometheus loaded it: every rule evaluated, none in error.
    eventually("every alert rule evaluated healthy", || async {
        let Some(rules) = prometheus.get("/api/v1/rules").await else {
            return false;
        };
        let all: Vec<&Value> = rules["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
            .collect();
        all.len() == alerts.len() && all.iter().all(|r| r["health"] == "ok")
    })
    .await;
    let log = prometheus.log();
    assert!(
        !log.contains("level=error"),
        "Prometheus logged errors:\n{log}"
    );
    drop(prometheus);
    app.stop().await;
}
