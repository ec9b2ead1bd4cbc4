//! No dead docs: every fenced block in `README.md`, `docs/*.md` and `schemas/README.md` is
//! checked against the code, by its info string (the word after the opening fence):
//!
//! - ` ```toml `: a scriptsync configuration, loaded by the real loader
//!   (`Settings::load_with_env`, what `scriptsync check-config` calls) from a temporary file.
//!   A block holding `[[tenants]]` is a whole config. A block whose first table is
//!   `[tenants.…]` is one tenant's part, loaded after `[[tenants]]` / `id = "snippet"`. Any
//!   other block is top-level settings, loaded with a base tenant appended. Every
//!   `*_env = "NAME"` it names is set (to a dummy) in the loader's environment, and every
//!   `password_file` / `client_secret_file` path is replaced by a temporary file holding a
//!   dummy, since those only exist in production. TOML that is not a scriptsync config must
//!   use another info string (` ```text `).
//!   A `tenants_dir` is replaced by an empty temporary directory. A block preceded by
//!   `<!-- snippet: tenant-file -->` is one file of a tenants directory instead, read by the
//!   worker's own reader (`read_tenant_file`) with its secret files stood in for.
//!   A block preceded by the HTML comment `<!-- snippet: file=NAME -->` is also written to a
//!   temporary `NAME`, so the commands of that document that name the file run against it.
//! - ` ```sh `, ` ```bash `, ` ```console ` (only its `$ ` lines): each command (continued
//!   lines joined, `# comments` dropped, split at `&&`, `||`, `;`, `|`, leading `VAR=value`
//!   kept as the command's environment) must be one of:
//!   - a scriptsync invocation (`scriptsync …`, `target/<profile>/scriptsync …`,
//!     `cargo run [flags] -- …`, `kubectl … -- scriptsync …`, or a shell alias defined earlier
//!     in the same document whose expansion is one): parsed with `scriptsync::cli::Cli`; those that are
//!     safe and quick are also run with the real binary: `check-config` on a repo file or a
//!     `file=` snippet (with the command's environment), and `--help`;
//!   - a program in [`ALLOWED`], each with the reason it is not run here. Arguments that name
//!     repository paths (`schemas/…`, `config/…`, `docs/…`, `helm/…`) must exist.
//! - ` ```json `: must parse. An object with `"schema": "script-change/v1"` must pass
//!   `schemas/script-change.v1.json` and `scriptsync::change::decode` (as an upsert), one with
//!   `"schema": "script-retire/v1"` `schemas/script-retire.v1.json` and `decode` (as a retire),
//!   and any other `"schema": "script-…"` fails (a message no schema has); an object of `u_*`
//!   fields must have exactly the fields of the ServiceNow import record the target sends;
//!   an object with `key` and `versionHash` only columns the Genesys target writes.
//! - ` ```python `, ` ```js ` / ` ```javascript `: an excerpt of `schemas/examples/` (every
//!   non-blank line, trimmed, occurs in a file there of that language), which
//!   `tests/integration/publisher_examples.rs` runs. A block preceded by
//!   `<!-- snippet: servicenow-transform -->` is the ServiceNow transform script instead: it
//!   is run with `node` on sample records (skipped, with a message, when node is missing,
//!   unless `SCRIPTSYNC_REQUIRE_EXAMPLES=1`).
//! - no info string, ` ```text `, ` ```yaml `: prose (arithmetic, output, chart values), not checked.
//!
//! Any other info string fails the test, so a new kind of block needs a rule here first.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use clap::error::ErrorKind;
use scriptsync::change::{Operation, decode};
use scriptsync::cli::Cli;
use scriptsync::config::Settings;
use serde_json::Value;

