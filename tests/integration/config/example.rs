//! The committed example (`config/example.toml`): it loads with its secrets from the
//! environment or from files, its values are the code's defaults, it shows every key the
//! code knows, and the CA files it shows commented out are checked when set.

use std::collections::HashMap;
use std::fs;

use scriptsync::config::{Secret, ServiceNowAuth, ServiceNowMode, Settings, expose};

use super::{
    MINIMAL, SECRETS, example_path, example_text, parse_and_validate, secrets_env, temp_dir,
};

#[test]
fn example_loads_with_secrets_from_the_environment_map() {
    let settings = Settings::load_with_env(&example_path(), Some(secrets_env()))
        .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(settings.tenants.len(), 2);
    let acme = settings.tenant("acme").expect("tenant acme");
    let genesys = acme.genesys.as_ref().expect("acme has genesys");
    assert_eq!(genesys.region.as_deref(), Some("mypurecloud.com"));
    assert_eq!(genesys.api_base().as_str(), "https://api.mypurecloud.com/");
    assert_eq!(
        genesys.login_base().as_str(),
        "https://login.mypurecloud.com/"
    );
    assert_eq!(
        expose(genesys.client_secret.value().unwrap()),
        "acme-gc-secret-Xk42"
    );
    assert!(acme.servicenow.is_none(), "acme is Genesys-only");

    let globex = settings.tenant("globex").expect("tenant globex");
    assert!(globex.genesys.is_some());
    let sn = globex.servicenow.as_ref().expect("globex has servicenow");
    assert_eq!(sn.auth, ServiceNowAuth::OauthClientCredentials);
    assert_eq!(sn.mode, ServiceNowMode::Batch);
    assert_eq!(
        expose(sn.client_secret.as_ref().and_then(Secret::value).unwrap()),
        "globex-sn-secret-Rt19"
    );
    assert!(sn.password.is_none());

    assert_eq!(
        expose(
            settings
                .broker
                .password
                .as_ref()
                .and_then(Secret::value)
                .unwrap()
        ),
        "rabbit-pw-Zq81"
    );
}

#[test]
fn example_loads_with_secrets_from_files() {
    let dir = temp_dir("files");
    let mut text = example_text();
    for (var, value) in SECRETS {
        let file = dir.join(var.to_lowercase());
        fs::write(&file, format!("{value}\n")).unwrap();
        let from = format!("_env = \"{var}\"");
        assert!(text.contains(&from), "example refers to {var}");
        text = text.replace(&from, &format!("_file = {:?}", file.display().to_string()));
    }
    let path = dir.join("config.toml");
    fs::write(&path, text).unwrap();

    let settings =
        Settings::load_with_env(&path, Some(HashMap::new())).unwrap_or_else(|e| panic!("{e}"));
    let genesys = settings.tenant("globex").unwrap().genesys.as_ref().unwrap();
    assert_eq!(
        expose(genesys.client_secret.value().unwrap()),
        "globex-gc-secret-Pm07"
    );
}

#[test]
fn example_values_are_the_defaults() {
    // The example promises "the value shown is the default unless the comment says
    // otherwise"; the exceptions are the broker user and password and [log].
    let example: toml::Table = example_text().parse().unwrap();
    let defaults = toml::Table::try_from(Settings::default()).unwrap();
    for (section, values) in &defaults {
        let Some(values) = values.as_table() else {
            continue;
        };
        for (key, default) in values {
            if section == "broker" && key == "url" {
                continue;
            }
            assert_eq!(
                example[section].get(key),
                Some(default),
                "[{section}] {key} in config/example.toml differs from the code's default"
            );
        }
    }

    let minimal = parse_and_validate(MINIMAL).unwrap();
    let defaults = minimal.tenants[0].genesys.as_ref().unwrap();
    let acme_example = &example["tenants"][0]["genesys"];
    assert_eq!(
        acme_example["requests_per_minute"].as_integer(),
        Some(defaults.requests_per_minute.into())
    );
    assert_eq!(acme_example["headroom"].as_float(), Some(defaults.headroom));
    assert_eq!(
        acme_example["max_concurrency"].as_integer(),
        Some(defaults.max_concurrency as i64)
    );
    assert_eq!(
        acme_example["publish_scripts"].as_bool(),
        Some(defaults.publish_scripts)
    );
}

/// The field names serde lists when it rejects an unknown key in `section_toml`.
fn known_keys(section_toml: &str) -> Vec<String> {
    // "unknown field `x`, expected one of `a`, `b` for key `k`" (or "expected `a` or `b`").
    let err = Settings::from_toml_str(section_toml)
        .unwrap_err()
        .to_string();
    let (_, expected) = err
        .split_once(", expected ")
        .unwrap_or_else(|| panic!("{err}"));
    let expected = expected.split(" for key ").next().unwrap();
    let keys: Vec<String> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    assert!(!keys.is_empty(), "{err}");
    keys
}

#[test]
fn example_names_every_key() {
    let example = example_text();
    let sections = [
        "zz_unknown = 1",
        "[broker]\nzz_unknown = 1",
        "[batch]\nzz_unknown = 1",
        "[retry]\nzz_unknown = 1",
        "[http]\nzz_unknown = 1",
        "[admin]\nzz_unknown = 1",
        "[replica]\nzz_unknown = 1",
        "[shutdown]\nzz_unknown = 1",
        "[log]\nzz_unknown = 1",
        "[[tenants]]\nzz_unknown = 1",
        "[[tenants]]\nid = \"a\"\n[tenants.genesys]\nzz_unknown = 1",
        "[[tenants]]\nid = \"a\"\n[tenants.servicenow]\nzz_unknown = 1",
    ];
    for section in sections {
        for key in known_keys(section) {
            let shown = example.lines().any(|line| {
                let line = line.trim_start_matches('#').trim_start();
                let header = line.trim_matches(|c| c == '[' || c == ']');
                line.starts_with(&format!("{key} ="))
                    || (line.starts_with('[') && header.rsplit('.').next() == Some(key.as_str()))
            });
            assert!(
                shown,
                "config/example.toml does not show `{key}` (from {section:?})"
            );
        }
    }
}

#[test]
fn ca_files_from_the_example_are_checked_at_load() {
    // The example shows both keys commented out; set, they must name a readable PEM file.
    for (line, key) in [
        (
            "# ca_file = \"/etc/scriptsync/broker-ca.pem\"",
            "broker.ca_file",
        ),
        (
            "# ca_file = \"/etc/scriptsync/http-ca.pem\"",
            "http.ca_file",
        ),
    ] {
        let dir = temp_dir(&format!("ca-{key}"));
        let text = example_text();
        assert!(text.contains(line), "example shows {key}");
        let path = dir.join("config.toml");
        fs::write(&path, text.replacen(line, &line[2..], 1)).unwrap();
        let err = Settings::load_with_env(&path, Some(secrets_env()))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{err}");
        assert!(err.contains("/etc/scriptsync/"), "the path helps: {err}");
    }
}
