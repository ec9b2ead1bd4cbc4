//! `scriptsync doctor --create-table`: when a tenant's `genesys.datatable_id` names no table,
//! create one from `schemas/genesys-datatable.json` (`POST /api/v2/flows/datatables` with
//! `{name, description, schema}`; needs `architect:datatable:add`). A table of the same name
//! already there is reused instead of a second one made (Genesys table names are unique in an
//! org, so a second run finds the first run's table). Genesys picks the new table's id: the
//! operator puts it in the tenant's settings, which the doctor never edits.

use reqwest::Method;
use serde_json::{Value, json};

use super::Context;
use super::call;
use super::refusal::refused;
use super::report::{Checks, Finding};
use super::table_schema::scriptsync_schema;
use crate::change::TargetKind;
use crate::config::GenesysSettings;
use crate::push::Credential;

/// The name of the table scriptsync creates (the schema's title).
pub fn table_name() -> String {
    scriptsync_schema()["title"]
        .as_str()
        .unwrap_or("scriptsync compliance scripts")
        .to_owned()
}

/// Creates `tenant`'s data table if its id names none.
pub async fn run(ctx: &Context, tenant: &str, g: &GenesysSettings) -> Vec<Finding> {
    let mut c = Checks::new(tenant, Some("genesys"));
    let Ok(credential) = ctx.token(tenant, TargetKind::Genesys, g).await else {
        c.skip(&["create-table"], "no access token (see the token check)");
        return c.findings;
    };
    let send = |method: Method, url: url::Url, body: Option<Value>| {
        let credential: &Credential = &credential;
        async move { call::send(&ctx.http, credential, method, url, body.as_ref()).await }
    };
    let api = g.api_base();
    let tables = ["api", "v2", "flows", "datatables"];
    let mut by_id = tables.to_vec();
    by_id.push(&g.datatable_id);
    let Ok(url) = call::url(&api, &by_id) else {
        c.fail(
            "create-table",
            format!("{api} cannot hold a path"),
            "fix genesys.api_base",
        );
        return c.findings;
    };
    match send(Method::GET, url, None).await {
        Ok(a) if a.is_success() => {
            c.ok(
                "create-table",
                format!("table {} exists: nothing to create", g.datatable_id),
            );
            return c.findings;
        }
        Ok(a) if a.status == 404 => {}
        other => {
            refused(&mut c, "create-table", "looking the table up", other);
            return c.findings;
        }
    }
    let name = table_name();
    let Ok(mut search) = call::url(&api, &tables) else {
        return c.findings;
    };
    search.query_pairs_mut().append_pair("name", &name);
    match send(Method::GET, search.clone(), None).await {
        Ok(a) if a.is_success() => {
            let existing = a.json.as_ref().and_then(|j| {
                j["entities"].as_array()?.iter().find_map(|t| {
                    (t["name"] == name.as_str()).then(|| t["id"].as_str().map(str::to_owned))
                })
            });
            if let Some(id) = existing.flatten() {
                c.warn(
                    "create-table",
                    format!(
                        "no table {}, but table {name:?} exists with id {id}",
                        g.datatable_id
                    ),
                    format!("set genesys.datatable_id = {id:?} in tenant {tenant}'s settings"),
                );
                return c.findings;
            }
        }
        other => {
            refused(&mut c, "create-table", "searching tables by name", other);
            return c.findings;
        }
    }
    let body = json!({
        "name": name,
        "description": "Compliance scripts kept current by scriptsync: one row per script, keyed by script id.",
        "schema": scriptsync_schema(),
    });
    let create = call::url(&api, &tables).expect("the same base held a path above");
    match send(Method::POST, create, Some(body)).await {
        Ok(a) if a.is_success() => {
            let id = a
                .json
                .as_ref()
                .and_then(|j| j["id"].as_str())
                .unwrap_or("?")
                .to_owned();
            c.warn(
                "create-table",
                format!("created table {name:?} with id {id}"),
                format!(
                    "set genesys.datatable_id = {id:?} in tenant {tenant}'s settings (the \
                     worker follows a tenants directory live), then run the doctor again"
                ),
            );
        }
        other => refused(&mut c, "create-table", "creating the table", other),
    }
    c.findings
}
