//! The doctor's data-table checks of one Genesys tenant: the table exists and its schema fits
//! scriptsync's rows ([`super::table_schema`]), its row count against `genesys.max_rows`, and
//! the right to write rows, shown by one probe row added, updated and deleted (the only change
//! the doctor makes).

use reqwest::Method;
use serde_json::{Value, json};

use super::call::{self, Answer};
use super::genesys::Genesys;
use super::refusal::refused;
use super::report::Checks;
use super::table_schema::{misfits, scriptsync_schema};
use crate::targets::genesys::table::WARN_AT;

/// The key of the row the write check adds and deletes again.
pub const PROBE_KEY: &str = "scriptsync-doctor-probe";

impl Genesys<'_> {
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
    pub(super) async fn table(&self, c: &mut Checks) -> bool {
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
    pub(super) async fn row_count(&self, c: &mut Checks) -> bool {
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
    pub(super) async fn row_writes(&self, c: &mut Checks) {
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
}
