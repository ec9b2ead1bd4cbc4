//! The doctor's Genesys Cloud checks for one tenant, in the order a first sync needs them:
//! the region and its hosts → a token with the tenant's client credentials → the data table
//! (exists, readable, its schema fits, its row count against `max_rows`) → row writes (one
//! probe row added, updated and deleted: the only change the doctor makes) → with
//! `publish_scripts`, the right to publish (an empty publish request, refused as incomplete
//! when allowed, so nothing is published) → the org's quota as Genesys reports it.
//! A failed step skips the steps that need it.

use reqwest::Method;
use serde_json::{Value, json};

use super::Context;
use super::call::{self, Answer};
use super::hosts;
use super::report::{Checks, Finding};
use super::table_schema::{misfits, scriptsync_schema};
use crate::config::GenesysSettings;
use crate::push::Credential;
use crate::targets::genesys::limits::CLIENT_RATE_KEY;
use crate::targets::genesys::table::WARN_AT;

/// The key of the row the write check adds and deletes again.
pub const PROBE_KEY: &str = "scriptsync-doctor-probe";

const AFTER_TOKEN: &[&str] = &["datatable", "datatable.rows", "datatable.write"];

/// Runs every Genesys check of `tenant`.
pub async fn check(ctx: &Context, tenant: &str, g: &GenesysSettings) -> Vec<Finding> {
    let mut c = Checks::new(tenant, Some("genesys"));
    if !region(&mut c, g).await {
        c.skip(&["token"], "the Genesys hosts are unusable");
        c.skip(AFTER_TOKEN, "the Genesys hosts are unusable");
        return c.findings;
    }
    let credential = match ctx
        .token(tenant, crate::change::TargetKind::Genesys, g)
        .await
    {
        Ok(credential) => {
            c.ok(
                "token",
                format!("client {} got an access token", g.client_id),
            );
            credential
        }
        Err(e) => {
            token_refused(&mut c, g, &e);
            c.skip(AFTER_TOKEN, "no access token");
            return c.findings;
        }
    };
    let genesys = Genesys {
        ctx,
        settings: g,
        credential,
    };
    if genesys.table(&mut c).await {
        if genesys.row_count(&mut c).await {
            genesys.row_writes(&mut c).await;
        } else {
            c.skip(&["datatable.write"], "the data table is unusable");
        }
    } else {
        c.skip(
            &["datatable.rows", "datatable.write"],
            "the data table is unusable",
        );
    }
    if g.publish_scripts {
        genesys.publish(&mut c).await;
    }
    genesys.quota(&mut c).await;
    c.findings
}

/// The region is a Genesys region and the hosts resolve.
async fn region(c: &mut Checks, g: &GenesysSettings) -> bool {
    let mut usable = true;
    if let Some(region) = &g.region {
        if hosts::is_genesys_region(region) {
            c.ok("region", format!("{region} is a Genesys Cloud region"));
        } else {
            let near = hosts::nearest_region(region)
                .map(|r| format!("did you mean {r:?}? "))
                .unwrap_or_default();
            c.fail(
                "region",
                format!("{region:?} is not a Genesys Cloud region"),
                format!(
                    "{near}set genesys.region to the org's region domain (Admin > Organization \
                     settings shows it; known: {})",
                    hosts::GENESYS_REGIONS.join(", ")
                ),
            );
            usable = g.api_base.is_some() && g.login_base.is_some();
        }
    }
    for (what, url) in [("API", g.api_base()), ("login", g.login_base())] {
        if let Err(why) = hosts::resolve(&url).await {
            c.fail(
                "hosts",
                format!("the {what} host: {why}"),
                "check genesys.region (or the api_base/login_base override) and this \
                 machine's DNS and egress to the Genesys hosts",
            );
            return false;
        }
    }
    let (api, login) = (call::host_of(&g.api_base()), call::host_of(&g.login_base()));
    if api == login {
        c.ok("hosts", format!("{api} resolves"));
    } else {
        c.ok("hosts", format!("{api} and {login} resolve"));
    }
    usable
}

