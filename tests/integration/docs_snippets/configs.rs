//! TOML blocks: scriptsync configurations and tenant files, loaded by the real loaders.

use super::*;

pub(super) const BASE_TENANT: &str = r#"
[[tenants]]
id = "snippet-base"

[tenants.genesys]
region = "mypurecloud.com"
client_id = "snippet"
client_secret_env = "SNIPPET_BASE_SECRET"
datatable_id = "snippet-table"
"#;

/// The TOML the loader gets for a block, following the module's rules.
pub(super) fn whole_config(text: &str) -> String {
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
pub(super) fn string_values(text: &str, pick: impl Fn(&str) -> bool) -> Vec<(&str, &str)> {
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
pub(super) fn load_config(text: &str, dir: &Path) -> Result<Settings, String> {
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
pub(super) fn load_tenant_file(text: &str, dir: &Path) -> Result<(), String> {
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
