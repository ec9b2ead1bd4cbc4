//! The doctor's checks: a healthy tenant all ✔ with its worker running; every planted
//! misconfiguration found by its check with the advice that fixes it.

use scriptsync_sim::fixtures::{self, SIM_SECRET, SIM_STAGING_TABLE};
use serde_json::Value;

use super::*;
use crate::common::{eventually, run_cli, spawn_app_with_sim};

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
