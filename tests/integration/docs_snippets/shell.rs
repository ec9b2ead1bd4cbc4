//! Shell blocks: each command a scriptsync invocation (parsed, and run when safe and quick)
//! or an allowed program.

use super::*;

/// Programs the docs may show without this test running them, and why.
pub(super) const ALLOWED: &[(&str, &str)] = &[
    (
        "cargo",
        "the Rust toolchain; `cargo run -- ARGS` is parsed as a scriptsync invocation, and CI runs `cargo test` itself",
    ),
    (
        "python3",
        "runs schemas/examples/publish.py, which tests/integration/publisher_examples/ runs against a worker",
    ),
    (
        "node",
        "runs schemas/examples/publish.js, which tests/integration/publisher_examples/ runs against a worker",
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

/// Splits a command line into words as a POSIX shell would (quotes, backslashes and a
/// trailing `# comment`, by the `shell-words` crate), with the operators `&&`, `||`, `;`, `|`
/// as words of their own: the docs put spaces around them, and a `;` ending a word is split
/// off it.
pub(super) fn shell_words(line: &str) -> Result<Vec<String>, String> {
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
pub(super) fn command_lines(block: &Block) -> Vec<String> {
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
pub(super) struct Simple {
    pub(super) env: Vec<(String, String)>,
    pub(super) words: Vec<String>,
}

pub(super) fn simple_commands(line: &str) -> Result<Vec<Simple>, String> {
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

pub(super) fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty()
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !k.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// The scriptsync arguments of a command, if it is a scriptsync invocation.
pub(super) fn scriptsync_args(words: &[String]) -> Option<Vec<String>> {
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
pub(super) fn check_command(
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
        "{program:?} is neither scriptsync nor in the ALLOWED list of tests/integration/docs_snippets/shell.rs"
    ))
}

/// Runs `check-config` (on a repo file or a `file=` snippet) and `--help` with the real
/// binary; anything else (workers, the simulator, the broker tools) is only parsed.
pub(super) fn run_if_safe(
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
