//! `scriptsync doctor` against the simulator: a healthy tenant (with its worker running) is all
//! ✔; each misconfiguration planted on purpose (wrong secret, a missing field, the key column
//! of another table, no permission to write rows, no staging table, a region that is not one)
//! is found by the check it belongs to, with the advice that fixes it; `--create-table` makes
//! a missing table that the next run accepts; no secret is ever printed; exit codes 0 / 1 / 2.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use scriptsync_sim::fixtures::{self, SIM_DATATABLE, SIM_SECRET, SIM_STAGING_TABLE};
use scriptsync_sim::{DataTableSpec, SimConfig, permissions};
use serde_json::Value;

use crate::common::{BROKER_URL, eventually, run_cli, spawn_app_with_sim};

const WRONG_SECRET: &str = "an-old-secret-that-was-regenerated";

/// One tenant file's text: Genesys (and ServiceNow unless `staging` is `None`) on `base`.
fn tenant(id: &str, base: &str, genesys_extra: &str, staging: Option<&str>) -> String {
    let mut text = format!(
        "id = \"{id}\"\n[genesys]\nclient_id = \"{id}\"\nclient_secret_file = \"{id}.secret\"\n\
         {genesys_extra}\n"
    );
    if !genesys_extra.contains("region") {
        text.push_str(&format!("api_base = \"{base}\"\nlogin_base = \"{base}\"\n"));
    }
    if !genesys_extra.contains("datatable_id") {
        text.push_str(&format!("datatable_id = \"{SIM_DATATABLE}\"\n"));
    }
    if let Some(staging) = staging {
        text.push_str(&format!(
            "[servicenow]\ninstance_url = \"{base}\"\nauth = \"oauth_client_credentials\"\n\
             client_id = \"{id}\"\nclient_secret_file = \"{id}.secret\"\nstaging_table = \"{staging}\"\n"
        ));
    }
    text
}

/// A config with a tenants directory holding `tenants` (id, file text, secret).
fn write_config(prefix: &str, tenants: &[(&str, String, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "scriptsync-doctor-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let tenants_dir = dir.join("tenants");
    std::fs::create_dir_all(&tenants_dir).unwrap();
    for (id, text, secret) in tenants {
        std::fs::write(tenants_dir.join(format!("{id}.toml")), text).unwrap();
        std::fs::write(tenants_dir.join(format!("{id}.secret")), secret).unwrap();
    }
    let config = dir.join("scriptsync.toml");
    let toml = format!(
        "tenants_dir = \"{}\"\n[broker]\nurl = \"{BROKER_URL}\"\nprefix = \"{prefix}\"\n",
        tenants_dir.display()
    );
    std::fs::write(&config, toml).unwrap();
    config
}

fn doctor_json(stdout: &str) -> Vec<Value> {
    let report: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    report["findings"].as_array().unwrap().clone()
}

/// The findings of `tenant` whose status is `status`.
fn of<'a>(findings: &'a [Value], tenant: &str, status: &str) -> Vec<&'a Value> {
    findings
        .iter()
        .filter(|f| f["scope"] == tenant && f["status"] == status)
        .collect()
}

fn assert_no_secret(out: &str) {
    for secret in [SIM_SECRET, WRONG_SECRET] {
        assert!(!out.contains(secret), "a secret was printed:\n{out}");
    }
    assert!(
        !out.to_lowercase().contains("bearer "),
        "a token was printed:\n{out}"
    );
}

