//! `scriptsync publish` and `scriptsync::publish` against the real RabbitMQ, the in-process
//! worker and the simulator: invalid lines reported by number and field, the rest
//! published and delivered; a tenant without a queue reported as unroutable; `--dry-run`
//! connecting to nothing; the AMQP properties of a published change.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_lines_with_three_invalid_publish_997_and_the_worker_delivers_them() {
    let app = spawn_app(&["pub-rt"], |_| {}).await;
    let config = app.write_config();
    let (text, newest) = publish_lines("pub-rt");
    let (code, out, err) = publish_file(&config, "changes.jsonl", &text).await;

    assert_eq!(code, 1, "three lines failed: exit 1\n{out}\n{err}");
    let problems = problem_lines(&err);
    assert_eq!(problems.len(), 3, "{err}");
    for ((line, field), problem) in BAD_LINES.iter().zip(&problems) {
        assert!(
            problem.starts_with(&format!("line {line}: invalid: ")) && problem.contains(field),
            "line {line} names {field}: {problem}"
        );
    }
    assert!(
        out.contains("read 1000, invalid 3, published 997, unroutable 0, failed 0"),
        "{out}"
    );

    app.wait_settled("pub-rt", 997).await;
    eventually("the simulator holds every script's newest version", || {
        let state = app.sim_state();
        let held = |target: &scriptsync_sim::TargetState| {
            newest
                .iter()
                .all(|(s, v)| held_version(target, s) == Some(*v))
        };
        let t = state.tenant("pub-rt");
        async move { held(&t.genesys) && held(&t.servicenow) }
    })
    .await;
    assert_eq!(
        app.depth(&app.names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
    app.stop().await;
}

fn held_version(target: &scriptsync_sim::TargetState, script: &str) -> Option<u64> {
    target.held.get(script).map(|h| h.version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_without_a_queue_is_unroutable_and_not_counted_as_published() {
    let app = spawn_app(&["pub-known"], |_| {}).await;
    let config = app.write_config();
    let text = [
        good_line("pub-known", 1),
        good_line("pub-ghost", 2),
        good_line("pub-ghost", 3),
        good_line("pub-known", 4),
    ]
    .join("\n");
    let (code, out, err) = publish_file(&config, "mixed.jsonl", &text).await;

    assert_eq!(code, 1, "{out}\n{err}");
    let problems = problem_lines(&err);
    assert_eq!(problems.len(), 2, "{err}");
    for (line, problem) in [2, 3].iter().zip(&problems) {
        assert!(
            problem.starts_with(&format!("line {line}: unroutable"))
                && problem.contains(&app.names.tenant_queue("pub-ghost")),
            "{problem}"
        );
    }
    assert!(
        out.contains("read 4, invalid 0, published 2, unroutable 2, failed 0"),
        "{out}"
    );
    // The known tenant's changes arrive; the ghost's were never sent, so the worker (which
    // dead-letters whatever reaches the unrouted queue) has nothing of them.
    app.wait_settled("pub-known", 2).await;
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    assert_eq!(app.depth(&app.names.unrouted()).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_validates_without_connecting() {
    let dir = std::env::temp_dir().join(format!("scriptsync-dry-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    // Only [broker], no tenants: enough for a publisher. Nothing listens on port 1, so any
    // connection attempt would fail the run.
    let config = write_input(
        &dir,
        "publisher.toml",
        "[broker]\nurl = \"amqp://127.0.0.1:1/%2f\"\nprefix = \"nowhere\"\n",
    );
    let config = config.to_str().unwrap();
    let (text, _) = publish_lines("pub-dry");
    let input = write_input(&dir, "changes.jsonl", &text);
    let (code, out, err) = dry_run(config, &input).await;
    assert_eq!(code, 1, "{out}\n{err}");
    let lines: Vec<String> = problem_lines(&err)
        .iter()
        .map(|p| p.split(':').next().unwrap().to_owned())
        .collect();
    assert_eq!(lines, ["line 100", "line 500", "line 900"], "{err}");
    assert!(
        out.contains("dry run: read 1000, invalid 3, valid 997, published 0"),
        "{out}"
    );

    let clean: String = (1..=20).map(|n| good_line("pub-dry", n) + "\n").collect();
    let clean = write_input(&dir, "clean.jsonl", &clean);
    let (code, out, err) = dry_run(config, &clean).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("valid 20"), "{out}");
    assert!(err.is_empty(), "{err}");

    // The README's config for the simulator serves a publisher as it is: only [broker] is
    // read, so the tenants' secret (SCRIPTSYNC_SIM_SECRET) is not needed.
    let sim_config = concat!(env!("CARGO_MANIFEST_DIR"), "/config/sim.toml");
    let (code, out, err) = dry_run(sim_config, &clean).await;
    assert_eq!(code, 0, "{out}\n{err}");

    // Without --dry-run the same clean file needs the broker, and says it cannot reach it.
    let (code, _, err) = run_cli(&["publish", "--config", config, clean.to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(err.contains("cannot connect to RabbitMQ"), "{err}");

    let missing = dir.join("missing.jsonl");
    let (code, _, err) = run_cli(&["publish", "--dry-run", missing.to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("cannot read input {}", missing.display())),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_array_on_stdin_is_published_with_the_worker_s_properties() {
    let app = spawn_app(&["pub-props"], |_| {}).await;
    // The tenant's queue as the worker would declare it, with no worker consuming it.
    let queue = app.names.tenant_queue("pub-parked");
    app.bind_queue(&queue, "pub-parked").await;
    let config = app.write_config();
    let changes: Vec<ScriptChange> = (1..=3)
        .map(|n| serde_json::from_str(&good_line("pub-parked", n)).unwrap())
        .collect();
    let array = serde_json::to_string_pretty(&changes).unwrap();
    let (code, out, err) = run_cli_with_stdin(
        &["publish", "--config", config.to_str().unwrap(), "-"],
        array.as_bytes(),
    )
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("read 3, invalid 0, published 3"), "{out}");

    let ch = app.conn.create_channel().await.unwrap();
    for expected in &changes {
        let msg = ch
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
            .expect("each change is in the tenant's queue, in order");
        let props = &msg.delivery.properties;
        let body: ScriptChange = serde_json::from_slice(&msg.delivery.data).unwrap();
        assert_eq!(&body, expected);
        assert_eq!(msg.delivery.routing_key.as_str(), "pub-parked");
        assert_eq!(props.delivery_mode(), &Some(2), "persistent");
        assert_eq!(
            props.content_type().as_ref().map(|c| c.as_str()),
            Some("application/json")
        );
        assert_eq!(
            props.message_id().as_ref().map(|m| m.as_str()),
            Some(expected.id())
        );
        let now = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
        assert!(props.timestamp().is_some_and(|t| t > 0 && t <= now));
        let headers = props.headers().clone().unwrap_or_default();
        let traceparent = match headers.inner().get("traceparent") {
            Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            other => panic!("traceparent header: {other:?}"),
        };
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [2, 32, 16, 2]
        );
    }
    app.delete_queue(&queue).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_publisher_refuses_an_unknown_tenant_and_confirms_a_known_one() {
    let app = spawn_app(&["pub-api"], |_| {}).await;
    let mut publisher = ChangePublisher::connect(&app.settings.broker)
        .await
        .unwrap();
    let known = ScriptChange::builder("api-1", "pub-api", "welcome", 1, "h1")
        .build()
        .unwrap();
    publisher.publish(&known).await.unwrap();
    let ghost = ScriptChange::builder("api-2", "pub-api-ghost", "welcome", 1, "h1")
        .build()
        .unwrap();
    let refused = publisher.publish(&ghost).await.unwrap_err();
    assert!(
        matches!(&refused, PublishFailure::Unroutable { tenant, .. } if tenant == "pub-api-ghost"),
        "{refused}"
    );
    app.wait_settled("pub-api", 1).await;
    publisher.close().await;

    // A prefix whose topology nobody declared is a clear error, not a failed publish later.
    let mut elsewhere = app.settings.broker.clone();
    elsewhere.prefix = format!("{}-undeclared", elsewhere.prefix);
    let err = ChangePublisher::connect(&elsewhere).await.err().unwrap();
    assert!(err.to_string().contains("does not exist"), "{err}");
    app.stop().await;
}

/// Each file of the invalid corpora of changes and retires (named after the field at fault)
/// is reported with that field, whatever rule it breaks.
#[test]
fn every_invalid_corpus_file_is_reported_with_its_field() {
    assert!(fields_named_in("changes") > 80);
    assert!(fields_named_in("retires") > 25);
}

/// How many files of `tests/data/<messages>/invalid` named a field (each one that names a
/// field of the schemas must be reported with it).
fn fields_named_in(messages: &str) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(messages)
        .join("invalid");
    let fields = [
        "genesys_version_id",
        "version_hash",
        "published_at",
        "campaign_id",
        "script_id",
        "attributes",
        "disclaimer",
        "priority",
        "targets",
        "version",
        "schema",
        "tenant",
        "id",
    ];
    let mut checked = 0;
    for file in std::fs::read_dir(&dir).unwrap() {
        let path = file.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let body = std::fs::read(&path).unwrap();
        let entries: Vec<_> = Entries::new(body.as_slice(), 65_536).collect();
        // As a message body these two are invalid; as publish input, one is blank and the
        // other an array holding one valid change.
        match name.as_str() {
            "body-empty" => {
                assert!(entries.is_empty(), "{name}: blank input has no entries");
                continue;
            }
            "body-array" => {
                assert!(entries.len() == 1 && entries[0].as_ref().unwrap().change.is_ok());
                continue;
            }
            _ => {}
        }
        let errors: Vec<String> = entries
            .into_iter()
            .filter_map(|e| e.unwrap().change.err().map(|e| e.0))
            .collect();
        assert!(!errors.is_empty(), "{name}: accepted");
        let bare = name
            .strip_prefix("missing-")
            .unwrap_or(&name)
            .replace('-', "_");
        let Some(field) = fields.iter().find(|f| bare.starts_with(*f)) else {
            continue; // body-*, positional-array, extra-field: no field of the schema at fault
        };
        assert!(
            errors.iter().any(|e| e.contains(field)),
            "{name}: {errors:?} does not name {field}"
        );
        checked += 1;
    }
    checked
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

/// A retire goes out like a change, from the library and from `scriptsync publish`: routed
/// by tenant, with its id as message id, and its body byte for byte what was given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retire_is_published_and_arrives_byte_for_byte() {
    let app = spawn_app(&["pub-ret"], |_| {}).await;
    // The tenant's queue as the worker would declare it, with no worker consuming it.
    let queue = app.names.tenant_queue("pub-ret-parked");
    app.bind_queue(&queue, "pub-ret-parked").await;

    let mut publisher = ChangePublisher::connect(&app.settings.broker)
        .await
        .unwrap();
    let retire = ScriptChange::retire_builder("lib-retire", "pub-ret-parked", "welcome", 9)
        .priority(scriptsync::change::Priority::Compliance)
        .build()
        .unwrap();
    publisher.publish(&retire).await.unwrap();
    publisher.close().await;
    let (body, id) = next_message(&app, &queue).await;
    assert_eq!(body, serde_json::to_vec(&retire).unwrap());
    assert_eq!(id.as_deref(), Some("lib-retire"));
    let decoded = scriptsync::change::decode(&body, "pub-ret-parked", 65_536).unwrap();
    assert_eq!(
        (decoded.operation(), &decoded),
        (Operation::Retire, &retire)
    );

    let lines = [
        good_line("pub-ret-parked", 1),
        retire_line("pub-ret-parked", 2),
    ];
    let config = app.write_config();
    let (code, out, err) = publish_file(&config, "retire.jsonl", &lines.join("\n")).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("read 2, invalid 0, published 2"), "{out}");
    for line in &lines {
        let (body, _) = next_message(&app, &queue).await;
        assert_eq!(String::from_utf8(body).unwrap(), *line);
    }
    app.delete_queue(&queue).await;
    app.stop().await;
}

/// An invalid retire is refused before anything is sent, saying which line and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_retire_is_refused_with_a_clear_message() {
    let app = spawn_app(&["pub-ret-bad"], |_| {}).await;
    let queue = app.names.tenant_queue("pub-ret-bad-parked");
    app.bind_queue(&queue, "pub-ret-bad-parked").await;
    let good = retire_line("pub-ret-bad-parked", 1);
    let text = [
        good.clone(),
        good.replace(r#""version":41"#, r#""version":41,"version_hash":"h41""#),
        good.replace(r#""version":41"#, r#""version":0"#),
        good.replace("script-retire/v1", "script-retire/v2"),
    ]
    .join("\n");
    let config = app.write_config();
    let (code, out, err) = publish_file(&config, "bad-retires.jsonl", &text).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("read 4, invalid 3, published 1"), "{out}");
    let problems = problem_lines(&err);
    assert_eq!(
        problems,
        [
            "line 2: invalid: not a valid script change: version_hash: unknown field \
             `version_hash`, expected one of `schema`, `id`, `tenant`, `script_id`, `version`, \
             `published_at`, `targets`, `priority`",
            "line 3: invalid: not a valid script change: version must be between 1 and \
             9007199254740991",
            "line 4: invalid: not a valid script change: schema must be \"script-change/v1\" or \
             \"script-retire/v1\", got \"script-retire/v2\"",
        ],
        "{err}"
    );
    app.wait_depth(&queue, 1).await;
    let (body, _) = next_message(&app, &queue).await;
    assert_eq!(String::from_utf8(body).unwrap(), good);
    app.delete_queue(&queue).await;
    app.stop().await;
}
