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

/// `bench --help` explains scenario H's bound in the words of `docs/performance.md`, which
/// says it prints the same paragraph: the two may not drift apart.
#[test]
fn long_help_prints_the_bound_formula_the_performance_guide_gives() {
    let out = bench(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    let guide = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/performance.md"),
    )
    .unwrap();
    // From "what no sender" to "1 is optimal).", markup and line breaks aside.
    let paragraph = |text: &str| -> String {
        let text = text.replace('`', "").replace("**", "");
        let words: Vec<&str> = text.split_whitespace().collect();
        let joined = words.join(" ");
        let lower = joined.to_lowercase();
        let start = lower
            .find("what no sender")
            .expect("the bound's first words");
        let end = lower[start..]
            .find("1 is optimal).")
            .expect("its last words")
            + start;
        lower[start..end + "1 is optimal).".len()].to_owned()
    };
    let (in_help, in_guide) = (paragraph(&help), paragraph(&guide));
    assert!(in_help.contains("floor(requests × headroom)"), "{in_help}");
    assert_eq!(
        in_help, in_guide,
        "bench --help and docs/performance.md disagree"
    );
}
