//! Secrets: a missing or empty secret file, a missing variable, or a secret given two ways
//! fails naming the setting (and the path or variable), never a value; the redacted
//! rendering that `check-config` prints holds no secret (a password in the broker URL
//! included) and loads again; a broker URL with a password is refused.

use std::fs;

use scriptsync::config::Settings;

use super::{
    MINIMAL, assert_no_secret_in, example_path, example_text, parse_and_validate, secrets_env,
    temp_dir,
};

#[test]
fn missing_secret_file_names_the_setting_and_no_value() {
    let dir = temp_dir("missing-file");
    let missing = dir.join("no-such-secret");
    let text = example_text().replace(
        "client_secret_env = \"ACME_GENESYS_CLIENT_SECRET\"",
        &format!("client_secret_file = {:?}", missing.display().to_string()),
    );
    let path = dir.join("config.toml");
    fs::write(&path, text).unwrap();

    let err = Settings::load_with_env(&path, Some(secrets_env()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tenants.acme.genesys.client_secret_file"),
        "{err}"
    );
    assert!(err.contains("no-such-secret"), "the path helps: {err}");
    assert_no_secret_in(&err);
}

#[test]
fn empty_secret_file_is_an_error() {
    let dir = temp_dir("empty-file");
    let empty = dir.join("empty");
    fs::write(&empty, "\n").unwrap();
    let text = example_text().replace(
        "password_env = \"SCRIPTSYNC_BROKER_PASSWORD\"",
        &format!("password_file = {:?}", empty.display().to_string()),
    );
    let path = dir.join("config.toml");
    fs::write(&path, text).unwrap();
    let err = Settings::load_with_env(&path, Some(secrets_env()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("broker.password_file"), "{err}");
}

#[test]
fn missing_secret_variable_names_the_setting_and_variable() {
    let mut env = secrets_env();
    env.remove("GLOBEX_SERVICENOW_CLIENT_SECRET");
    let err = Settings::load_with_env(&example_path(), Some(env))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tenants.globex.servicenow.client_secret_env"),
        "{err}"
    );
    assert!(err.contains("GLOBEX_SERVICENOW_CLIENT_SECRET"), "{err}");
    assert_no_secret_in(&err);
}

#[test]
fn secret_given_both_ways_is_rejected() {
    let text = MINIMAL.replace(
        "datatable_id",
        "client_secret_file = \"/run/secrets/x\"\ndatatable_id",
    );
    // Refused while the file is read: no settings value can hold two sources.
    let err = Settings::from_toml_str(&text).unwrap_err().to_string();
    assert!(
        err.contains("give either client_secret_env or client_secret_file, not both"),
        "{err}"
    );
}

#[test]
fn redacted_toml_holds_no_secret_and_loads_again() {
    let settings = Settings::load_with_env(&example_path(), Some(secrets_env())).unwrap();
    let shown = settings.to_redacted_toml();
    assert_no_secret_in(&shown);
    assert!(
        shown.contains("ACME_GENESYS_CLIENT_SECRET"),
        "references stay visible: {shown}"
    );

    // What check-config prints is itself a valid configuration.
    let mut again = Settings::from_toml_str(&shown).unwrap_or_else(|e| panic!("{e}\n{shown}"));
    again
        .resolve_secrets_with_env(Some(&secrets_env()))
        .unwrap();
    again.validate().unwrap();
    assert_eq!(again.batch.linger, settings.batch.linger);
    assert_eq!(again.tenants.len(), 2);
}

#[test]
fn redacted_toml_masks_a_password_in_the_broker_url() {
    let text = format!("[broker]\nurl = \"amqp://user:hunter2-url@rabbit:5672/%2f\"\n{MINIMAL}");
    let settings = Settings::from_toml_str(&text).unwrap();
    let shown = settings.to_redacted_toml();
    assert!(!shown.contains("hunter2-url"), "{shown}");
    assert!(
        shown.contains("amqp://user:REDACTED@rabbit:5672/%2f"),
        "{shown}"
    );
}

#[test]
fn broker_url_with_a_password_is_rejected() {
    let text = format!("[broker]\nurl = \"amqp://user:hunter2-url@rabbit:5672/%2f\"\n{MINIMAL}");
    let err = parse_and_validate(&text).unwrap_err().to_string();
    assert!(err.contains("broker.url"), "{err}");
    assert!(!err.contains("hunter2-url"), "{err}");
}