/// Programs the docs may show without this test running them, and why.
const ALLOWED: &[(&str, &str)] = &[
    (
        "cargo",
        "the Rust toolchain; `cargo run -- ARGS` is parsed as a scriptsync invocation, and CI runs `cargo test` itself",
    ),
    (
        "python3",
        "runs schemas/examples/publish.py, which tests/integration/publisher_examples.rs runs against a worker",
    ),
    (
        "node",
        "runs schemas/examples/publish.js, which tests/integration/publisher_examples.rs runs against a worker",
    ),
    (
        "pip",
        "installs the Python example's pinned requirements (.ci/run does the same)",
    ),
    (
        "npm",
        "installs the Node example's locked dependencies (.ci/run does the same)",
    ),
    ("cd", "changes directory"),
    ("export", "sets a variable"),
    (
        "alias",
        "defines a shell alias; each use of it is checked with the alias expanded",
    ),
    (
        "curl",
        "talks to a running simulator, worker or vendor API, which a unit of docs cannot start",
    ),
    ("jq", "reshapes JSON for a vendor API call"),
    (
        "rabbitmqctl",
        "the broker's admin tool, on the operator's broker",
    ),
    ("rabbitmq-server", "starts a broker"),
    ("rabbitmq-queues", "the broker's quorum-queue tool"),
    (
        "helm",
        "deploys the chart; .ci/helm-check.py lints and renders the chart in CI",
    ),
    (
        "kubectl",
        "talks to a cluster; `kubectl … -- scriptsync …` is parsed as a scriptsync invocation",
    ),
    ("docker", "container tooling"),
];

/// Files whose blocks are checked.
fn documents() -> Vec<PathBuf> {
    let root = repo();
    let mut docs = vec![root.join("README.md"), root.join("schemas/README.md")];
    let mut guides: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    guides.sort();
    docs.extend(guides);
    docs
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One fenced block.
#[derive(Debug, Clone)]
struct Block {
    doc: String,
    line: usize,
    info: String,
    /// The `<!-- snippet: … -->` comment right before the fence, if any.
    marker: Option<String>,
    text: String,
}

impl Block {
    fn at(&self) -> String {
        format!("{}:{} ({})", self.doc, self.line, self.info)
    }
}

fn blocks(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = path
        .strip_prefix(repo())
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    let mut last_marker: Option<String> = None;
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("<!-- snippet:") {
            last_marker = Some(rest.trim_end_matches("-->").trim().to_owned());
            continue;
        }
        if let Some(info) = trimmed.strip_prefix("```") {
            let mut body = String::new();
            for (_, l) in lines.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            out.push(Block {
                doc: doc.clone(),
                line: i + 1,
                info: info.trim().to_owned(),
                marker: last_marker.take(),
                text: body,
            });
            continue;
        }
        if !trimmed.is_empty() {
            last_marker = None;
        }
    }
    out
}

// ---- TOML -------------------------------------------------------------------------------

const BASE_TENANT: &str = r#"
[[tenants]]
id = "snippet-base"

[tenants.genesys]
region = "mypurecloud.com"
client_id = "snippet"
client_secret_env = "SNIPPET_BASE_SECRET"
datatable_id = "snippet-table"
"#;

/// The TOML the loader gets for a block, following the module's rules.
fn whole_config(text: &str) -> String {
    let first_table = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .unwrap_or("");
    if text.lines().any(|l| l.trim() == "[[tenants]]") {
        text.to_owned()
    } else if first_table.starts_with("[tenants.") {
        format!("[[tenants]]\nid = \"snippet\"\n\n{text}")
    } else {
        format!("{text}\n{BASE_TENANT}")
    }
}

/// Values of `KEY = "value"` lines whose key satisfies `pick`.
fn string_values(text: &str, pick: impl Fn(&str) -> bool) -> Vec<(&str, &str)> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let (k, v) = (k.trim(), v.trim());
            let v = v.strip_prefix('"')?.strip_suffix('"')?;
            pick(k).then_some((k, v))
        })
        .collect()
}

