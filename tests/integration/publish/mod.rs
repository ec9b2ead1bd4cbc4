//! `scriptsync publish` and `scriptsync::publish` against the real RabbitMQ, the in-process
//! worker and the simulator: invalid lines reported by number and field, the rest
//! published and delivered; a tenant without a queue reported as unroutable; `--dry-run`
//! connecting to nothing; the AMQP properties of a published change.

mod corpus;
mod lines;
mod retires;
mod stdin_and_library;

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{eventually, run_cli, run_cli_with_stdin, spawn_app};
use lapin::options::BasicGetOptions;
use lapin::types::AMQPValue;
use scriptsync::change::{Operation, ScriptChange};
use scriptsync::publish::{ChangePublisher, Entries, PublishFailure};

/// The lines `publish_lines` makes invalid, and the field each error must name.
const BAD_LINES: [(usize, &str); 3] = [(100, "version_hash"), (500, "version"), (900, "JSON")];
const SCRIPTS: usize = 50;

/// Line `n` (1-based) of the round-trip input: script `s{n % SCRIPTS}`, version rising with `n`.
fn good_line(tenant: &str, n: usize) -> String {
    let script = format!("s{}", n % SCRIPTS);
    let version = (n / SCRIPTS + 1) as u64;
    let change = ScriptChange::builder(
        format!("{tenant}-line-{n}"),
        tenant,
        script,
        version,
        format!("hash-{version}"),
    )
    .disclaimer(format!("Disclaimer of line {n}"))
    .build()
    .unwrap();
    serde_json::to_string(&change).unwrap()
}

/// 1,000 lines of `tenant`'s changes, three of them invalid ([`BAD_LINES`]); with the newest
/// valid version of every script.
fn publish_lines(tenant: &str) -> (String, BTreeMap<String, u64>) {
    let mut lines = Vec::new();
    let mut newest = BTreeMap::new();
    for n in 1..=1000 {
        let line = good_line(tenant, n);
        let bad = match n {
            100 => line.replace(r#""version_hash":"hash-3","#, ""),
            500 => line.replacen(r#""version":11"#, r#""version":"11""#, 1),
            900 => line[..line.len() / 2].to_owned(),
            _ => {
                newest.insert(format!("s{}", n % SCRIPTS), (n / SCRIPTS + 1) as u64);
                line
            }
        };
        lines.push(bad);
    }
    (lines.join("\n") + "\n", newest)
}

fn write_input(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Writes `text` beside `config` as `name` and runs `scriptsync publish --config` on it.
async fn publish_file(config: &Path, name: &str, text: &str) -> (i32, String, String) {
    let input = write_input(config.parent().unwrap(), name, text);
    let args = [
        "publish",
        "--config",
        config.to_str().unwrap(),
        input.to_str().unwrap(),
    ];
    run_cli(&args).await
}

/// `scriptsync publish --config CONFIG --dry-run INPUT`.
async fn dry_run(config: &str, input: &Path) -> (i32, String, String) {
    run_cli(&[
        "publish",
        "--config",
        config,
        "--dry-run",
        input.to_str().unwrap(),
    ])
    .await
}

fn problem_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("line ")).collect()
}

fn held_version(target: &scriptsync_sim::TargetState, script: &str) -> Option<u64> {
    target.held.get(script).map(|h| h.version)
}

/// A retire as a publisher writes it, canonical (the order and spacing serde writes), so the
/// published body is the line itself.
fn retire_line(tenant: &str, n: usize) -> String {
    let retire =
        ScriptChange::retire_builder(format!("{tenant}-retire-{n}"), tenant, "s1", 40 + n as u64)
            .published_at("2026-11-27T10:00:00Z")
            .build()
            .unwrap();
    serde_json::to_string(&retire).unwrap()
}

/// Takes the next message of `queue` (none consumes it): its body and message id.
async fn next_message(app: &common::TestApp, queue: &str) -> (Vec<u8>, Option<String>) {
    let ch = app.conn.create_channel().await.unwrap();
    let msg = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("a message in {queue}"));
    let id = msg
        .delivery
        .properties
        .message_id()
        .as_ref()
        .map(|m| m.to_string());
    let _ = ch.close(200, "ok".into()).await;
    (msg.delivery.data, id)
}
