//! Which keys a config may hold and where they come from: an unknown key, in the file or
//! from a `SCRIPTSYNC__…` variable, fails with its name (once in the error chain), and the
//! variables win over the file.

use std::time::Duration;

use scriptsync::config::Settings;

use super::{MINIMAL, example_path, secrets_env};

#[test]
fn unknown_keys_are_rejected_with_their_name() {
    let cases = [
        (
            "top level",
            format!("colour = \"blue\"\n{MINIMAL}"),
            "colour",
        ),
        (
            "section",
            format!("[batch]\nlingr = \"5ms\"\n{MINIMAL}"),
            "lingr",
        ),
        (
            "tenant",
            MINIMAL.replace("id = \"acme\"", "id = \"acme\"\nqueue = \"q\""),
            "queue",
        ),
        (
            "genesys",
            MINIMAL.replace("datatable_id", "regoin = \"x\"\ndatatable_id"),
            "regoin",
        ),
    ];
    for (place, text, key) in cases {
        let err = Settings::from_toml_str(&text).expect_err(place).to_string();
        assert!(
            err.contains(key),
            "{place}: error does not name `{key}`: {err}"
        );
    }
}

#[test]
fn unknown_key_from_the_environment_is_rejected() {
    let mut env = secrets_env();
    env.insert("SCRIPTSYNC__BATCH__LINGR".into(), "5ms".into());
    let err = Settings::load_with_env(&example_path(), Some(env))
        .unwrap_err()
        .to_string();
    assert!(err.contains("lingr"), "{err}");
}

#[test]
fn environment_overrides_win_over_the_file() {
    let file = Settings::load_with_env(&example_path(), Some(secrets_env())).unwrap();
    assert_eq!(file.batch.linger, Duration::from_millis(100));

    let mut env = secrets_env();
    env.insert("SCRIPTSYNC__BATCH__LINGER".into(), "50ms".into());
    env.insert("SCRIPTSYNC__BROKER__PREFETCH".into(), "42".into());
    env.insert("SCRIPTSYNC__BROKER__PREFIX".into(), "staging".into());
    let settings = Settings::load_with_env(&example_path(), Some(env)).unwrap();
    assert_eq!(settings.batch.linger, Duration::from_millis(50));
    assert_eq!(settings.broker.prefetch, 42);
    assert_eq!(settings.broker.prefix, "staging");
    assert_eq!(
        settings.batch.max_changes, file.batch.max_changes,
        "others unchanged"
    );
}

#[test]
fn an_unknown_key_is_named_once_in_the_error_chain() {
    let err = Settings::from_toml_str("[broker]\nprefx = \"x\"").unwrap_err();
    let shown = format!("{:#}", anyhow::Error::from(err));
    assert_eq!(shown.matches("unknown field `prefx`").count(), 1, "{shown}");
}
