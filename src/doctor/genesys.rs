//! The doctor's Genesys Cloud checks for one tenant, in the order a first sync needs them:
//! the region and its hosts → a token with the tenant's client credentials → the data table
//! and its rows ([`super::datatable`]) → with
//! `publish_scripts`, the right to publish (an empty publish request, refused as incomplete
//! when allowed, so nothing is published) → the org's quota as Genesys reports it.
//! A failed step skips the steps that need it.

use reqwest::Method;
use serde_json::{Value, json};

use super::Context;
use super::call::{self, Answer};
use super::hosts;
use super::refusal::refused;
use super::report::{Checks, Finding};
use crate::config::GenesysSettings;
use crate::push::Credential;
use crate::targets::genesys::limits::CLIENT_RATE_KEY;

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
pub(super) struct Genesys<'a> {
    pub(super) ctx: &'a Context,
    pub(super) settings: &'a GenesysSettings,
    pub(super) credential: Credential,
}

impl Genesys<'_> {
    pub(super) async fn send(
        &self,
        method: Method,
        path: &[&str],
        body: Option<&Value>,
    ) -> Result<Answer, String> {
        let url = call::url(&self.settings.api_base(), path)?;
        call::send(&self.ctx.http, &self.credential, method, url, body).await
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
