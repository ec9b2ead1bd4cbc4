//! `scriptsync tenants list` and `tenants check` on a directory, without starting a worker:
//! each tenant and each refused file with its path and reason, never a secret; `check` (and
//! its `--json`) fails while a file is broken and passes once it is gone.

use crate::common;
use common::tenant_dir::TenantDir;

#[tokio::test]
async fn tenants_list_and_check_show_what_a_directory_gives_without_starting_anything() {
    let dir = TenantDir::new("http://127.0.0.1:9");
    dir.secret("acme", "s3cret-value");
    dir.tenant("acme", "");
    dir.write(
        "broken.toml",
        "id = \"broken\"\n[genesys]\nregion = \"mypurecloud.com\"\n",
    );
    let config = dir
        .path
        .join("..")
        .join(format!("{}.config.toml", uuid::Uuid::new_v4().simple()));
    let tenants_dir = dir.path.display().to_string();
    std::fs::write(
        &config,
        format!("tenants_dir = \"{tenants_dir}\"\n[broker]\nurl = \"amqp://127.0.0.1:1/%2f\"\n"),
    )
    .unwrap();
    let config = config.display().to_string();

    let (code, out, err) = common::run_cli(&["tenants", "--config", &config, "list"]).await;
    assert_eq!(code, 0, "list always exits 0: {err}");
    assert!(out.starts_with("1 tenant(s), 1 problem(s)"), "{out}");
    assert!(out.contains("✔ acme") && out.contains("acme.toml"), "{out}");
    assert!(
        out.contains("✘") && out.contains("broken.toml") && out.contains("client_id"),
        "{out}"
    );
    assert!(!out.contains("s3cret-value"), "never a secret");

    let (code, out, _) =
        common::run_cli(&["tenants", "--config", &config, "check", "--json"]).await;
    assert_eq!(code, 1, "check fails on a broken file");
    let listing: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(listing["tenants"][0]["id"], "acme");
    assert_eq!(
        listing["tenants"][0]["targets"],
        serde_json::json!(["genesys", "servicenow"])
    );
    assert_eq!(listing["problems"][0]["tenant"], "broken");

    dir.remove("broken.toml");
    let (code, out, _) = common::run_cli(&["tenants", "--config", &config, "check"]).await;
    assert_eq!(code, 0, "{out}");
    let _ = std::fs::remove_file(&config);
}
