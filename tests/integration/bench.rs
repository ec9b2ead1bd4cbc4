//! `scriptsync bench` at its edges (the scenarios themselves run in `.ci/run` as
//! `bench --quick`): it refuses to run without a broker, saying how to start one, before
//! doing anything; and `--only` takes scenario letters and nothing else.

use std::process::Command;

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_scriptsync"))
        .arg("bench")
        .args(args)
        .env_remove("SCRIPTSYNC_BENCH_BROKER")
        .output()
        .expect("the binary runs")
}

#[test]
fn refuses_without_a_broker_and_says_how_to_start_one() {
    let out = bench(&[
        "--broker-url",
        "amqp://127.0.0.1:1/%2f",
        "--only",
        "A",
        "--plain",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rabbitmq-server -detached"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "no table: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn only_takes_scenario_letters() {
    for bad in ["Z", "AB", "1", ""] {
        let out = bench(&["--only", bad, "--broker-url", "amqp://127.0.0.1:1/%2f"]);
        assert_eq!(out.status.code(), Some(2), "--only {bad:?}: {out:?}");
    }
    // Lower case and lists are accepted (then the missing broker stops it).
    let out = bench(&["--only", "a,h", "--broker-url", "amqp://127.0.0.1:1/%2f"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn long_help_prints_the_bound_formula() {
    let out = bench(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Quota-optimal lower bound"), "{text}");
    assert!(text.contains("floor(requests × headroom)"), "{text}");
}