/// Loads a TOML block with the real loader; `Err` says why not.
fn load_config(text: &str, dir: &Path) -> Result<Settings, String> {
    let mut toml = whole_config(text);
    let mut env = HashMap::new();
    for (_, name) in string_values(&toml, |k| k.ends_with("_env")) {
        env.insert(name.to_owned(), "snippet-dummy-secret".to_owned());
    }
    let secret_files: Vec<String> =
        string_values(&toml, |k| k == "password_file" || k == "client_secret_file")
            .into_iter()
            .map(|(_, path)| path.to_owned())
            .collect();
    for (i, path) in secret_files.into_iter().enumerate() {
        let stand_in = dir.join(format!("secret-{i}"));
        std::fs::write(&stand_in, "snippet-dummy-secret\n").unwrap();
        toml = toml.replace(
            &format!("\"{path}\""),
            &format!("\"{}\"", stand_in.display()),
        );
    }
    let tenants_dirs: Vec<String> = string_values(&toml, |k| k == "tenants_dir")
        .into_iter()
        .map(|(_, path)| path.to_owned())
        .collect();
    for path in tenants_dirs {
        let stand_in = dir.join("tenants-dir");
        std::fs::create_dir_all(&stand_in).unwrap();
        toml = toml.replace(
            &format!("\"{path}\""),
            &format!("\"{}\"", stand_in.display()),
        );
    }
    let file = dir.join(format!("config-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, &toml).unwrap();
    Settings::load_with_env(&file, Some(env)).map_err(|e| format!("{e}\n--- loaded:\n{toml}"))
}

/// A tenant file of a tenants directory, read as the worker reads it: in a directory of its
/// own, each relative secret file it names written there with a dummy.
fn load_tenant_file(text: &str, dir: &Path) -> Result<(), String> {
    let own = dir.join(format!("tenant-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&own).unwrap();
    for (_, path) in string_values(text, |k| k == "password_file" || k == "client_secret_file") {
        std::fs::write(own.join(path), "snippet-dummy-secret\n")
            .map_err(|e| format!("{path}: {e}"))?;
    }
    let file = own.join("tenant.toml");
    std::fs::write(&file, text).unwrap();
    scriptsync::config::read_tenant_file(&file, None)
        .settings
        .map(drop)
}

// ---- shell -----------------------------------------------------------------------------

/// Splits a command line into words as a POSIX shell would (quotes, backslashes and a
/// trailing `# comment`, by the `shell-words` crate), with the operators `&&`, `||`, `;`, `|`
/// as words of their own: the docs put spaces around them, and a `;` ending a word is split
/// off it.
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let words = shell_words::split(line).map_err(|e| format!("{e} in {line:?}"))?;
    let mut out = Vec::with_capacity(words.len());
    for word in words {
        match word.strip_suffix(';') {
            Some(head) if !head.is_empty() => {
                out.push(head.to_owned());
                out.push(";".to_owned());
            }
            _ => out.push(word),
        }
    }
    Ok(out)
}

/// The command lines of a shell block: continuations joined; for `console`, only `$ ` lines.
fn command_lines(block: &Block) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in block.text.lines() {
        let line = if block.info == "console" {
            match line.strip_prefix("$ ") {
                Some(l) => l,
                None if !pending.is_empty() => line,
                None => continue,
            }
        } else {
            line
        };
        if let Some(head) = line.trim_end().strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        if !pending.trim().is_empty() {
            out.push(std::mem::take(&mut pending));
        }
        pending.clear();
    }
    out
}

/// One simple command: its `VAR=value` prefix and its words (redirections dropped).
#[derive(Debug)]
struct Simple {
    env: Vec<(String, String)>,
    words: Vec<String>,
}

fn simple_commands(line: &str) -> Result<Vec<Simple>, String> {
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let words = shell_words(line)?;
    for w in words.into_iter().chain(std::iter::once(";".to_owned())) {
        if matches!(w.as_str(), "&&" | "||" | ";" | "|" | "&") {
            if !current.is_empty() {
                let mut env = Vec::new();
                let mut words = std::mem::take(&mut current).into_iter().peekable();
                while let Some(w) = words.next_if(|w| is_assignment(w)) {
                    let (k, v) = w.split_once('=').unwrap();
                    env.push((k.to_owned(), v.to_owned()));
                }
                let mut kept = Vec::new();
                let mut skip_next = false;
                for w in words {
                    if skip_next {
                        skip_next = false;
                    } else if matches!(w.as_str(), ">" | ">>" | "<" | "2>") {
                        skip_next = true;
                    } else if !(w.starts_with("2>&") || w.starts_with('>')) {
                        kept.push(w);
                    }
                }
                out.push(Simple { env, words: kept });
            }
        } else {
            current.push(w);
        }
    }
    Ok(out)
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty()
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !k.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// The scriptsync arguments of a command, if it is a scriptsync invocation.
fn scriptsync_args(words: &[String]) -> Option<Vec<String>> {
    let program = words.first()?.as_str();
    let rest = &words[1..];
    let is_binary = program == "scriptsync"
        || (program.starts_with("target/") && program.ends_with("/scriptsync"));
    if is_binary {
        return Some(rest.to_vec());
    }
    if program == "cargo" && rest.first().map(String::as_str) == Some("run") {
        let dash = rest.iter().position(|w| w == "--")?;
        return Some(rest[dash + 1..].to_vec());
    }
    if program == "kubectl" {
        let dash = rest.iter().position(|w| w == "--")?;
        let inner = &rest[dash + 1..];
        if inner.first().map(String::as_str) == Some("scriptsync") {
            return Some(inner[1..].to_vec());
        }
    }
    None
}

/// Checks (and, when safe, runs) one simple command; `Err` says what is wrong.
fn check_command(
    cmd: &Simple,
    aliases: &mut BTreeMap<String, Vec<String>>,
    files: &BTreeMap<String, PathBuf>,
    ran: &mut Vec<String>,
) -> Result<(), String> {
    let mut words = cmd.words.clone();
    if let Some(expansion) = words.first().and_then(|w| aliases.get(w)) {
        words = expansion
            .iter()
            .cloned()
            .chain(words[1..].iter().cloned())
            .collect();
    }
    let Some(program) = words.first().cloned() else {
        return Ok(());
    };
    if program == "alias" {
        for def in &words[1..] {
            let (name, value) = def.split_once('=').ok_or(format!("alias {def:?}"))?;
            // Checked where it is used: on its own it may be a prefix (`… dlq --config F`).
            let expansion = shell_words(value)?;
            let known = expansion.first().is_some_and(|p| {
                scriptsync_args(&expansion).is_some() || ALLOWED.iter().any(|(n, _)| n == p)
            });
            if !known {
                return Err(format!("alias {name} runs an unknown program: {value:?}"));
            }
            aliases.insert(name.to_owned(), expansion);
        }
        return Ok(());
    }
    for w in &words[1..] {
        let w = w.trim_start_matches('@');
        let repo_path = ["schemas/", "config/", "docs/", "helm/"]
            .iter()
            .any(|p| w.starts_with(p));
        if repo_path && !repo().join(w).exists() {
            return Err(format!("names {w}, which is not in the repository"));
        }
    }
    if let Some(args) = scriptsync_args(&words) {
        let argv = std::iter::once("scriptsync".to_owned()).chain(args.iter().cloned());
        match Cli::try_parse_from(argv) {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {}
            Err(e) => return Err(format!("not a valid scriptsync invocation: {e}")),
        }
        return run_if_safe(&args, &cmd.env, files, ran);
    }
    if ALLOWED.iter().any(|(name, _)| *name == program) {
        return Ok(());
    }
    Err(format!(
        "{program:?} is neither scriptsync nor in the ALLOWED list of tests/integration/docs_snippets.rs"
    ))
}

/// Runs `check-config` (on a repo file or a `file=` snippet) and `--help` with the real
/// binary; anything else (workers, the simulator, the broker tools) is only parsed.
fn run_if_safe(
    args: &[String],
    env: &[(String, String)],
    files: &BTreeMap<String, PathBuf>,
    ran: &mut Vec<String>,
) -> Result<(), String> {
    let mut args = args.to_vec();
    let help = args.iter().any(|a| a == "--help" || a == "-h");
    let check = args.first().map(String::as_str) == Some("check-config");
    if check && !help {
        let Some(i) = args.iter().position(|a| a == "--config" || a == "-c") else {
            return Ok(());
        };
        let Some(path) = args.get(i + 1).cloned() else {
            return Ok(());
        };
        if let Some(written) = files.get(&path) {
            args[i + 1] = written.display().to_string();
        } else if !repo().join(&path).exists() {
            return Ok(()); // a production path, e.g. /etc/scriptsync/config.toml
        }
    } else if !help {
        return Ok(());
    }
    let output = Command::new(env!("CARGO_BIN_EXE_scriptsync"))
        .args(&args)
        .current_dir(repo())
        .env_remove("SCRIPTSYNC_CONFIG")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .map_err(|e| format!("cannot run scriptsync: {e}"))?;
    ran.push(format!("scriptsync {}", args.join(" ")));
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "scriptsync {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

// ---- JSON and code excerpts ------------------------------------------------------------

fn check_json(block: &Block) -> Result<(), String> {
    let value: Value = serde_json::from_str(&block.text).map_err(|e| format!("not JSON: {e}"))?;
    let Some(object) = value.as_object() else {
        return Ok(());
    };
    let message = match object.get("schema").and_then(Value::as_str) {
        Some("script-change/v1") => Some(("script-change.v1.json", Operation::Upsert)),
        Some("script-retire/v1") => Some(("script-retire.v1.json", Operation::Retire)),
        Some(other) if other.starts_with("script-") => {
            return Err(format!(
                "a message of schema {other:?}, which scriptsync does not know"
            ));
        }
        _ => None,
    };
    if let Some((file, operation)) = message {
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(repo().join("schemas").join(file)).unwrap(),
        )
        .unwrap();
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        if !errors.is_empty() {
            return Err(format!("fails {file}: {errors:?}"));
        }
        let tenant = object["tenant"].as_str().unwrap_or_default();
        let decoded = decode(block.text.as_bytes(), tenant, 64 * 1024)
            .map_err(|e| format!("decode refuses it: {e}"))?;
        if decoded.operation() != operation {
            return Err(format!("decode reads it as {}", decoded.operation()));
        }
        return Ok(());
    }
    let example = reference_change();
    if !object.is_empty() && object.keys().all(|k| k.starts_with("u_")) {
        let record = scriptsync::targets::servicenow::record(&example);
        let sent: BTreeSet<&String> = record.as_object().unwrap().keys().collect();
        let shown: BTreeSet<&String> = object.keys().collect();
        if sent != shown {
            return Err(format!(
                "an import record with {shown:?}; the target sends {sent:?}"
            ));
        }
        if !object.values().all(Value::is_string) {
            return Err("import record values must all be strings".into());
        }
    }
    if object.contains_key("key") && object.contains_key("versionHash") {
        let row = scriptsync::targets::genesys::row_body(&example);
        let written: BTreeSet<&String> = row.as_object().unwrap().keys().collect();
        for k in object.keys() {
            if !written.contains(k) {
                return Err(format!(
                    "a data-table row with {k:?}, which the target never writes"
                ));
            }
        }
    }
    Ok(())
}

/// A change with every optional field, for the shapes the targets send.
fn reference_change() -> scriptsync::change::ScriptChange {
    let body = std::fs::read(repo().join("tests/data/changes/valid/full.json")).unwrap();
    decode(&body, "acme", 64 * 1024).unwrap()
}

fn check_excerpt(block: &Block, extension: &str) -> Result<(), String> {
    let dir = repo().join("schemas/examples");
    let sources: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == extension))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let lines: BTreeSet<&str> = sources
        .iter()
        .flat_map(|s| s.lines())
        .map(str::trim)
        .collect();
    for line in block.text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !lines.contains(line) {
            return Err(format!(
                "{line:?} is not a line of any schemas/examples/*.{extension}"
            ));
        }
    }
    Ok(())
}

