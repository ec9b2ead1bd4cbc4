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
//!     in the same document whose expansion is one): parsed with the binary's own clap surface
//!     (`src/cli.rs`, compiled into this test: it names only the library); those that are
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
//!   `tests/integration/publisher_examples/` runs. A block preceded by
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
use scriptsync::config::Settings;
use serde_json::Value;

/// The binary's clap surface, the same source `src/main.rs` declares; here only `Cli` is
/// parsed into, so the argument fields are never read.
#[allow(dead_code)]
#[path = "../../../src/cli.rs"]
mod cli;

mod blocks;
mod configs;
mod excerpts;
mod shell;

use blocks::*;
use cli::Cli;
use configs::*;
use excerpts::*;
use shell::*;

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
