//! The doctor's ServiceNow checks for one tenant: the instance host resolves → the
//! credentials work (a token, or basic auth as is) → the staging table exists and the user
//! may use the Import Set API on it. The last is a read of a staging record that cannot
//! exist (`GET /api/now/import/{staging_table}/{sys_id}`, the Import Set API's documented
//! read): "no record" means the table is there and the API lets the user in; a refusal or an
//! invalid table says which. Nothing is written, so the `create` ACL on the staging table is
//! not proven here (only a write shows it; `docs/servicenow.md` §5 says how to try one).

use reqwest::Method;

use super::Context;
use super::call::{self, Answer};
use super::hosts;
use super::report::{Checks, Finding};
use crate::change::TargetKind;
use crate::config::{ServiceNowAuth, ServiceNowSettings};

/// The sys_id read by the staging-table check: 32 hex digits no record has.
pub const PROBE_SYS_ID: &str = "00000000000000000000000000000000";

/// Runs every ServiceNow check of `tenant`.
pub async fn check(ctx: &Context, tenant: &str, s: &ServiceNowSettings) -> Vec<Finding> {
    let mut c = Checks::new(tenant, Some("servicenow"));
    let host = call::host_of(&s.instance_url);
    if let Err(why) = hosts::resolve(&s.instance_url).await {
        c.fail(
            "hosts",
            why,
            "check servicenow.instance_url (https://<instance>.service-now.com) and this \
             machine's DNS and egress",
        );
        c.skip(&["token", "staging table"], "the instance host is unusable");
        return c.findings;
    }
    c.ok("hosts", format!("{host} resolves"));
    let credential = match ctx.token(tenant, TargetKind::Servicenow, s).await {
        Ok(credential) => {
            let how = match s.auth {
                ServiceNowAuth::Basic => "basic auth (checked by the next request)".to_owned(),
                _ => "got an access token".to_owned(),
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
            c.skip(&["staging table"], "no credentials");
            return c.findings;
        }
    };
    let table = &s.staging_table;
    let path = ["api", "now", "import", table.as_str(), PROBE_SYS_ID];
    let answer = match call::url(&s.instance_url, &path) {
        Ok(url) => call::send(&ctx.http, &credential, Method::GET, url, None).await,
        Err(e) => Err(e),
    };
    staging_table(&mut c, table, answer);
    c.findings
}

/// Reads the answer to the staging-record read.
fn staging_table(c: &mut Checks, table: &str, answer: Result<Answer, String>) {
    let create = format!(
        "create the Import Set table {table:?} (System Import Sets > Create Table) with a \
         transform map to the scripts table, or fix servicenow.staging_table"
    );
    match answer {
        Ok(a) if a.status == 404 && invalid_table(&a) => {
            c.fail("staging table", format!("{table}: {}", a.describe), create)
        }
        Ok(a) if a.status == 404 || a.is_success() => c.ok(
            "staging table",
            format!("{table} exists and the Import Set API lets the user in"),
        ),
        Ok(a) if a.status == 400 && invalid_table(&a) => {
            c.fail("staging table", format!("{table}: {}", a.describe), create)
        }
        Ok(a) if a.status == 401 => c.fail(
            "staging table",
            format!("{table}: {}", a.describe),
            "the credentials were refused: check the user or OAuth client",
        ),
        Ok(a) if a.status == 403 => c.fail(
            "staging table",
            format!("{table}: {}", a.describe),
            "the user may not use the Import Set API on this table: give it the \
             import_transformer role (or an ACL that lets it create records in the staging \
             table)",
        ),
        Ok(a) => c.fail(
            "staging table",
            format!("{table}: {}", a.describe),
            "see the instance's message; try again, and if it persists check the instance",
        ),
        Err(e) => c.fail(
            "staging table",
            format!("{table}: {e}"),
            "check egress to the instance and try again",
        ),
    }
}

/// Whether ServiceNow's answer says the table itself is unknown (not just the record).
fn invalid_table(a: &Answer) -> bool {
    let message = a.describe.to_ascii_lowercase();
    message.contains("invalid table") || message.contains("does not represent any resource")
}
