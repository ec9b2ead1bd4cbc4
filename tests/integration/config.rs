//! The configuration surface (DESIGN §9, STYLE habit 8): the committed example loads, its
//! values are the real defaults and it names every key; unknown keys fail with their name;
//! `SCRIPTSYNC__…` overrides win over the file; secret errors name the setting, never a
//! value; the redacted rendering holds no secret.
//!
//! No test touches the process environment: overrides and `*_env` secrets go through the
//! environment map of `Settings::load_with_env`, and `*_file` secrets through a temp dir.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use scriptsync::config::{
    BrokerSettings, ConfigError, Secret, SecretString, ServiceNowAuth, ServiceNowMode, Settings,
    expose,
};

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

#[test]
fn genesys_region_must_be_a_domain() {
    for bad in [
        "",
        "mypurecloud.com/",
        "my purecloud.com",
        "mypurecloud.com?x",
        "a..b",
        "https://x",
    ] {
        let text = MINIMAL.replace("\"mypurecloud.com\"", &format!("{bad:?}"));
        let err = parse_and_validate(&text).expect_err(bad).to_string();
        assert!(err.contains("genesys.region"), "{bad:?}: {err}");
    }
    for good in [
        "mypurecloud.de",
        "use2.us-gov-pure.cloud",
        "MyPureCloud.com",
    ] {
        let text = MINIMAL.replace("\"mypurecloud.com\"", &format!("{good:?}"));
        parse_and_validate(&text).unwrap_or_else(|e| panic!("{good:?}: {e}"));
    }
}

#[test]
fn duplicate_tenant_ids_are_rejected() {
    let text = format!("{MINIMAL}\n{MINIMAL}");
    let err = parse_and_validate(&text).unwrap_err().to_string();
    assert!(err.contains("\"acme\"") && err.contains("twice"), "{err}");
}

#[test]
fn tenant_prefetch_of_zero_is_rejected() {
    let text = MINIMAL.replace("id = \"acme\"", "id = \"acme\"\nprefetch = 0");
    let err = parse_and_validate(&text).unwrap_err().to_string();
    assert!(err.contains("prefetch"), "{err}");
}

#[test]
fn an_inflight_budget_of_zero_is_rejected() {
    let text = format!("[broker]\nmax_inflight = 0\n{MINIMAL}");
    let err = parse_and_validate(&text).unwrap_err().to_string();
    assert!(err.contains("broker.max_inflight"), "{err}");
}

#[test]
fn minimal_config_validates_after_secrets_are_filled() {
    let settings = parse_and_validate(MINIMAL).unwrap();
    assert_eq!(settings.broker.prefetch, 500);
    assert_eq!(settings.broker.max_inflight, 5_000);
    assert_eq!(settings.tenants[0].id, "acme");

    let unfilled = Settings::from_toml_str(MINIMAL).unwrap();
    let err = unfilled.validate().unwrap_err().to_string();
    assert!(
        err.contains("client_secret_env or client_secret_file"),
        "{err}"
    );
}

#[test]
fn no_tenants_is_rejected() {
    let err = Settings::from_toml_str("")
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.contains("no tenants"), "{err}");
}

#[test]
fn missing_config_file_is_an_error() {
    let err = Settings::load_with_env(
        Path::new("/nonexistent/scriptsync.toml"),
        Some(HashMap::new()),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("/nonexistent/scriptsync.toml"), "{err}");
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

#[test]
fn an_unknown_key_is_named_once_in_the_error_chain() {
    let err = Settings::from_toml_str("[broker]\nprefx = \"x\"").unwrap_err();
    let shown = format!("{:#}", anyhow::Error::from(err));
    assert_eq!(shown.matches("unknown field `prefx`").count(), 1, "{shown}");
}

#[test]
fn target_urls_must_be_http() {
    let cases = [
        (
            MINIMAL.replace(
                "region = \"mypurecloud.com\"",
                "api_base = \"mailto:ops@example.com\"\nlogin_base = \"https://login.example.com\"",
            ),
            "genesys.api_base must be an http(s) URL",
        ),
        (
            MINIMAL.replace(
                "region = \"mypurecloud.com\"",
                "api_base = \"https://api.example.com\"\nlogin_base = \"ftp://login.example.com\"",
            ),
            "genesys.login_base must be an http(s) URL",
        ),
        (
            format!(
                "{MINIMAL}\n[tenants.servicenow]\ninstance_url = \"data:text/plain,x\"\nauth = \"basic\"\n\
                 username = \"u\"\npassword_env = \"ACME_SN_PASSWORD\"\nstaging_table = \"u_t\"\n"
            ),
            "servicenow.instance_url must be an http(s) URL",
        ),
    ];
    for (text, message) in cases {
        let err = parse_and_validate(&text).expect_err(message).to_string();
        assert!(err.contains(message), "{err}");
    }
}

#[test]
fn several_broker_addresses_as_a_list_or_a_joined_string_never_with_url() {
    let list =
        format!("[broker]\nurls = [\"amqp://a:5672/%2f\", \"amqp://b:5672/%2f\"]\n{MINIMAL}");
    let settings = parse_and_validate(&list).unwrap();
    let addresses: Vec<&str> = settings.broker.addresses().collect();
    assert_eq!(addresses, ["amqp://a:5672/%2f", "amqp://b:5672/%2f"]);
    // The shown config keeps the list.
    let shown = settings.to_redacted_toml();
    assert!(
        shown.contains("urls = [") && shown.contains("amqp://b:5672/%2f"),
        "{shown}"
    );

    let joined = format!("[broker]\nurls = \"amqp://a:5672/%2f, amqp://b:5672/%2f\"\n{MINIMAL}");
    let settings = parse_and_validate(&joined).unwrap();
    assert_eq!(settings.broker.addresses().count(), 2);

    let both =
        format!("[broker]\nurl = \"amqp://a:5672/%2f\"\nurls = [\"amqp://b:5672/%2f\"]\n{MINIMAL}");
    let err = parse_and_validate(&both).unwrap_err().to_string();
    assert!(err.contains("not both"), "{err}");
    let empty = format!("[broker]\nurls = []\n{MINIMAL}");
    let err = parse_and_validate(&empty).unwrap_err().to_string();
    assert!(err.contains("empty"), "{err}");
    let secret =
        format!("[broker]\nurls = [\"amqp://a:5672/%2f\", \"amqp://u:pw@b:5672/%2f\"]\n{MINIMAL}");
    let err = parse_and_validate(&secret).unwrap_err().to_string();
    assert!(err.contains("password") && !err.contains("pw@"), "{err}");

    // `bench --broker-url` / `demo --broker-url` take the comma-separated form too.
    let cli = BrokerSettings::with_addresses("amqp://a:5672/%2f, amqp://b:5672/%2f,");
    let addresses: Vec<&str> = cli.addresses().collect();
    assert_eq!(addresses, ["amqp://a:5672/%2f", "amqp://b:5672/%2f"]);
    let one = BrokerSettings::with_addresses("amqp://a:5672/%2f");
    assert_eq!(one.addresses().count(), 1);
}