/// A refused token request, with what each answer usually means.
fn token_refused(c: &mut Checks, g: &GenesysSettings, e: &crate::push::AuthError) {
    let login = call::host_of(&g.login_base());
    let advice = match e.status {
        Some(400 | 401) if e.message.contains("not found") => format!(
            "no OAuth client {} exists at {login}: check genesys.client_id, and that \
             genesys.region is the region the client was created in",
            g.client_id
        ),
        Some(400 | 401) => format!(
            "{login} refused client {}'s credentials: check that genesys.client_secret (or \
             its _file / env) holds the client's current secret (a regenerated secret \
             replaces the old one) and that the client uses the Client Credentials grant; \
             if the secret is right, check that genesys.region is the org's region (a client \
             of another region is refused the same way)",
            g.client_id
        ),
        Some(429) => "the login endpoint is rate limiting: try again in a minute".into(),
        Some(_) => format!("{login} could not issue a token now: try again later"),
        None => format!("cannot reach {login}: check egress (proxy, firewall) to it"),
    };
    c.fail("token", e.message.clone(), advice);
}

/// One tenant's Genesys calls.
struct Genesys<'a> {
    ctx: &'a Context,
    settings: &'a GenesysSettings,
    credential: Credential,
}

impl Genesys<'_> {
    async fn send(
        &self,
        method: Method,
        path: &[&str],
        body: Option<&Value>,
    ) -> Result<Answer, String> {
        let url = call::url(&self.settings.api_base(), path)?;
        call::send(&self.ctx.http, &self.credential, method, url, body).await
    }

    fn table_path(&self) -> Vec<&str> {
        vec![
            "api",
            "v2",
            "flows",
            "datatables",
            &self.settings.datatable_id,
        ]
    }

    /// The table exists and is readable; its schema fits.
    async fn table(&self, c: &mut Checks) -> bool {
        let id = &self.settings.datatable_id;
        let url = call::url(&self.settings.api_base(), &self.table_path()).map(|mut u| {
            u.set_query(Some("expand=schema"));
            u
        });
        let answer = match url {
            Ok(url) => call::send(&self.ctx.http, &self.credential, Method::GET, url, None).await,
            Err(e) => Err(e),
        };
        let table = match answer {
            Ok(a) if a.is_success() => a.json.unwrap_or_default(),
            Ok(a) if a.status == 404 => {
                c.fail(
                    "datatable",
                    format!("no data table {id} in this org ({})", a.describe),
                    format!(
                        "check genesys.datatable_id (Architect > Data Tables shows each \
                         table's id), or create the table: scriptsync doctor --config … \
                         --tenant {} --create-table",
                        c.scope()
                    ),
                );
                return false;
            }
            Ok(a) if a.status == 403 => {
                // The worker's role needs only the row permissions; the table's own read
                // (`architect:datatable:view`) is optional, so its absence is a warning and
                // the row checks below still find a missing table.
                let missing = a
                    .missing_permissions()
                    .unwrap_or_else(|| "architect:datatable:view".into());
                c.warn(
                    "datatable",
                    format!("the table's schema cannot be read: missing permission {missing}"),
                    format!("the worker does not need it; add {missing} to the client's role to let the doctor check the schema"),
                );
                return true;
            }
            other => {
                refused(c, "datatable", &format!("reading data table {id}"), other);
                return false;
            }
        };
        let name = table["name"].as_str().unwrap_or("?");
        let found = misfits(&table["schema"], &scriptsync_schema());
        if found.is_empty() {
            c.ok(
                "datatable",
                format!("table {name:?} ({id}) fits scriptsync's rows"),
            );
        }
        for m in &found {
            c.fail(
                "datatable.schema",
                format!("table {name:?}: {}", m.what),
                m.advice.clone(),
            );
        }
        true
    }

    /// Rows held against `max_rows`; false when the table turned out not to exist.
    async fn row_count(&self, c: &mut Checks) -> bool {
        let mut path = self.table_path();
        path.push("rows");
        let url = call::url(&self.settings.api_base(), &path).map(|mut u| {
            u.set_query(Some("pageSize=1&pageNumber=1"));
            u
        });
        let answer = match url {
            Ok(url) => call::send(&self.ctx.http, &self.credential, Method::GET, url, None).await,
            Err(e) => Err(e),
        };
        let total = match answer {
            Ok(a) if a.is_success() => a.json.as_ref().and_then(|j| j["total"].as_u64()),
            Ok(a) if a.status == 404 => {
                let id = &self.settings.datatable_id;
                c.fail(
                    "datatable.rows",
                    format!("no data table {id} in this org ({})", a.describe),
                    "check genesys.datatable_id (Architect > Data Tables shows each table's id), or create the table with --create-table",
                );
                return false;
            }
            other => {
                refused(c, "datatable.rows", "listing the rows", other);
                return true;
            }
        };
        let Some(total) = total else {
            c.warn(
                "datatable.rows",
                "the row listing has no total",
                "nothing to do unless the table is near its cap",
            );
            return true;
        };
        let cap = self.settings.max_rows as u64;
        let detail = format!("{total} of {cap} rows (genesys.max_rows)");
        if total >= cap {
            c.fail(
                "datatable.rows",
                detail,
                "the table is full: new scripts cannot be added. Retire scripts no longer \
                 used (script-retire/v1), or ask Genesys Customer Care to raise the table's \
                 row limit and set genesys.max_rows to it",
            );
        } else if total as f64 >= cap as f64 * WARN_AT {
            c.warn(
                "datatable.rows",
                detail,
                "over 90 % full: retire scripts no longer used, or have the limit raised",
            );
        } else {
            c.ok("datatable.rows", detail);
        }
        true
    }

    /// Adds, updates and deletes the probe row.
    async fn row_writes(&self, c: &mut Checks) {
        let mut rows = self.table_path();
        rows.push("rows");
        let mut row = rows.clone();
        row.push(PROBE_KEY);
        let body = json!({"key": PROBE_KEY, "version": 0});
        let steps: [(Method, &[&str], Option<&Value>, &str); 3] = [
            (Method::POST, &rows, Some(&body), "adding a row"),
            (Method::PUT, &row, Some(&body), "updating a row"),
            (Method::DELETE, &row, None, "deleting a row"),
        ];
        for (method, path, body, what) in steps {
            let answer = self.send(method.clone(), path, body).await;
            // An earlier, interrupted run may have left the probe row: adding it again is
            // refused as a duplicate, which still shows the client may add rows.
            let exists = |a: &Answer| {
                method == Method::POST
                    && matches!(a.status, 400 | 409)
                    && a.code().contains("exists")
            };
            match answer {
                Ok(a) if a.is_success() || exists(&a) => {}
                other => {
                    refused(c, "datatable.write", what, other);
                    if method != Method::POST {
                        c.warn(
                            "datatable.write",
                            format!("the probe row {PROBE_KEY:?} may be left in the table"),
                            "delete it in Architect once the permission is fixed",
                        );
                    }
                    return;
                }
            }
        }
        c.ok(
            "datatable.write",
            format!("may add, update and delete rows (probe row {PROBE_KEY:?} added and removed)"),
        );
    }

    /// May publish scripts: an empty publish request is refused as incomplete (400), or as
    /// not permitted (403).
    async fn publish(&self, c: &mut Checks) {
        let path = ["api", "v2", "scripts", "published"];
        match self.send(Method::POST, &path, Some(&json!({}))).await {
            Ok(a) if a.status == 400 || a.is_success() => c.ok(
                "publish",
                "may publish scripts (an empty request was refused as incomplete)",
            ),
            other => refused(c, "publish", "publishing a script", other),
        }
    }

    /// The org's quota for the client, against the configured one.
    async fn quota(&self, c: &mut Checks) {
        let ns = self.settings.limits_namespace.as_str();
        let path = ["api", "v2", "organizations", "limits", "namespaces", ns];
        let configured = self.settings.requests_per_minute;
        let answer = match self.send(Method::GET, &path, None).await {
            Ok(a) if a.is_success() => a,
            Ok(a) => {
                c.warn(
                    "quota",
                    format!("the org's limits cannot be read ({})", a.describe),
                    format!("the worker uses the configured {configured}/min; grant the permission the answer names to learn the real quota"),
                );
                return;
            }
            Err(e) => {
                c.warn(
                    "quota",
                    format!("the org's limits cannot be read: {e}"),
                    "the worker uses genesys.requests_per_minute",
                );
                return;
            }
        };
        let learned = answer.json.as_ref().and_then(|j| {
            j["entities"].as_array()?.iter().find_map(|e| {
                (e["key"] == CLIENT_RATE_KEY)
                    .then(|| e["value"].as_u64())
                    .flatten()
            })
        });
        match learned {
            Some(n) if n < u64::from(configured) => c.warn(
                "quota",
                format!(
                    "the org allows {n}/min per client; genesys.requests_per_minute is {configured}"
                ),
                format!(
                    "set genesys.requests_per_minute = {n} (the worker already stays under {n})"
                ),
            ),
            Some(n) => c.ok(
                "quota",
                format!("{n} requests/min per client (configured {configured})"),
            ),
            None => c.ok(
                "quota",
                format!("no {CLIENT_RATE_KEY} in {ns}: the configured {configured}/min applies"),
            ),
        }
    }
}

