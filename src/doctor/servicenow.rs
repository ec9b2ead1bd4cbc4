//! The doctor's ServiceNow checks for one tenant: the instance host resolves → the
//! credentials work (a token, or basic auth as is) → the staging table exists → the Import
//! Set API accepts the user. Nothing is written, so the `create` ACL on the staging table is
//! not proven here: only a write shows it (`docs/servicenow.md` §5 says how to try one).
//!
//! - The table: `GET /api/now/table/{staging_table}?sysparm_limit=1` (Table API). "Invalid
//!   table" (400) is the one answer that says the table does not exist; a 403 or 404 is an
//!   ACL that hides it (a warning: the import may still be allowed).
//! - The API: `GET /api/now/import/{staging_table}/{sys_id}` of a sys_id no record has, the
//!   Import Set API's documented read: 404 "No Record found" (or 200) means it let the user
//!   in; 401 or 403 says it did not.

use reqwest::Method;

use super::Context;
use super::call::{self, Answer};
use super::hosts;
use super::report::{Checks, Finding};
use crate::change::TargetKind;
use crate::config::{ServiceNowAuth, ServiceNowSettings};
use crate::push::Credential;

/// The sys_id read by the Import Set API check: 32 hex digits no record has.
pub const PROBE_SYS_ID: &str = "00000000000000000000000000000000";

/// Runs every ServiceNow check of `tenant`.
pub async fn check(ctx: &Context, tenant: &str, s: &ServiceNowSettings) -> Vec<Finding> {
    let mut c = Checks::new(tenant, Some("servicenow"));
    let host = call::host_of(&s.instance_url);
    let after_token = ["staging table", "import api"];
    if let Err(why) = hosts::resolve(&s.instance_url).await {
        c.fail(
            "hosts",
            why,
            "check servicenow.instance_url (https://<instance>.service-now.com) and this \
             machine's DNS and egress",
        );
        c.skip(&["token"], "the instance host is unusable");
        c.skip(&after_token, "the instance host is unusable");
        return c.findings;
    }
    c.ok("hosts", format!("{host} resolves"));
    let credential = match ctx.token(tenant, TargetKind::Servicenow, s).await {
        Ok(credential) => {
            let how = match s.auth {
                ServiceNowAuth::Basic => "basic auth (checked by the next request)",
                _ => "got an access token",
            };
            c.ok("token", how);
            credential
        }
        Err(e) => {
            let advice = match e.status {
                Some(400 | 401) => "the instance refused the credentials: check \
                    servicenow.client_id / client_secret (the OAuth application registry \
                    entry) and, for the password grant, username / password"
                    .to_owned(),
                Some(_) => "the instance could not issue a token now: try again later".into(),
                None => format!("cannot reach {host}: check egress to it"),
            };
            c.fail("token", e.message, advice);
            c.skip(&after_token, "no credentials");
            return c.findings;
        }
    };
    let table = s.staging_table.as_str();
    let base = &s.instance_url;
    let table_path = ["api", "now", "table", table];
    let listing = read(ctx, base, &credential, &table_path, Some("sysparm_limit=1")).await;
    if !staging_table(&mut c, table, listing) {
        c.skip(&["import api"], "the staging table does not exist");
        return c.findings;
    }
    let import_path = ["api", "now", "import", table, PROBE_SYS_ID];
    let probe = read(ctx, base, &credential, &import_path, None).await;
    import_api(&mut c, table, probe);
    c.findings
}

/// `GET base/path?query` with the tenant's credential.
async fn read(
    ctx: &Context,
    base: &url::Url,
    credential: &Credential,
    path: &[&str],
    query: Option<&str>,
) -> Result<Answer, String> {
    let mut url = call::url(base, path)?;
    url.set_query(query);
    call::send(&ctx.http, credential, Method::GET, url, None).await
}

/// The Table API's answer about the staging table; false when it does not exist.
fn staging_table(c: &mut Checks, table: &str, answer: Result<Answer, String>) -> bool {
    match answer {
        Ok(a) if a.is_success() => c.ok("staging table", format!("{table} exists")),
        Ok(a) if a.status == 400 && a.describe.to_ascii_lowercase().contains("invalid table") => {
            c.fail(
                "staging table",
                format!("{table}: {}", a.describe),
                format!(
                    "create the Import Set table {table:?} (System Import Sets > Create \
                     Table) with a transform map to the scripts table, or fix \
                     servicenow.staging_table"
                ),
            );
            return false;
        }
        Ok(a) if matches!(a.status, 403 | 404) => c.warn(
            "staging table",
            format!("{table}: the user may not read it ({})", a.describe),
            "an ACL hides the table from this user; imports need only `create` on it, \
             so this is fine if the import check below passes",
        ),
        other => {
            unexpected(c, "staging table", table, other);
            return false;
        }
    }
    true
}

/// The Import Set API's answer to reading a record that does not exist.
fn import_api(c: &mut Checks, table: &str, answer: Result<Answer, String>) {
    match answer {
        Ok(a) if a.status == 404 || a.is_success() => c.ok(
            "import api",
            format!("the Import Set API accepts the user on {table}"),
        ),
        Ok(a) if matches!(a.status, 401 | 403) => c.fail(
            "import api",
            format!("{table}: {}", a.describe),
            "the user may not use the Import Set API on this table: give it the \
             import_transformer role and `create` on the staging table (docs/servicenow.md §5)",
        ),
        other => unexpected(c, "import api", table, other),
    }
}

fn unexpected(c: &mut Checks, check: &'static str, table: &str, answer: Result<Answer, String>) {
    match answer {
        Ok(a) => c.fail(
            check,
            format!("{table}: {}", a.describe),
            "see the instance's message; try again, and if it persists check the instance",
        ),
        Err(e) => c.fail(
            check,
            format!("{table}: {e}"),
            "check egress to the instance and try again",
        ),
    }
}
