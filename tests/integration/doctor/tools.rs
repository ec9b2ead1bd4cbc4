//! The doctor's tools and edges: `--create-table` makes a missing table the next run accepts
//! (and reuses it after), an unreachable broker fails only the broker's check, and usage
//! errors exit 2.

use std::collections::HashMap;

use scriptsync_sim::SimConfig;
use scriptsync_sim::fixtures::{self, SIM_SECRET};

use super::*;
use crate::common::run_cli;

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
