//! Secrets: where a secret setting comes from ([`SecretSource`]: an environment variable or a
//! file, named in the config by `*_env` or `*_file`), the setting itself ([`Secret`]), and the
//! self-redacting value type.
//!
//! [`SecretString`] (from `secrecy`) prints as `[REDACTED]` in `Debug` and has no `Display`;
//! the only way to read it is [`expose`], which the HTTP clients call when they build a
//! request. Secret values are never serialized: `check-config` shows only the references.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;
pub use secrecy::SecretString;

use super::{ConfigError, invalid};

/// Reads the secret value; call only where it goes onto the wire.
pub fn expose(secret: &SecretString) -> &str {
    secret.expose_secret()
}

/// Where a secret's value comes from: exactly one place. The configuration file names it
/// with one of a pair of keys (`<name>_env` or `<name>_file`); giving both is an error when
/// the file is read, so no setting ever holds two sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable's value.
    Env(String),
    /// A file's first line, trimmed.
    File(PathBuf),
    /// Given by the program (the demo, the simulator's fixtures, tests): never in a file.
    Inline,
}

/// One secret setting: its source and, once read, its value (self-redacting).
#[derive(Debug, Clone)]
pub struct Secret {
    source: SecretSource,
    value: Option<SecretString>,
}

impl Secret {
    /// A secret to read from `source` when the settings are resolved.
    pub fn from_source(source: SecretSource) -> Self {
        Self {
            source,
            value: None,
        }
    }

    /// A secret the program already holds.
    pub fn inline(value: SecretString) -> Self {
        Self {
            source: SecretSource::Inline,
            value: Some(value),
        }
    }

    pub fn source(&self) -> &SecretSource {
        &self.source
    }

    /// The value, once resolved (always, in settings that passed `Settings::load`).
    pub fn value(&self) -> Option<&SecretString> {
        self.value.as_ref()
    }

    /// The secret named by the pair of config keys `<what>_env` / `<what>_file`: `None` for
    /// neither, an error for both.
    pub fn from_pair(
        what: &str,
        env: Option<String>,
        file: Option<PathBuf>,
    ) -> Result<Option<Self>, String> {
        match (env, file) {
            (None, None) => Ok(None),
            (Some(_), Some(_)) => {
                let key = what.rsplit('.').next().unwrap_or(what);
                Err(format!(
                    "{what}: give either {key}_env or {key}_file, not both"
                ))
            }
            (Some(var), None) => Ok(Some(Self::from_source(SecretSource::Env(var)))),
            (None, Some(path)) => Ok(Some(Self::from_source(SecretSource::File(path)))),
        }
    }

    /// A relative `*_file` path is taken as relative to `base` (a tenant file's directory).
    pub fn anchor(&mut self, base: &Path) {
        if let SecretSource::File(path) = &mut self.source
            && path.is_relative()
        {
            *path = base.join(&*path);
        }
    }

    /// The pair of config keys that names `secret` (none for an inline one).
    pub fn to_pair(secret: Option<&Self>) -> (Option<String>, Option<PathBuf>) {
        match secret.map(Self::source) {
            Some(SecretSource::Env(var)) => (Some(var.clone()), None),
            Some(SecretSource::File(path)) => (None, Some(path.clone())),
            Some(SecretSource::Inline) | None => (None, None),
        }
    }

    /// Reads the value if it is not read yet. `what` names the setting in error messages
    /// (never the value); `env` replaces the process environment when given.
    pub fn resolve(
        &mut self,
        what: &str,
        env: Option<&HashMap<String, String>>,
    ) -> Result<(), ConfigError> {
        if self.value.is_some() {
            return Ok(());
        }
        let value = match &self.source {
            SecretSource::Env(var) => match lookup(env, var) {
                Some(value) if !value.is_empty() => SecretString::from(value),
                Some(_) => {
                    return Err(invalid(format!(
                        "{what}_env: environment variable {var} is empty"
                    )));
                }
                None => {
                    return Err(invalid(format!(
                        "{what}_env: environment variable {var} is not set"
                    )));
                }
            },
            SecretSource::File(path) => read_secret_file(what, path)?,
            SecretSource::Inline => return Err(invalid(format!("{what}: no value given"))),
        };
        self.value = Some(value);
        Ok(())
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
        let mut secret = Secret::from_pair("x", None, Some(path)).unwrap().unwrap();
        assert_eq!(secret.value().map(expose), None, "not read before resolve");
        secret.resolve("x", None).unwrap();
        assert_eq!(secret.value().map(expose), Some("s3cr3t"));
    }

    #[test]
    fn both_forms_is_an_error_and_the_pair_round_trips() {
        let err = Secret::from_pair("client_secret", Some("A".into()), Some("/b".into()));
        assert!(err.unwrap_err().contains("not both"));
        assert!(Secret::from_pair("x", None, None).unwrap().is_none());
        let env = Secret::from_pair("x", Some("A".into()), None).unwrap();
        assert_eq!(Secret::to_pair(env.as_ref()), (Some("A".into()), None));
        let inline = Secret::inline(SecretString::from("v"));
        assert_eq!(Secret::to_pair(Some(&inline)), (None, None));
    }

    #[test]
    fn missing_env_names_variable_not_value() {
        let var = "SCRIPTSYNC_TEST_SURELY_UNSET_VAR";
        let mut secret = Secret::from_source(SecretSource::Env(var.into()));
        let err = secret
            .resolve("client_secret", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(var), "{err}");
        let env = HashMap::from([(var.to_string(), "from-map".to_string())]);
        secret.resolve("client_secret", Some(&env)).unwrap();
        assert_eq!(secret.value().map(expose), Some("from-map"));
    }
}
