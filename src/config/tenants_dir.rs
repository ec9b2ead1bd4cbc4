//! Tenants from a directory (`tenants_dir`): one TOML file per tenant, shaped like one
//! `[[tenants]]` entry of the main file (unknown keys are errors, `id` inside is the identity;
//! the file's name is not). What is read:
//!
//! - every `*.toml` file directly in the directory, and in each of its subdirectories (one
//!   level: a Kubernetes Secret or ConfigMap mounted per tenant);
//! - names starting with `.` are skipped: Kubernetes keeps its versioned copies in `..data`
//!   and `..2026_…` entries (the files are symlinks into them), editors keep swap files;
//! - a relative `*_file` secret path is relative to the tenant file's own directory, so a
//!   Secret with the keys `acme.toml` and `acme.secret` needs no absolute path.
//!
//! Each file gives its tenant (secrets read, validated) or an error that names the file; a
//! broken file never hides the others. The directory itself not being readable is one error
//! for the whole scan (the caller keeps what it had).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::tenant::TenantSettings;

/// One tenant file as read now.
#[derive(Debug)]
pub struct TenantFile {
    pub path: PathBuf,
    /// The `id` the file gives, when its text parses that far (also for a file that fails
    /// later): which tenant keeps its last good settings.
    pub id: Option<String>,
    pub settings: Result<TenantSettings, String>,
}

/// Reads every tenant file of `dir` (sorted by path). `Err` when the directory cannot be
/// listed. `env` replaces the process environment for `*_env` secrets when given.
pub fn scan(dir: &Path, env: Option<&HashMap<String, String>>) -> Result<Vec<TenantFile>, String> {
    let mut paths = toml_files(dir)?;
    for sub in visible_entries(dir)?.into_iter().filter(|p| p.is_dir()) {
        // A subdirectory that vanished between the listings is simply not there.
        paths.extend(toml_files(&sub).unwrap_or_default());
    }
    paths.sort();
    Ok(paths
        .into_iter()
        .map(|p| read_tenant_file(&p, env))
        .collect())
}

fn visible_entries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "tenants_dir {}: cannot list it: {}",
            dir.display(),
            e.kind()
        )
    })?;
    Ok(entries
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect())
}

fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    Ok(visible_entries(dir)?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect())
}

/// One file: its tenant, or why not (the message starts with the file's path).
pub fn read_tenant_file(path: &Path, env: Option<&HashMap<String, String>>) -> TenantFile {
    let shown = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            return TenantFile {
                path: path.to_owned(),
                id: None,
                settings: Err(format!("{shown}: cannot read it: {}", e.kind())),
            };
        }
    };
    let id = peek_id(&text);
    let settings = parse(&text, path, env).map_err(|e| format!("{shown}: {e}"));
    TenantFile {
        path: path.to_owned(),
        id,
        settings,
    }
}

fn parse(
    text: &str,
    path: &Path,
    env: Option<&HashMap<String, String>>,
) -> Result<TenantSettings, String> {
    let mut tenant: TenantSettings = toml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
    if let Some(base) = path.parent() {
        tenant.anchor_secret_files(base);
    }
    tenant.resolve_secrets(env).map_err(|e| e.to_string())?;
    tenant.validate().map_err(|e| e.to_string())?;
    Ok(tenant)
}

/// The `id` string of a TOML text, if it has one at the top level.
fn peek_id(text: &str) -> Option<String> {
    let table: toml::Table = toml::from_str(text).ok()?;
    table.get("id")?.as_str().map(str::to_owned)
}

/// toml's messages quote the offending line over several lines; logs and `/status` want one.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|') && !l.chars().all(|c| c == '^'))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("scriptsync-tdir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    const ACME: &str = r#"
id = "acme"
[genesys]
region = "mypurecloud.com"
client_id = "cid"
client_secret_file = "acme.secret"
datatable_id = "dt-1"
"#;

    #[test]
    fn reads_files_and_subdirectories_skips_hidden_and_anchors_secret_paths() {
        let d = dir("read");
        std::fs::write(d.join("a.toml"), ACME).unwrap();
        std::fs::write(d.join("acme.secret"), "s3cret\n").unwrap();
        std::fs::write(d.join(".swap.toml"), "garbage").unwrap();
        std::fs::write(d.join("notes.txt"), "not a tenant").unwrap();
        let sub = d.join("globex");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("tenant.toml"), ACME.replace("acme\"", "globex\"")).unwrap();
        std::fs::write(sub.join("acme.secret"), "other\n").unwrap();
        std::fs::create_dir_all(d.join("..data")).unwrap();
        std::fs::write(d.join("..data").join("x.toml"), "garbage").unwrap();

        let files = scan(&d, None).unwrap();
        let ids: Vec<_> = files.iter().map(|f| f.id.clone().unwrap()).collect();
        assert_eq!(ids, ["acme", "globex"]);
        let globex = files[1].settings.as_ref().unwrap();
        let secret = globex
            .genesys
            .as_ref()
            .unwrap()
            .client_secret
            .value()
            .unwrap();
        assert_eq!(
            crate::config::expose(secret),
            "other",
            "relative to its own directory"
        );
    }

    #[test]
    fn a_broken_file_is_an_error_with_its_path_and_id_and_hides_nothing() {
        let d = dir("broken");
        std::fs::write(d.join("acme.secret"), "s3cret\n").unwrap();
        std::fs::write(d.join("a.toml"), ACME).unwrap();
        std::fs::write(
            d.join("b.toml"),
            format!("{ACME}\nsurprise = 1\n").replace("acme\"", "b\""),
        )
        .unwrap();
        std::fs::write(d.join("c.toml"), "id = \"c\"\n[genesys\n").unwrap();
        std::fs::write(
            d.join("d.toml"),
            ACME.replace("acme\"", "d\"").replace("acme.secret", "gone"),
        )
        .unwrap();
        let files = scan(&d, None).unwrap();
        assert!(files[0].settings.is_ok());
        let errors: Vec<&String> = files[1..]
            .iter()
            .map(|f| f.settings.as_ref().unwrap_err())
            .collect();
        assert!(
            errors[0].contains("b.toml") && errors[0].contains("surprise"),
            "{}",
            errors[0]
        );
        assert_eq!(files[1].id.as_deref(), Some("b"));
        assert!(
            errors[1].contains("c.toml") && !errors[1].contains('\n'),
            "{}",
            errors[1]
        );
        assert_eq!(files[2].id, None, "unparseable: no id");
        assert!(
            errors[2].contains("cannot read") && errors[2].contains("gone"),
            "{}",
            errors[2]
        );
        assert!(!errors.iter().any(|e| e.contains("s3cret")));
    }

    #[test]
    fn an_unlistable_directory_is_one_error() {
        let err = scan(Path::new("/nonexistent/scriptsync-tenants"), None).unwrap_err();
        assert!(err.contains("cannot list"), "{err}");
    }
}
