//! One job of a Genesys attempt, step by step (see the module doc of `targets::genesys`):
//! already held, without a request, when the row is known to hold this version or a newer
//! one; for a replay, the row read first; then the row written; then, with
//! `publish_scripts`, the script version published. A retry skips the steps already done.

use serde_json::json;

use super::{GenesysTarget, bad_base, readable_row, refused, row_version, table};
use crate::change::Operation;
use crate::push::{AttemptError, GatePermit, Judged, endpoint};
use crate::targets::{Attempted, FailureReason, Job};

impl GenesysTarget {
    #[tracing::instrument(skip_all, fields(
        tenant = %self.tenant, script_id = %job.change.script_id(),
        version = job.change.version(), target = "genesys"
    ))]
    pub(super) async fn attempt_job(&self, permit: GatePermit, job: &mut Job) -> Attempted {
        let change = job.change.clone();
        let mut permit = Some(permit);
        let Some(rows_url) = self.rows_url() else {
            return Attempted::Failed(refused(bad_base()));
        };
        // Keys are checked at intake; this guards the URL all the same.
        let Some(row_url) = endpoint(&rows_url, &[change.script_id()]) else {
            let why = table::key_problem(change.script_id()).unwrap_or_default();
            return Attempted::Failed(AttemptError::refused_as(FailureReason::InvalidKey, why));
        };
        if change.operation() == Operation::Retire {
            return self.retire(&mut permit, job, &row_url).await;
        }
        let publish = if self.publish_scripts {
            change.genesys_version_id()
        } else {
            None
        };
        if let Some(held) = self
            .rows
            .held(change.script_id())
            .filter(|_| !job.steps.checked)
        {
            // Known from the listing or an earlier answer: an older change (a new message
            // published late, after a restart or a hand-over) must not overwrite the row.
            // The lane's permit goes unused; this only happens to stale changes.
            if covers(held, change.version(), publish.is_some()) {
                return Attempted::AlreadyHeld(held);
            }
            job.steps.row_written |= held == change.version();
        }
        if job.check_first && !job.steps.checked {
            let mut get_url = row_url.clone();
            get_url.query_pairs_mut().append_pair("showbrief", "false");
            let got = self
                .request(&mut permit, job, "GET row", readable_row, |http| {
                    http.get(get_url.clone())
                })
                .await;
            match got {
                Ok(reply) => {
                    job.steps.checked = true;
                    let read = row_version(&reply);
                    self.rows.holds(change.script_id(), read);
                    let held = read.unwrap_or(0);
                    if covers(held, change.version(), publish.is_some()) {
                        return Attempted::AlreadyHeld(held);
                    }
                    job.steps.row_written = held == change.version();
                }
                Err(e) if e.status == Some(404) => {
                    job.steps.checked = true;
                    self.rows.absent(change.script_id());
                }
                Err(e) => return Attempted::Failed(e),
            }
        }
        if !job.steps.row_written {
            if let Err(e) = self.upsert(&mut permit, job, &rows_url, &row_url).await {
                return Attempted::Failed(e);
            }
            job.steps.row_written = true;
        }
        if let Some(version_id) = publish.filter(|_| !job.steps.published) {
            let Some(url) = endpoint(&self.api_base, &["api", "v2", "scripts", "published"]) else {
                return Attempted::Failed(refused(bad_base()));
            };
            let body = json!({"scriptId": change.script_id(), "versionId": version_id});
            let sent = self
                .request(&mut permit, job, "POST publish", Judged::Done, |http| {
                    http.post(url.clone()).json(&body)
                })
                .await;
            if let Err(e) = sent {
                return Attempted::Failed(e);
            }
            job.steps.published = true;
        }
        Attempted::Delivered
    }
}

/// True when a row holding `held` leaves nothing to do for a change at `version`: the row has
/// a newer version, or this one and no publish is owed. (This version with a publish owed:
/// publish again, idempotent, without rewriting the row.)
fn covers(held: u64, version: u64, publish_owed: bool) -> bool {
    held > version || (held == version && !publish_owed)
}
