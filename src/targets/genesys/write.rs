//! The requests that change the table: a row written with one request when the knowledge is
//! right ([`GenesysTarget::upsert`]), a row deleted for a retire ([`GenesysTarget::retire`]),
//! and the one request helper every step of a job goes through ([`GenesysTarget::request`]).

use reqwest::RequestBuilder;
use url::Url;

use super::rows::Write;
use super::{GenesysTarget, readable_row, row_body, row_version, table};
use crate::push::{AttemptError, GatePermit, Judged, Reply};
use crate::targets::{Attempted, FailureReason, Job};

impl GenesysTarget {
    /// Retires the script: deletes its row (`DELETE …/rows/{key}`; a 404 means it is gone
    /// already). A row known to hold a newer version stays (newest wins across changes and
    /// retires); a row known absent needs no request; a replay reads the row first.
    pub(super) async fn retire(
        &self,
        permit: &mut Option<GatePermit>,
        job: &mut Job,
        row_url: &Url,
    ) -> Attempted {
        let key = job.change.script_id().to_owned();
        let version = job.change.version();
        match self.rows.held(&key) {
            Some(held) if held > version => return Attempted::AlreadyHeld(held),
            None if self.rows.write_for(&key) == Write::Create => {
                return Attempted::AlreadyHeld(version);
            }
            _ => {}
        }
        if job.check_first && !job.steps.checked {
            let mut get_url = row_url.clone();
            get_url.query_pairs_mut().append_pair("showbrief", "false");
            let got = self
                .request(permit, job, "GET row", readable_row, |http| {
                    http.get(get_url.clone())
                })
                .await;
            job.steps.checked = true;
            match got {
                Ok(reply) => match row_version(&reply) {
                    Some(held) if held > version => {
                        self.rows.holds(&key, Some(held));
                        return Attempted::AlreadyHeld(held);
                    }
                    read => self.rows.holds(&key, read),
                },
                Err(e) if e.status == Some(404) => {
                    self.rows.absent(&key);
                    return Attempted::AlreadyHeld(version);
                }
                Err(e) => return Attempted::Failed(e),
            }
        }
        let deleted = self
            .request(permit, job, "DELETE row", Judged::Done, |http| {
                http.delete(row_url.clone())
            })
            .await;
        match deleted {
            Ok(_) => {}
            Err(e) if e.status == Some(404) => {}
            Err(e) => return Attempted::Failed(e),
        }
        self.rows.absent(&key);
        self.count_rows();
        Attempted::Delivered
    }

    /// Writes the row with one request when the knowledge is right: PUT a known row, POST a
    /// new one; PUT→404 falls back to POST, and a POST refused because the row exists (409, or
    /// a 400 saying so: [`table::says_row_exists`]) to PUT. A POST refused because the table is
    /// at its row limit fails as `datatable_full`.
    pub(super) async fn upsert(
        &self,
        permit: &mut Option<GatePermit>,
        job: &mut Job,
        rows_url: &Url,
        row_url: &Url,
    ) -> Result<(), AttemptError> {
        let key = job.change.script_id().to_owned();
        let version = job.change.version();
        let body = row_body(&job.change);
        let put = |http: &reqwest::Client| http.put(row_url.clone()).json(&body);
        let post = |http: &reqwest::Client| http.post(rows_url.clone()).json(&body);
        if self.rows.write_for(&key) == Write::Update {
            match self
                .request(permit, job, "PUT row", Judged::Done, put)
                .await
            {
                Ok(_) => {
                    self.rows.holds(&key, Some(version));
                    return Ok(());
                }
                Err(e) if e.status == Some(404) => self.rows.absent(&key),
                Err(e) => return Err(e),
            }
        }
        match self
            .request(permit, job, "POST row", Judged::Done, post)
            .await
        {
            Ok(_) => {
                self.rows.holds(&key, Some(version));
                self.count_rows();
                Ok(())
            }
            Err(e) if table::says_table_full(&e, self.rows.count(), self.max_rows) => {
                let message = format!(
                    "{} (the data table holds {} of its {} rows; raise genesys.max_rows if Genesys raised the table's limit)",
                    e.message,
                    self.rows.count().map_or("?".into(), |n| n.to_string()),
                    self.max_rows
                );
                Err(
                    AttemptError::refused_as(FailureReason::DatatableFull, message)
                        .with_status(e.status)
                        .with_correlation_id(e.correlation_id),
                )
            }
            Err(e) if table::says_row_exists(&e) => {
                self.rows.exists(&key);
                self.request(permit, job, "PUT row", Judged::Done, put)
                    .await?;
                self.rows.holds(&key, Some(version));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// One request of `job` (`what`: its name in logs and errors): under the lane's permit if
    /// it is still unused, else through the gate within the job's budget; `judge` decides
    /// whether a 2xx answer will do. Counts the
    /// attempt and keeps the correlation id.
    pub(super) async fn request<B>(
        &self,
        permit: &mut Option<GatePermit>,
        job: &mut Job,
        what: &str,
        judge: fn(Reply) -> Judged<Reply>,
        build: B,
    ) -> Result<Reply, AttemptError>
    where
        B: Fn(&reqwest::Client) -> RequestBuilder,
    {
        let permit = match permit.take() {
            Some(permit) => permit,
            None => self.client.admit(what).await?,
        };
        let attempt = job.retries.count();
        let result = self
            .client
            .attempt_admitted(permit, attempt, what, build, judge)
            .await;
        let correlation_id = match &result {
            Ok(reply) => reply.correlation_id.clone(),
            Err(e) => e.correlation_id.clone(),
        };
        if correlation_id.is_some() {
            job.correlation_id = correlation_id;
        }
        result
    }
}
