//! The publisher examples of `schemas/README.md` (`schemas/examples/publish.py` with pika,
//! `schemas/examples/publish.js` with amqplib) run against the local RabbitMQ and a worker
//! in-process on the simulator: each publishes one change, which must reach both targets,
//! (and, the tenant having `publish_scripts`, its Genesys script version published),
//! with the AMQP properties the README promises (persistent, `application/json`,
//! `message_id` = the change id, a timestamp, a `traceparent` header). Each also publishes a
//! retire (`--retire`), which arrives with the same properties as a `script-retire/v1`. A
//! change for a tenant without a queue is confirmed to the publisher and dead-lettered as
//! `unknown_tenant`.
//!
//! When pika or amqplib is missing the test prints `SKIPPED: …` and passes, unless
//! `SCRIPTSYNC_REQUIRE_EXAMPLES=1` (CI sets it, after `.ci/run` installs both), where it fails.

mod python_and_node;

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{DEADLINE, TestApp, eventually, spawn_app};
use lapin::options::{BasicAckOptions, BasicGetOptions};
use lapin::types::AMQPValue;
use scriptsync::change::{Operation, ScriptChange};
use tokio::process::Command;

/// URL the examples get: the test broker, with its credentials spelled out.
const EXAMPLE_BROKER_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const REQUIRE_ENV: &str = "SCRIPTSYNC_REQUIRE_EXAMPLES";
/// The Genesys script version the examples ask to publish (the tenant has `publish_scripts`).
const GENESYS_VERSION_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/examples")
}

/// One example: how to run it, and how to check its library is installed.
struct Example {
    name: &'static str,
    program: &'static str,
    script: &'static str,
    probe: &'static [&'static str],
    install: &'static str,
}

const PYTHON: Example = Example {
    name: "Python (pika)",
    program: "python3",
    script: "publish.py",
    probe: &["-c", "import pika"],
    install: "pip install -r schemas/examples/requirements.txt",
};

const NODE: Example = Example {
    name: "Node (amqplib)",
    program: "node",
    script: "publish.js",
    probe: &["-e", "require('amqplib')"],
    install: "(cd schemas/examples && npm ci)",
};

/// `Ok` when the example can run here; `Err` with what is missing.
async fn available(example: &Example) -> Result<(), String> {
    let probe = Command::new(example.program)
        .args(example.probe)
        .current_dir(examples_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    match probe {
        Ok(status) if status.success() => Ok(()),
        Ok(_) => Err(format!("{} cannot load its AMQP library", example.program)),
        Err(e) => Err(format!("{}: {e}", example.program)),
    }
}

/// True when `example` should run; false (after saying so) when it is skipped. Panics when
/// it cannot run and `SCRIPTSYNC_REQUIRE_EXAMPLES=1`.
async fn should_run(example: &Example) -> bool {
    let Err(missing) = available(example).await else {
        return true;
    };
    let hint = format!("run .ci/run, or {}", example.install);
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!(
            "{REQUIRE_ENV}=1 but the {} example cannot run: {missing}; {hint}",
            example.name
        );
    }
    println!(
        "SKIPPED: the {} publisher example ({missing}; {hint})",
        example.name
    );
    false
}

/// Runs `example` with `args`; panics with its output unless it exits 0 within the deadline.
async fn run_example(example: &Example, args: &[String]) {
    let mut command = Command::new(example.program);
    command
        .arg(examples_dir().join(example.script))
        .args(args)
        .current_dir(examples_dir())
        .env_remove("AMQP_URL")
        .env_remove("SCRIPTSYNC_EXCHANGE")
        .env_remove("SCRIPTSYNC_TENANT")
        .kill_on_drop(true);
    let output = tokio::time::timeout(DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("{} example still running after {DEADLINE:?}", example.name))
        .unwrap_or_else(|e| panic!("{} example does not start: {e}", example.name));
    assert!(
        output.status.success(),
        "{} example failed ({}):\nstdout: {}\nstderr: {}",
        example.name,
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The arguments every example run takes: where, whose script, which version, which id.
fn common_args(app: &TestApp, tenant: &str, script: &str, version: u64, id: &str) -> Vec<String> {
    let (exchange, version) = (app.names.exchange(), version.to_string());
    [
        "--url",
        EXAMPLE_BROKER_URL,
        "--exchange",
        &exchange,
        "--tenant",
        tenant,
        "--script-id",
        script,
        "--version",
        &version,
        "--id",
        id,
        "--priority",
        "compliance",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The arguments of a change of `script` at `version`, with a disclaimer and a Genesys
/// script version to publish.
fn example_args(app: &TestApp, tenant: &str, script: &str, version: u64, id: &str) -> Vec<String> {
    let mut args = common_args(app, tenant, script, version, id);
    let content = [
        "--disclaimer",
        "Calls are recorded — gravações (example)",
        "--genesys-version-id",
        GENESYS_VERSION_ID,
    ];
    args.extend(content.map(str::to_owned));
    args
}

/// The arguments of a retire of `script` at `version`: no content, a priority.
fn retire_args(app: &TestApp, tenant: &str, script: &str, version: u64, id: &str) -> Vec<String> {
    let mut args = common_args(app, tenant, script, version, id);
    args.push("--retire".to_owned());
    args
}

/// Takes the one message in `queue`, checks the AMQP properties the README promises, and
/// returns it decoded (routing key `tenant`).
async fn assert_properties(
    app: &TestApp,
    queue: &str,
    tenant: &str,
    id: &str,
    example: &str,
) -> ScriptChange {
    let ch = app.conn.create_channel().await.unwrap();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let delivery = loop {
        if let Some(msg) = ch
            .basic_get(queue.into(), BasicGetOptions::default())
            .await
            .unwrap()
        {
            msg.delivery.ack(BasicAckOptions::default()).await.unwrap();
            break msg.delivery;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{example}: no copy in {queue} within {DEADLINE:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let _ = ch.close(200, "ok".into()).await;
    let p = &delivery.properties;
    assert_eq!(*p.delivery_mode(), Some(2), "{example}: persistent");
    assert_eq!(
        p.content_type().as_ref().map(|c| c.as_str()),
        Some("application/json"),
        "{example}: content type"
    );
    assert_eq!(
        p.message_id().as_ref().map(|m| m.as_str()),
        Some(id),
        "{example}: message_id = change id"
    );
    assert!(p.timestamp().is_some(), "{example}: timestamp");
    let headers = p.headers().clone().unwrap_or_default();
    let traceparent = match headers.inner().get("traceparent") {
        Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        other => panic!("{example}: traceparent header is {other:?}"),
    };
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert!(
        parts.len() == 4
            && parts[0] == "00"
            && parts[1].len() == 32
            && parts[2].len() == 16
            && traceparent
                .chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit()),
        "{example}: traceparent {traceparent:?} is not W3C"
    );
    let body: serde_json::Value = serde_json::from_slice(&delivery.data).unwrap();
    let change = scriptsync::change::decode(&delivery.data, tenant, 64 * 1024)
        .unwrap_or_else(|e| panic!("{example}: body {body} does not decode: {e}"));
    assert_eq!(change.id(), id);
    change
}
