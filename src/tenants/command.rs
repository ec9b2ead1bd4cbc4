//! `scriptsync tenants list|check [--json]`: what a configuration and its tenants directory
//! give, with the problems found, without connecting to anything. `list` always exits 0;
//! `check` exits 1 when a tenant file cannot be used (a CI step before `kubectl apply`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{Catalog, Problem, Source};
use crate::config::Settings;

/// The arguments of `scriptsync tenants` (clap), kept with the tool they drive; the binary's
/// `cli` names them in its command list.
#[derive(Debug, Args)]
pub struct TenantsArgs {
    /// The TOML configuration file (its `[[tenants]]` and `tenants_dir`).
    #[arg(long, short, env = "SCRIPTSYNC_CONFIG")]
    pub config: PathBuf,
    /// Print JSON instead of a line per tenant.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: TenantsCommand,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum TenantsCommand {
    /// Every tenant with its source and targets, then the problems (exit 0).
    List,
    /// The same; exit 1 when any tenant file cannot be used.
    Check,
}

/// One tenant as listed.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub id: String,
    pub source: Source,
    pub targets: Vec<&'static str>,
    /// The Genesys API host (region or override) and data table.
    pub genesys_api: Option<String>,
    pub datatable_id: Option<String>,
    pub requests_per_minute: Option<u32>,
    pub servicenow_instance: Option<String>,
}

/// What `tenants list --json` prints.
#[derive(Debug, Serialize)]
pub struct Listing {
    pub tenants: Vec<Listed>,
    pub problems: Vec<Problem>,
}

impl Listing {
    pub fn of(catalog: &Catalog) -> Self {
        let tenants = catalog
            .entries
            .iter()
            .map(|(id, e)| {
                let g = e.settings.genesys.as_ref();
                let s = e.settings.servicenow.as_ref();
                let mut targets = Vec::new();
                targets.extend(g.map(|_| "genesys"));
                targets.extend(s.map(|_| "servicenow"));
                Listed {
                    id: id.clone(),
                    source: e.source.clone(),
                    targets,
                    genesys_api: g.map(|g| g.api_base().to_string()),
                    datatable_id: g.map(|g| g.datatable_id.clone()),
                    requests_per_minute: g.map(|g| g.requests_per_minute),
                    servicenow_instance: s.map(|s| s.instance_url.to_string()),
                }
            })
            .collect();
        Self {
            tenants,
            problems: catalog.problems.clone(),
        }
    }

    /// The human form: a line per tenant, then a line per problem.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{} tenant(s), {} problem(s)\n",
            self.tenants.len(),
            self.problems.len()
        );
        for t in &self.tenants {
            let source = match &t.source {
                Source::MainFile => "main file".to_owned(),
                Source::File(p) => p.display().to_string(),
            };
            let genesys = match (&t.genesys_api, &t.datatable_id, t.requests_per_minute) {
                (Some(api), Some(table), Some(rpm)) => {
                    format!(" genesys {api} table {table} {rpm}/min")
                }
                _ => String::new(),
            };
            let servicenow = t
                .servicenow_instance
                .as_deref()
                .map(|u| format!(" servicenow {u}"))
                .unwrap_or_default();
            out.push_str(&format!("✔ {} ({source}):{genesys}{servicenow}\n", t.id));
        }
        for p in &self.problems {
            let tenant = p
                .tenant
                .as_deref()
                .map(|t| format!(" [tenant {t}]"))
                .unwrap_or_default();
            out.push_str(&format!("✘ {}{tenant}\n", p.message));
        }
        out
    }
}

/// Runs `scriptsync tenants …`.
pub fn run(args: TenantsArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(&args.config)?;
    let listing = Listing::of(&Catalog::load(&settings, None));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&listing)?);
    } else {
        print!("{}", listing.render());
    }
    let failed = matches!(args.command, TenantsCommand::Check) && !listing.problems.is_empty();
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
