//! Secrets: references in the config (`*_env`, `*_file`) and the self-redacting value type.
//!
//! [`SecretString`] (from `secrecy`) prints as `[REDACTED]` in `Debug` and has no `Display`;
//! the only way to read it is [`expose`], which the HTTP clients call when they build a
//! request. Secret values are never serialized: `check-config` shows only the references.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;
pub use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};

/// Reads the secret value; call only where it goes onto the wire.
pub fn expose(secret: &SecretString) -> &str {
    secret.expose_secret()
}

/// Where a secret comes from: an environment variable or a file (first line, trimmed).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct SecretRef {
    pub env: Option<String>,
    pub file: Option<PathBuf>,
}

impl SecretRef {
    /// Builds a reference from the pair of `<name>_env` / `<name>_file` config fields.
    pub fn new(env: &Option<String>, file: &Option<PathBuf>) -> Self {
        Self {
            env: env.clone(),
            file: file.clone(),
        }
    }

    /// True when neither form is given.
    pub fn is_empty(&self) -> bool {
        self.env.is_none() && self.file.is_none()
    }

    /// Reads the value. `what` names the setting in error messages (never the value).
    pub fn resolve(&self, what: &str) -> Result<Option<SecretString>, ConfigError> {
        self.resolve_with_env(what, None)
    }

    /// Like [`SecretRef::resolve`], reading `*_env` variables from `env` when it is given
    /// (`None` = the process environment), so a caller that passes its own environment to
    /// [`super::Settings::load_with_env`] gets its secrets from there too.
    pub fn resolve_with_env(
        &self,
        what: &str,
        env: Option<&HashMap<String, String>>,
    ) -> Result<Option<SecretString>, ConfigError> {
        match (&self.env, &self.file) {
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err(invalid(format!(
                "{what}: give either {what}_env or {what}_file, not both"
            ))),
            (Some(var), None) => match lookup(env, var) {
                Some(value) if !value.is_empty() => Ok(Some(SecretString::from(value))),
                Some(_) => Err(invalid(format!(
                    "{what}_env: environment variable {var} is empty"
                ))),
                None => Err(invalid(format!(
                    "{what}_env: environment variable {var} is not set"
                ))),
            },
            (None, Some(path)) => read_secret_file(what, path).map(Some),
        }
    }
}

/// The variable's value from `env`, or from the process environment when `env` is `None`.
/// A variable that is not valid Unicode counts as unset.
fn lookup(env: Option<&HashMap<String, String>>, var: &str) -> Option<String> {
    match env {
        Some(map) => map.get(var).cloned(),
        None => std::env::var(var).ok(),
    }
}

fn read_secret_file(what: &str, path: &Path) -> Result<SecretString, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        invalid(format!(
            "{what}_file: cannot read {}: {}",
            path.display(),
            e.kind()
        ))
    })?;
    let value = text.lines().next().unwrap_or("").trim().to_owned();
    if value.is_empty() {
        return Err(invalid(format!("{what}_file: {} is empty", path.display())));
    }
    Ok(SecretString::from(value))
}

/// Resolves a secret field pair into `slot` unless the slot was filled programmatically.
pub(crate) fn resolve_into(
    slot: &mut Option<SecretString>,
    what: &str,
    env: &Option<String>,
    file: &Option<PathBuf>,
    environment: Option<&HashMap<String, String>>,
) -> Result<(), ConfigError> {
    if slot.is_none() {
        *slot = SecretRef::new(env, file).resolve_with_env(what, environment)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = SecretString::from("hunter2-very-secret");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert_eq!(expose(&secret), "hunter2-very-secret");
    }

    #[test]
    fn file_secret_reads_first_line() {
        let dir = std::env::temp_dir().join(format!("scriptsync-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s");
        std::fs::write(&path, "s3cr3t\n").unwrap();
        let got = SecretRef::new(&None, &Some(path))
            .resolve("x")
            .unwrap()
            .unwrap();
        assert_eq!(expose(&got), "s3cr3t");
    }

    #[test]
    fn both_forms_is_an_error() {
        let r = SecretRef::new(&Some("A".into()), &Some("/b".into()));
        assert!(r.resolve("client_secret").is_err());
    }

    #[test]
    fn missing_env_names_variable_not_value() {
        let r = SecretRef::new(&Some("SCRIPTSYNC_TEST_SURELY_UNSET_VAR".into()), &None);
        let err = r.resolve("client_secret").unwrap_err().to_string();
        assert!(err.contains("SCRIPTSYNC_TEST_SURELY_UNSET_VAR"), "{err}");
    }
}