/// Runs the ServiceNow transform script of the guide with node on sample records: a lower
/// version is ignored, a higher or equal one goes through, a bad one is an error.
fn check_transform_script(block: &Block) -> Result<(), String> {
    let probe = Command::new("node").arg("--version").output();
    if !probe.is_ok_and(|o| o.status.success()) {
        if std::env::var("SCRIPTSYNC_REQUIRE_EXAMPLES").is_ok_and(|v| v == "1") {
            return Err("node is needed to run the transform script".into());
        }
        println!(
            "SKIPPED: {}: node is not installed (run .ci/run)",
            block.at()
        );
        return Ok(());
    }
    let harness = format!(
        r#"
function run(action, incoming, held, operation) {{
  var ignore = false, error = false, error_message = '', status_message = '';
  var source = {{ u_version: incoming, u_operation: operation }};
  var target = action == 'update' ? {{ u_version: held, u_active: true }} : {{}};
  var map = {{}}, log = {{ info: function () {{}}, warn: function () {{}}, error: function () {{}} }};
  eval({script});
  if (error) return 'error';
  if (ignore) return 'ignored';
  return action + (target.u_active === false ? ' retired' : target.u_active === true ? ' active' : ' ?');
}}
var cases = [
  ['update', '3', '5', 'upsert', 'ignored'],
  ['update', '5', '5', 'upsert', 'update active'],
  ['update', '7', '5', 'upsert', 'update active'],
  ['insert', '1', null, 'upsert', 'insert active'],
  ['insert', '1', null, undefined, 'insert active'],
  ['update', '9007199254740991', '9007199254740990', 'upsert', 'update active'],
  ['update', '9007199254740990', '9007199254740991', 'upsert', 'ignored'],
  ['insert', 'x', null, 'upsert', 'error'],
  ['insert', '0', null, 'upsert', 'error'],
  ['update', '8', '7', 'retire', 'update retired'],
  ['insert', '8', null, 'retire', 'insert retired'],
  ['update', '6', '7', 'retire', 'ignored'],
  ['update', '9', '8', 'bogus', 'error'],
];
var bad = cases.filter(function (c) {{ return run(c[0], c[1], c[2], c[3]) !== c[4]; }});
if (bad.length) {{ console.error(JSON.stringify(bad)); process.exit(1); }}
"#,
        script = serde_json::to_string(&block.text).unwrap()
    );
    let output = Command::new("node")
        .arg("-e")
        .arg(harness)
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "the transform script gives wrong outcomes (action, incoming, held, operation, expected): {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

// ---- the test --------------------------------------------------------------------------

#[test]
fn every_snippet_in_the_docs_is_exercised() {
    let dir =
        std::env::temp_dir().join(format!("scriptsync-docs-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut problems = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ran = Vec::new();
    for doc in documents() {
        let all = blocks(&doc);
        // `file=` snippets first, so the document's commands can name them.
        let mut files = BTreeMap::new();
        for block in &all {
            if let Some(name) = block
                .marker
                .as_deref()
                .and_then(|m| m.strip_prefix("file="))
            {
                let path = dir.join(name);
                std::fs::write(&path, whole_config(&block.text)).unwrap();
                files.insert(name.to_owned(), path);
            }
        }
        // Aliases hold for the rest of their document (operations.md's `dlq`).
        let mut aliases = BTreeMap::new();
        for block in &all {
            let kind = match block.info.as_str() {
                "toml" => "toml",
                "sh" | "bash" | "console" => "shell",
                "json" => "json",
                "python" => "python",
                "js" | "javascript" => "javascript",
                "" | "text" | "yaml" => "prose",
                other => {
                    problems.push(format!("{}: no rule for ```{other}", block.at()));
                    continue;
                }
            };
            *counts.entry(kind).or_default() += 1;
            let result = match kind {
                "toml" if block.marker.as_deref() == Some("tenant-file") => {
                    load_tenant_file(&block.text, &dir)
                }
                "toml" => load_config(&block.text, &dir).map(drop),
                "json" => check_json(block),
                "python" => check_excerpt(block, "py"),
                "javascript" if block.marker.as_deref() == Some("servicenow-transform") => {
                    check_transform_script(block)
                }
                "javascript" => check_excerpt(block, "js"),
                "shell" => {
                    let mut result = Ok(());
                    for line in command_lines(block) {
                        let checked = simple_commands(&line).and_then(|cmds| {
                            cmds.iter()
                                .try_for_each(|c| check_command(c, &mut aliases, &files, &mut ran))
                        });
                        if let Err(e) = checked {
                            result = Err(format!("`{}`: {e}", line.trim()));
                            break;
                        }
                    }
                    result
                }
                _ => Ok(()),
            };
            if let Err(e) = result {
                problems.push(format!("{}: {e}", block.at()));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("blocks checked: {counts:?}; run for real: {ran:#?}");
    assert!(
        problems.is_empty(),
        "{} dead snippet(s):\n{}",
        problems.len(),
        problems.join("\n\n")
    );
    assert!(
        counts.get("toml").copied().unwrap_or(0) >= 3,
        "the guides show configs: {counts:?}"
    );
    assert!(!ran.is_empty(), "no command was run for real");
}

#[test]
fn shell_words_split_like_a_shell() {
    let words =
        shell_words(r#"A=1 scriptsync dlq --config 'a b' list --id "x\"y" && echo ok # note"#)
            .unwrap();
    assert_eq!(
        words,
        [
            "A=1",
            "scriptsync",
            "dlq",
            "--config",
            "a b",
            "list",
            "--id",
            "x\"y",
            "&&",
            "echo",
            "ok"
        ]
    );
    let cmds = simple_commands("cd x && FOO=bar node y.js > out.txt | jq .").unwrap();
    assert_eq!(cmds.len(), 3);
    assert_eq!(cmds[1].env, [("FOO".to_owned(), "bar".to_owned())]);
    assert_eq!(cmds[1].words, ["node", "y.js"]);
    let refused = |words: &[&str]| {
        let simple = Simple {
            env: vec![],
            words: words.iter().map(|w| w.to_string()).collect(),
        };
        check_command(
            &simple,
            &mut BTreeMap::new(),
            &BTreeMap::new(),
            &mut Vec::new(),
        )
        .expect_err("refused")
    };
    let unknown = refused(&["scriptsync", "no-such-command"]);
    assert!(unknown.contains("no-such-command"), "{unknown}");
    let not_allowed = refused(&["rm", "-rf"]);
    assert!(not_allowed.contains("rm"), "{not_allowed}");
}

#[test]
fn a_config_with_an_unknown_key_is_caught() {
    let dir =
        std::env::temp_dir().join(format!("scriptsync-docs-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    assert!(load_config("[batch]\nmax_changes = 10\n", &dir).is_ok());
    let unknown = load_config("[batch]\nmax_change = 10\n", &dir).expect_err("an unknown key");
    assert!(unknown.contains("max_change"), "{unknown}");
    assert!(load_config("[tenants.servicenow]\ninstance_url = \"https://x.service-now.com\"\nauth = \"basic\"\nusername = \"u\"\npassword_file = \"/etc/x\"\nstaging_table = \"u_t\"\n", &dir).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_json_message_is_checked_against_its_own_schema() {
    let block = |text: &str| Block {
        doc: "test.md".into(),
        line: 1,
        info: "json".into(),
        marker: None,
        text: text.into(),
    };
    let retire = r#"{"schema": "script-retire/v1", "id": "r", "tenant": "acme", "script_id": "s", "version": 2, "published_at": "2026-11-27T10:00:00Z"}"#;
    assert_eq!(check_json(&block(retire)), Ok(()));
    let with_hash = retire.replace(r#""version": 2"#, r#""version": 2, "version_hash": "h""#);
    let err = check_json(&block(&with_hash)).unwrap_err();
    assert!(err.contains("script-retire.v1.json"), "{err}");
    let unknown = retire.replace("script-retire/v1", "script-retire/v2");
    let err = check_json(&block(&unknown)).unwrap_err();
    assert!(err.contains("script-retire/v2"), "{err}");
}
