//! `scriptsync demo` as a newcomer runs it: the real binary, the local RabbitMQ, exit 0 and a
//! summary with 0 violations and a passed check.

use std::process::Command;

#[test]
fn demo_exits_zero_with_zero_violations() {
    let out = Command::new(env!("CARGO_BIN_EXE_scriptsync"))
        .args(["demo", "--plain", "--timeout-secs", "600"])
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let violations = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("violations"))
        .expect("summary has a violations line");
    assert_eq!(
        violations.split_whitespace().nth(1),
        Some("0"),
        "{violations}"
    );
    assert!(stdout.contains("PASS"), "{stdout}");
    assert!(stdout.contains("published              1025"), "{stdout}");
    let retired = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("retired"))
        .expect("summary has a retired line");
    // 5 tenants × 5 retires reach ServiceNow as records; at Genesys a retire needs a request
    // only when the script's row was written before it.
    let retired: u64 = retired
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!((25..=50).contains(&retired), "{retired}");
}

#[test]
fn demo_without_a_broker_says_how_to_start_one() {
    let out = Command::new(env!("CARGO_BIN_EXE_scriptsync"))
        .args(["demo", "--broker-url", "amqp://127.0.0.1:1/%2f"])
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rabbitmq-server -detached"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one clear line: {stderr}");
}
