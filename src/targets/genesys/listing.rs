//! Listing the data table's rows with their versions (`GET …/rows?showbrief=false`, paged),
//! when a lane starts, and publishing the row count (`scriptsync_datatable_rows`, a warning
//! near `genesys.max_rows`).

use super::{GenesysTarget, bad_base, rows, table};

impl GenesysTarget {
    /// Lists the table's rows with their versions, page by page (each page one logical
    /// request with its own retries). Errors leave the knowledge as it was: unlisted at
    /// start (writes then start with PUT), or the previous listing and what followed it.
    pub(super) async fn list_rows(&self) -> Result<usize, String> {
        let rows_url = self.rows_url().ok_or_else(bad_base)?;
        let mut rows = Vec::new();
        let mut page = 1;
        loop {
            let mut url = rows_url.clone();
            url.query_pairs_mut()
                .append_pair("pageNumber", &page.to_string())
                .append_pair("pageSize", &rows::PAGE_SIZE.to_string())
                .append_pair("showbrief", "false");
            let reply = self
                .client
                .send("GET rows", |http| http.get(url.clone()))
                .await
                .map_err(|f| f.error)?;
            let body = reply.json().unwrap_or_default();
            let (found, more) = rows::parse_page(&body, page)
                .ok_or_else(|| format!("GET rows: page {page} is not a row listing"))?;
            rows.extend(found);
            if !more {
                break;
            }
            page += 1;
        }
        let n = rows.len();
        self.rows.set_listing(rows);
        self.count_rows();
        Ok(n)
    }

    /// Publishes the table's row count (once listed) and warns near the limit.
    pub(super) fn count_rows(&self) {
        let Some(n) = self.rows.count() else {
            return;
        };
        self.metrics.datatable_rows(&self.tenant, n);
        if n as f64 >= self.max_rows as f64 * table::WARN_AT {
            tracing::warn!(
                tenant = %self.tenant, rows = n, max_rows = self.max_rows,
                "the Genesys data table is nearly full: new scripts will be dead-lettered as \
                 datatable_full at the limit (retire scripts, or raise the table's limit with \
                 Genesys and genesys.max_rows)"
            );
        }
    }
}