/// Reports a request that did not succeed: a missing permission by name, else the answer.
pub fn refused(c: &mut Checks, check: &'static str, what: &str, answer: Result<Answer, String>) {
    match answer {
        Ok(a) if a.status == 403 => {
            let missing = a.missing_permissions();
            let detail = match &missing {
                Some(p) if p.contains(',') => format!("{what}: missing permission (one of) {p}"),
                Some(p) => format!("{what}: missing permission {p}"),
                None => format!("{what}: refused ({})", a.describe),
            };
            let grant = "to a role of the OAuth client (Admin > Roles / Permissions), then \
                         check the role is granted in the table's division";
            let advice = match missing.as_deref().map(narrowest) {
                Some(p) => format!("add {p} {grant}"),
                None => "grant the OAuth client's role the permission this call needs \
                         (docs/genesys.md, the OAuth client)"
                    .into(),
            };
            c.fail(check, detail, advice);
        }
        Ok(a) if a.status == 429 => c.fail(
            check,
            format!("{what}: rate limited ({})", a.describe),
            "the quota is in use (a running worker?): run the doctor again in a minute",
        ),
        Ok(a) => c.fail(
            check,
            format!("{what}: {}", a.describe),
            "see the server's message; run again, and if it persists check the service status",
        ),
        Err(e) => c.fail(
            check,
            format!("{what}: {e}"),
            "check egress (proxy, firewall) to the host and try again",
        ),
    }
}

/// Of a 403's permissions (any one of which would do), the one that grants least: the
/// row-level permission over the table-level one (`architect:datatableRow:add` rather than
/// `architect:datatable:add`), the longest name being the most specific.
fn narrowest(listed: &str) -> &str {
    listed
        .split(',')
        .map(str::trim)
        .max_by_key(|p| p.len())
        .unwrap_or(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_narrowest_of_several_permissions_is_advised() {
        let any = "architect:datatable:add, architect:datatableRow:add";
        assert_eq!(narrowest(any), "architect:datatableRow:add");
        assert_eq!(
            narrowest("scripter:publishedScript:add"),
            "scripter:publishedScript:add"
        );
    }
}
