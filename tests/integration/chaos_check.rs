//! `scriptsync chaos check FILE`, as a user runs it: a clean history exits 0 with every
//! guarantee held; a history with a change that never reached ServiceNow exits 1, names the
//! guarantee, prints the events of that script and the run's seed; a line that is not an event
//! is an error naming the line.

use crate::common::run_cli;

const BEGAN: &str = r#"{"event":"began","seed":42,"duration_ms":90000,"in_quota":["t1"]}"#;

/// A history file of `lines`, removed when dropped.
struct HistoryFile(std::path::PathBuf);

impl HistoryFile {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for HistoryFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn history(lines: &[&str]) -> HistoryFile {
    let name = format!("scriptsync-history-{}.jsonl", uuid::Uuid::new_v4().simple());
    let file = HistoryFile(std::env::temp_dir().join(name));
    std::fs::write(file.path(), lines.join("\n")).unwrap();
    file
}

/// A change published at 1 s, at Genesys at 1.2 s and (unless `lost`) at ServiceNow at 1.3 s;
/// no pause entered, its own credentials, flat memory.
fn run(lost: bool) -> Vec<String> {
    let mut lines = vec![
        BEGAN.to_owned(),
        r#"{"event":"published","at_ms":1000,"tenant":"t1","script":"s1","version":1,"targets":["genesys","servicenow"],"retire":false}"#.to_owned(),
        r#"{"event":"applied","at_ms":1200,"tenant":"t1","target":"genesys","script":"s1","version":1,"deleted":false}"#.to_owned(),
    ];
    if !lost {
        lines.push(r#"{"event":"applied","at_ms":1300,"tenant":"t1","target":"servicenow","script":"s1","version":1,"deleted":false}"#.to_owned());
    }
    lines.push(
        r#"{"event":"into_pause","at_ms":80000,"tenant":"t1","target":"genesys","count":0}"#
            .to_owned(),
    );
    lines.push(
        r#"{"event":"credential","at_ms":80000,"tenant":"t1","target":"genesys","principal":"t1"}"#
            .to_owned(),
    );
    for at in [5_000, 85_000] {
        lines.push(format!(
            r#"{{"event":"rss","at_ms":{at},"worker":"w1","bytes":31457280}}"#
        ));
    }
    lines
}

#[tokio::test]
async fn a_clean_history_holds_and_a_lost_change_fails_with_its_events_and_the_seed() {
    let clean = run(false);
    let file = history(&clean.iter().map(String::as_str).collect::<Vec<_>>());
    let (code, out, err) = run_cli(&["chaos", "check", file.path().to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("held")).count(),
        7,
        "{out}"
    );

    let lost = run(true);
    let file = history(&lost.iter().map(String::as_str).collect::<Vec<_>>());
    let (code, out, err) = run_cli(&["chaos", "check", file.path().to_str().unwrap()]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("FAILED nothing lost: 1 of 2 (tenant, script, target) at their newest version, 0 in the DLQ with a permanent reason, 1 lost (first: t1 s1 at servicenow)"),
        "{out}"
    );
    assert!(
        out.contains(r#""event":"published","at_ms":1000"#),
        "the evidence: {out}"
    );
    assert!(out.contains("the run's seed: 42"), "{out}");
}

#[tokio::test]
async fn a_line_that_is_not_an_event_is_an_error_naming_it() {
    let file = history(&[BEGAN, r#"{"event":"teleported","at_ms":3}"#]);
    let (code, out, err) = run_cli(&["chaos", "check", file.path().to_str().unwrap()]).await;
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("line 2: not a history event"), "{err}");
}
