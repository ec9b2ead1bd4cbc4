//! The configuration surface (DESIGN §9, STYLE habit 8): the committed example loads, its
//! values are the real defaults and it names every key; unknown keys fail with their name;
//! `SCRIPTSYNC__…` overrides win over the file; secret errors name the setting, never a
//! value; the redacted rendering holds no secret.
//!
//! No test touches the process environment: overrides and `*_env` secrets go through the
//! environment map of `Settings::load_with_env`, and `*_file` secrets through a temp dir.
//!
//! Here, the example's secrets, a minimal config and the helpers every file uses; the tests
//! in `example` (the committed example), `keys_and_overrides` (unknown keys, `SCRIPTSYNC__…`
//! overrides), `secrets` (secret errors and the redacted rendering) and `validation` (what a
//! loaded config must satisfy).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use scriptsync::config::{ConfigError, Secret, SecretString, Settings};

mod example;
mod keys_and_overrides;
mod secrets;
mod validation;

/// The secrets the example refers to, with values distinctive enough to grep for.
const SECRETS: [(&str, &str); 4] = [
    ("SCRIPTSYNC_BROKER_PASSWORD", "rabbit-pw-Zq81"),
    ("ACME_GENESYS_CLIENT_SECRET", "acme-gc-secret-Xk42"),
    ("GLOBEX_GENESYS_CLIENT_SECRET", "globex-gc-secret-Pm07"),
    ("GLOBEX_SERVICENOW_CLIENT_SECRET", "globex-sn-secret-Rt19"),
];

/// One Genesys-only tenant, secret filled in by [`fill_secrets`].
const MINIMAL: &str = r#"
[[tenants]]
id = "acme"

[tenants.genesys]
region = "mypurecloud.com"
client_id = "cid"
client_secret_env = "ACME_GENESYS_CLIENT_SECRET"
datatable_id = "dt"
"#;

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml")
}

fn example_text() -> String {
    fs::read_to_string(example_path()).expect("config/example.toml is readable")
}

fn secrets_env() -> HashMap<String, String> {
    SECRETS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A fresh directory for one test.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scriptsync-config-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Sets every secret slot directly, as a caller of `from_toml_str` + `validate` would.
fn fill_secrets(settings: &mut Settings) {
    for tenant in &mut settings.tenants {
        if let Some(g) = &mut tenant.genesys {
            g.client_secret = Secret::inline(SecretString::from("filled-genesys"));
        }
        if let Some(s) = &mut tenant.servicenow {
            s.client_secret = Some(Secret::inline(SecretString::from("filled-sn-secret")));
            s.password = Some(Secret::inline(SecretString::from("filled-sn-password")));
        }
    }
}

/// Parses, fills secrets, validates.
fn parse_and_validate(text: &str) -> Result<Settings, ConfigError> {
    let mut settings = Settings::from_toml_str(text)?;
    fill_secrets(&mut settings);
    settings.validate()?;
    Ok(settings)
}

fn assert_no_secret_in(text: &str) {
    for (_, value) in SECRETS {
        assert!(!text.contains(value), "secret value leaked: {text}");
    }
}
