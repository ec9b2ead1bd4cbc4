//! What a loaded config must satisfy beyond its keys: a Genesys region that is a domain,
//! unique tenant ids, no zero prefetch or in-flight budget, at least one tenant, secrets
//! filled, an existing file, http(s) target URLs, and the broker's addresses as one `url` or a
//! list of `urls`, never both.

use std::collections::HashMap;
use std::path::Path;

use scriptsync::config::{BrokerSettings, Settings};

use super::{MINIMAL, parse_and_validate};

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