fn sim_with_planted_problems(ids: &[&str]) -> SimConfig {
    let clients = ids
        .iter()
        .map(|id| (id.to_string(), SIM_SECRET.to_string()))
        .collect();
    let tables = HashMap::from([
        (
            SIM_DATATABLE.to_owned(),
            DataTableSpec::scriptsync("scriptsync compliance scripts"),
        ),
        (
            "lacks-disclaimer".to_owned(),
            DataTableSpec::scriptsync("scripts by hand").without("disclaimer"),
        ),
        (
            "campaigns".to_owned(),
            DataTableSpec::scriptsync("campaign settings").key_titled("Campaign ID"),
        ),
    ]);
    // The worker's role minus one permission: rows may be read, not added (and the table's
    // own read, which the worker does not need, is not granted either).
    let read_only = vec![
        permissions::ROW_VIEW.to_owned(),
        permissions::ROW_EDIT.to_owned(),
        permissions::ROW_DELETE.to_owned(),
    ];
    SimConfig {
        clients: Some(clients),
        genesys_datatables: Some(tables),
        genesys_permissions: Some(HashMap::from([("noperm".to_owned(), read_only)])),
        servicenow_staging_tables: Some(vec![SIM_STAGING_TABLE.to_owned()]),
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn a_healthy_tenant_with_its_worker_running_passes_every_check() {
    let sim_config = sim_with_planted_problems(&["healthy"]);
    let app = spawn_app_with_sim(&["healthy"], sim_config, |_| {}).await;
    let config = app.write_config();
    let queue = app.names.tenant_queue("healthy");
    eventually("the worker consumes", || async {
        app.consumers(&queue).await.unwrap_or(0) > 0
    })
    .await;
    let (code, out, err) = run_cli(&["doctor", "--config", path(&config), "--json"]).await;
    let findings = doctor_json(&out);
    let not_ok: Vec<&Value> = findings.iter().filter(|f| f["status"] != "ok").collect();
    assert!(not_ok.is_empty(), "{not_ok:#?}\n{err}");
    for check in [
        "token",
        "datatable",
        "datatable.rows",
        "datatable.write",
        "quota",
        "staging table",
        "import api",
    ] {
        assert!(
            findings.iter().any(|f| f["check"] == check),
            "{check} ran: {findings:#?}"
        );
    }
    for check in ["reachable", "topology", "tenant queue", "dead letters"] {
        assert!(
            findings
                .iter()
                .any(|f| f["scope"] == "broker" && f["check"] == check),
            "{check}"
        );
    }
    assert_eq!(code, 0, "{out}");
    assert!(
        app.sim_state()
            .tenants
            .get("healthy")
            .is_none_or(|t| t.genesys.held.is_empty()),
        "the probe row is removed again"
    );
    let (code, human, _) = run_cli(&["doctor", "--config", path(&config)]).await;
    assert_eq!(code, 0);
    assert!(human.contains("healthy · genesys\n  ✔ "), "{human}");
    assert!(!human.contains('✘'), "{human}");
    assert_no_secret(&format!("{out}{human}{err}"));
    app.stop().await;
}

#[tokio::test]
async fn every_planted_misconfiguration_is_found_with_its_advice() {
    let ids = [
        "healthy",
        "wrongsecret",
        "nofield",
        "badkey",
        "noperm",
        "nostaging",
        "wrongregion",
    ];
    // `unknownclient` is no client of the org at all.
    let sim = fixtures::start(sim_with_planted_problems(&ids))
        .await
        .unwrap();
    let base = sim.base_url();
    let staging = Some(SIM_STAGING_TABLE);
    let config = write_config(
        &fixtures_prefix(),
        &[
            ("healthy", tenant("healthy", &base, "", staging), SIM_SECRET),
            (
                "wrongsecret",
                tenant("wrongsecret", &base, "", None),
                WRONG_SECRET,
            ),
            (
                "nofield",
                tenant(
                    "nofield",
                    &base,
                    "datatable_id = \"lacks-disclaimer\"",
                    None,
                ),
                SIM_SECRET,
            ),
            (
                "badkey",
                tenant("badkey", &base, "datatable_id = \"campaigns\"", None),
                SIM_SECRET,
            ),
            ("noperm", tenant("noperm", &base, "", None), SIM_SECRET),
            (
                "unknownclient",
                tenant("unknownclient", &base, "", None),
                SIM_SECRET,
            ),
            (
                "nostaging",
                tenant("nostaging", &base, "", Some("u_scripts_staging")),
                SIM_SECRET,
            ),
            (
                "wrongregion",
                tenant("wrongregion", &base, "region = \"mypurecloud.cm\"", None),
                SIM_SECRET,
            ),
        ],
    );
    let (code, out, err) = run_cli(&[
        "doctor",
        "--config",
        path(&config),
        "--json",
        "--skip-broker",
    ])
    .await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert_no_secret(&format!("{out}{err}"));
    let findings = doctor_json(&out);
    let failed = |tenant: &str| of(&findings, tenant, "fail");
    assert!(failed("healthy").is_empty(), "{:#?}", failed("healthy"));
    assert!(of(&findings, "healthy", "ok").len() >= 7);

    let expect = |tenant: &str, check: &str, detail: &str, advice: &str| {
        let found = failed(tenant);
        assert!(
            found.iter().any(|f| f["check"] == check
                && f["detail"].as_str().unwrap().contains(detail)
                && f["advice"].as_str().unwrap().contains(advice)),
            "{tenant}: expected {check} ✘ with {detail:?} / {advice:?}, got {found:#?}"
        );
    };
    expect("wrongsecret", "token", "401", "genesys.client_secret");
    expect(
        "nofield",
        "datatable.schema",
        "\"disclaimer\" (string) is missing",
        "add a string field named exactly \"disclaimer\"",
    );
    expect(
        "badkey",
        "datatable.schema",
        "key column is named \"Campaign ID\"",
        "genesys.datatable_id",
    );
    expect(
        "unknownclient",
        "token",
        "client not found",
        "check genesys.client_id",
    );
    expect(
        "noperm",
        "datatable.write",
        "missing permission (one of) architect:datatable:add, architect:datatableRow:add",
        "add architect:datatableRow:add to a role",
    );
    expect(
        "nostaging",
        "staging table",
        "u_scripts_staging",
        "create the Import Set table",
    );
    expect(
        "wrongregion",
        "region",
        "\"mypurecloud.cm\" is not a Genesys Cloud region",
        "did you mean \"mypurecloud.com\"",
    );
    expect("wrongregion", "hosts", "does not resolve", "genesys.region");
    // Without architect:datatable:view the schema is not checked: a warning, not a failure.
    assert!(of(&findings, "noperm", "warn").iter().any(|f| {
        f["check"] == "datatable"
            && f["advice"]
                .as_str()
                .unwrap()
                .contains("architect:datatable:view")
    }));
    // A failed step skips what needs it instead of piling up errors.
    assert!(
        of(&findings, "wrongsecret", "skipped")
            .iter()
            .any(|f| f["check"] == "datatable")
    );
    // One misconfiguration each: nothing else failed.
    for id in ids.iter().filter(|id| !["wrongregion"].contains(id)) {
        assert!(failed(id).len() <= 1, "{id}: {:#?}", failed(id));
    }
    // Nothing was left in the tables by the write probes.
    assert!(
        sim.state()
            .tenants
            .values()
            .all(|t| t.genesys.held.is_empty())
    );

    let (code, one, _) = run_cli(&[
        "doctor",
        "--config",
        path(&config),
        "--tenant",
        "nofield",
        "--skip-broker",
    ])
    .await;
    assert_eq!(code, 1);
    assert!(
        one.contains("nofield · genesys") && !one.contains("healthy"),
        "{one}"
    );
    assert!(
        one.contains("✘ datatable.schema") && one.contains("      → add a string field"),
        "{one}"
    );
}

#[tokio::test]
async fn create_table_makes_the_missing_table_and_the_next_run_accepts_it() {
    let sim_config = SimConfig {
        genesys_datatables: Some(HashMap::new()),
        ..SimConfig::default()
    };
    let sim = fixtures::start(sim_config).await.unwrap();
    let base = sim.base_url();
    let missing = tenant("acme", &base, "datatable_id = \"no-such-table\"", None);
    let config = write_config(&fixtures_prefix(), &[("acme", missing, SIM_SECRET)]);
    let args = [
        "doctor",
        "--config",
        path(&config),
        "--json",
        "--skip-broker",
    ];

    let (code, out, _) = run_cli(&args).await;
    assert_eq!(code, 1);
    let findings = doctor_json(&out);
    let advice = of(&findings, "acme", "fail")[0]["advice"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(advice.contains("--create-table"), "{advice}");

    let mut create = args.to_vec();
    create.push("--create-table");
    let (_, out, _) = run_cli(&create).await;
    let findings = doctor_json(&out);
    let created = findings
        .iter()
        .find(|f| f["check"] == "create-table")
        .unwrap();
    let detail = created["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("created table \"scriptsync compliance scripts\" with id "),
        "{created:#?}"
    );
    let id = detail.rsplit(' ').next().unwrap().to_owned();
    assert!(
        created["advice"]
            .as_str()
            .unwrap()
            .contains(&format!("datatable_id = \"{id}\""))
    );

    // A second --create-table run finds the table by name instead of making another.
    let (_, again, _) = run_cli(&create).await;
    let again = doctor_json(&again);
    let reused = again.iter().find(|f| f["check"] == "create-table").unwrap();
    assert!(
        reused["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("exists with id {id}")),
        "{reused:#?}"
    );

    // With the id in the tenant's settings, every check passes, the write probe included.
    let fixed = tenant("acme", &base, &format!("datatable_id = \"{id}\""), None);
    let tenants_dir = config.parent().unwrap().join("tenants");
    std::fs::write(tenants_dir.join("acme.toml"), fixed).unwrap();
    let (code, out, _) = run_cli(&args).await;
    let findings = doctor_json(&out);
    assert!(of(&findings, "acme", "fail").is_empty(), "{findings:#?}");
    assert_eq!(code, 0);
}

#[tokio::test]
async fn the_broker_and_usage_errors_have_their_own_exit_codes() {
    let sim = fixtures::start(SimConfig::default()).await.unwrap();
    let config = write_config(
        &fixtures_prefix(),
        &[(
            "acme",
            tenant("acme", &sim.base_url(), "", None),
            SIM_SECRET,
        )],
    );
    // A broker nobody listens on: the broker check fails, the tenant's still run.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(":5672", ":1");
    std::fs::write(&config, text).unwrap();
    let (code, out, _) = run_cli(&["doctor", "--config", path(&config), "--json"]).await;
    assert_eq!(code, 1, "{out}");
    let findings = doctor_json(&out);
    assert!(
        of(&findings, "broker", "fail")
            .iter()
            .any(|f| f["check"] == "reachable")
    );
    assert!(of(&findings, "acme", "fail").is_empty(), "{findings:#?}");

    let (code, _, err) =
        run_cli(&["doctor", "--config", path(&config), "--tenant", "nobody"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("no tenant \"nobody\""), "{err}");
    let (code, _, err) = run_cli(&["doctor", "--config", "/nonexistent/scriptsync.toml"]).await;
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = run_cli(&["doctor", "--config", path(&config), "--no-such-flag"]).await;
    assert_eq!(code, 2);
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A broker prefix no other test uses (these tests declare nothing on the broker).
fn fixtures_prefix() -> String {
    format!("scriptsync-doctor-{}", uuid::Uuid::new_v4().simple())
}
