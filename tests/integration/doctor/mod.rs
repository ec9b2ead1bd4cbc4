//! `scriptsync doctor` against the simulator: a healthy tenant (with its worker running) is all
//! ✔; each misconfiguration planted on purpose (wrong secret, a missing field, the key column
//! of another table, no permission to write rows, no staging table, a region that is not one)
//! is found by the check it belongs to, with the advice that fixes it; `--create-table` makes
//! a missing table that the next run accepts; no secret is ever printed; exit codes 0 / 1 / 2.
//!
//! The shared pieces live here: tenant files and configs on the simulator, the JSON report's
//! findings, a simulator with every planted problem. `checks`: the healthy tenant and the
//! misconfigurations; `tools`: `--create-table`, the broker and the exit codes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use scriptsync_sim::fixtures::{SIM_DATATABLE, SIM_SECRET, SIM_STAGING_TABLE};
use scriptsync_sim::{DataTableSpec, SimConfig, permissions};
use serde_json::Value;

use crate::common::BROKER_URL;

mod checks;
mod tools;

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

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A broker prefix no other test uses (these tests declare nothing on the broker).
fn fixtures_prefix() -> String {
    format!("scriptsync-doctor-{}", uuid::Uuid::new_v4().simple())
}
