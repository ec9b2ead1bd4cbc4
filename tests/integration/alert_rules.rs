//! The chart's alerts against Prometheus's own tools: `promtool check rules` parses every
//! rule of `helm/scriptsync/files/prometheus-rules.yaml`, and `promtool test rules` runs
//! `tests/prometheus/rules.test.yaml`, where every alert has series that make it fire and
//! series beside them that must not. promtool comes from Debian's `prometheus` package;
//! without it the test says so and passes, unless `SCRIPTSYNC_REQUIRE_PROMETHEUS=1` (CI)
//! makes it fail.

use std::path::Path;
use std::process::Command;

const RULES: &str = "helm/scriptsync/files/prometheus-rules.yaml";
const RULE_TESTS: &str = "tests/prometheus/rules.test.yaml";

/// `promtool`, if it is installed (or a failure when CI requires it).
fn promtool() -> Option<Command> {
    if Command::new("promtool").arg("--version").output().is_ok() {
        return Some(Command::new("promtool"));
    }
    assert!(
        std::env::var("SCRIPTSYNC_REQUIRE_PROMETHEUS").as_deref() != Ok("1"),
        "promtool is required here (SCRIPTSYNC_REQUIRE_PROMETHEUS=1): apt-get install prometheus"
    );
    eprintln!("alert_rules: promtool not found (Debian package prometheus); rule tests skipped");
    None
}

fn run(mut command: Command) -> String {
    let out = command
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .output()
        .expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool failed:\n{text}");
    text
}

#[test]
fn every_alert_rule_parses() {
    let Some(mut promtool) = promtool() else {
        return;
    };
    promtool.args(["check", "rules", RULES]);
    let out = run(promtool);
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn every_alert_fires_on_its_series_and_only_on_them() {
    let Some(mut promtool) = promtool() else {
        return;
    };
    promtool.args(["test", "rules", RULE_TESTS]);
    let out = run(promtool);
    assert!(out.contains("SUCCESS"), "{out}");
    // Every alert of the rule file has a test case.
    let rules = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(RULES))
        .expect("the rule file");
    let tests = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(RULE_TESTS))
        .expect("the rule tests");
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert!(alerts.len() >= 10, "{alerts:?}");
    for alert in alerts {
        assert!(
            tests.contains(&format!(
                "alertname: {alert}\n        exp_alerts:\n          - "
            )),
            "{alert} has no case where it fires"
        );
        assert!(
            tests.contains(&format!("alertname: {alert}\n        exp_alerts: []")),
            "{alert} has no case where it stays quiet"
        );
    }
}

#[test]
fn every_alert_has_its_runbook_section() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules = std::fs::read_to_string(root.join(RULES)).expect("the rule file");
    let guide = std::fs::read_to_string(root.join("docs/operations.md")).expect("the guide");
    let mut alert = None;
    let mut checked = 0;
    for line in rules.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("- alert: ") {
            alert = Some(name);
        }
        if let Some(url) = line.strip_prefix("runbook_url: ") {
            let name = alert.expect("a runbook_url inside an alert");
            assert_eq!(
                url,
                format!("docs/operations.md#{}", name.to_lowercase()),
                "{name}'s runbook_url"
            );
            assert!(
                guide.contains(&format!("\n### {name}\n")),
                "docs/operations.md has no section for {name}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked} runbooks");
}
