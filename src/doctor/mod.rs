//! `scriptsync doctor`: the preflight an operator runs before go-live (and after any change
//! of credentials, roles or tables), against the live services with the tenants' own
//! settings. Per tenant ([`genesys`], [`servicenow`]): hosts, a token, the data table (schema,
//! rows, write rights), publishing, the quota, the staging table; then the broker
//! ([`broker`]). `--create-table` ([`create_table`]) makes a missing data table from
//! `schemas/genesys-datatable.json`. Results are printed one line per check ([`report`]),
//! or as JSON; the exit code is 0 (all passed, warnings allowed), 1 (a check failed) or 2
//! (usage: bad arguments or a configuration that cannot be loaded).
//!
//! The doctor changes nothing except one probe row, added and deleted at once, and (with
//! `--create-table`) the tables it creates. It prints no secret.

pub mod broker;
pub mod call;
pub mod create_table;
pub mod datatable;
pub mod genesys;
pub mod hosts;
pub mod refusal;
pub mod report;
pub mod servicenow;
pub mod table_schema;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use crate::change::TargetKind;
use crate::config::{GenesysSettings, RetrySettings, ServiceNowSettings, Settings, TenantSettings};
use crate::metrics::Metrics;
use crate::push::{AuthError, Credential, TokenCache};
use crate::tenants::Catalog;

use report::Report;

/// Exit code of a usage error (clap's, too).
pub const USAGE: u8 = 2;

/// The arguments of `scriptsync doctor` (clap), kept with the tool they drive; the binary's
/// `cli` names them in its command list.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The TOML configuration file (its `[[tenants]]` and `tenants_dir`, and the broker).
    #[arg(long, short, env = "SCRIPTSYNC_CONFIG")]
    pub config: PathBuf,
    /// Check only this tenant.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Print JSON instead of a line per check.
    #[arg(long)]
    pub json: bool,
    /// Create a tenant's Genesys data table from `schemas/genesys-datatable.json` when its
    /// `datatable_id` names none (an existing table of the same name is reused); prints the
    /// id to put in the tenant's settings.
    #[arg(long)]
    pub create_table: bool,
    /// Do not check the broker (only the services of the tenants).
    #[arg(long)]
    pub skip_broker: bool,
}

/// What every check needs: the HTTP client and how tokens are fetched.
pub struct Context {
    pub http: reqwest::Client,
    retry: RetrySettings,
    metrics: Arc<Metrics>,
}

/// Settings a token can be fetched with.
pub enum TokenFor<'a> {
    Genesys(&'a GenesysSettings),
    ServiceNow(&'a ServiceNowSettings),
}

impl<'a> From<&'a GenesysSettings> for TokenFor<'a> {
    fn from(g: &'a GenesysSettings) -> Self {
        Self::Genesys(g)
    }
}

impl<'a> From<&'a ServiceNowSettings> for TokenFor<'a> {
    fn from(s: &'a ServiceNowSettings) -> Self {
        Self::ServiceNow(s)
    }
}

impl Context {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            http: crate::app::http_client(&settings.http, "doctor")?,
            retry: settings.retry.clone(),
            metrics: Arc::new(Metrics::new()),
        })
    }

    /// One token fetch with the tenant's credentials (basic auth: the credential as is).
    pub async fn token<'a>(
        &self,
        tenant: &str,
        target: TargetKind,
        settings: impl Into<TokenFor<'a>>,
    ) -> Result<Credential, AuthError> {
        let method = match settings.into() {
            TokenFor::Genesys(g) => crate::targets::genesys::setup::auth_method(g),
            TokenFor::ServiceNow(s) => crate::targets::servicenow::setup::auth_method(s),
        }
        .map_err(|e| AuthError {
            class: crate::push::Class::Permanent,
            status: None,
            message: e.to_string(),
            wait: None,
        })?;
        let cache = TokenCache::new(
            tenant,
            target,
            method,
            self.http.clone(),
            &self.retry,
            self.metrics.clone(),
        );
        cache.get().await
    }
}

/// Runs `scriptsync doctor`.
pub async fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let settings = match Settings::load(&args.config) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(USAGE));
        }
    };
    let catalog = Catalog::load(&settings, None);
    let tenants: Vec<&TenantSettings> = catalog
        .entries
        .values()
        .map(|e| &e.settings)
        .filter(|t| args.tenant.as_ref().is_none_or(|only| &t.id == only))
        .collect();
    if let Some(only) = &args.tenant
        && tenants.is_empty()
    {
        eprintln!(
            "error: no tenant {only:?} in {} (see `scriptsync tenants --config {} list`)",
            args.config.display(),
            args.config.display()
        );
        return Ok(ExitCode::from(USAGE));
    }
    let ctx = Context::new(&settings)?;
    let mut report = Report::default();
    for problem in &catalog.problems {
        let mut c = report::Checks::new(problem.tenant.as_deref().unwrap_or("tenants"), None);
        c.fail(
            "tenant file",
            format!("{}: {}", problem.file.display(), problem.message),
            "fix the file (`scriptsync tenants --config … check` lists every problem)",
        );
        report.extend(c.findings);
    }
    for tenant in &tenants {
        if let Some(g) = &tenant.genesys {
            if args.create_table {
                report.extend(create_table::run(&ctx, &tenant.id, g).await);
            }
            report.extend(genesys::check(&ctx, &tenant.id, g).await);
        }
        if let Some(s) = &tenant.servicenow {
            report.extend(servicenow::check(&ctx, &tenant.id, s).await);
        }
    }
    if !args.skip_broker {
        let ids: Vec<String> = tenants.iter().map(|t| t.id.clone()).collect();
        let config = args.config.display().to_string();
        report.extend(broker::check(&settings, &config, &ids).await);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(report.exit_code())
}
