//! What the simulator has seen, as plain data: the snapshot served by `GET /_sim/state` and
//! returned by [`super::SimHandle::state`].
//!
//! Tenants are keyed by *principal* (the Genesys client id; the ServiceNow client id or basic
//! auth user) for request accounting, and by the record's `u_tenant` for what ServiceNow holds,
//! because several tenants may share one instance. With a Genesys client id equal to the tenant
//! id and ServiceNow records carrying that tenant id, both land in the same [`TenantState`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

/// Which simulated service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SimTarget {
    Genesys,
    Servicenow,
}

impl SimTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Genesys => "genesys",
            Self::Servicenow => "servicenow",
        }
    }
}

/// Everything the simulator recorded, per tenant (see the module docs for the key).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimState {
    pub tenants: BTreeMap<String, TenantState>,
    /// Requests that matched no simulated endpoint ("METHOD /path?query"), oldest first, at
    /// most [`RECENT_REQUESTS`]: answered 404 and attributed to nobody.
    pub unrouted: VecDeque<String>,
}

impl SimState {
    /// The tenant's state, or an empty one if nothing was recorded for it.
    pub fn tenant(&self, tenant: &str) -> TenantState {
        self.tenants.get(tenant).cloned().unwrap_or_default()
    }

    /// Sum of `violations` over every tenant and target: the number the worker must keep at 0.
    pub fn total_violations(&self) -> u64 {
        self.tenants
            .values()
            .map(|t| t.genesys.violations + t.servicenow.violations)
            .sum()
    }
}

/// One tenant's view of both targets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantState {
    pub genesys: TargetState,
    pub servicenow: TargetState,
}

impl TenantState {
    pub fn target(&self, target: SimTarget) -> &TargetState {
        match target {
            SimTarget::Genesys => &self.genesys,
            SimTarget::Servicenow => &self.servicenow,
        }
    }

    pub(crate) fn target_mut(&mut self, target: SimTarget) -> &mut TargetState {
        match target {
            SimTarget::Genesys => &mut self.genesys,
            SimTarget::Servicenow => &mut self.servicenow,
        }
    }
}

/// One (tenant, target): what it holds and how it was called.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetState {
    /// script id → what the target holds now (Genesys: data-table rows of this principal,
    /// keyed by row key; ServiceNow: records whose `u_tenant` is this tenant).
    pub held: BTreeMap<String, HeldRecord>,
    /// API requests by the HTTP status answered; logins are not included.
    pub requests: BTreeMap<u16, u64>,
    /// API requests that arrived while this principal+target was told to wait (after a 429 or
    /// 503 with a wait, until that time). The worker must keep this at 0.
    pub violations: u64,
    /// Requests that arrived inside a pause but within `in_flight_grace` of the answer that
    /// announced it: already on their way when the client was told. Refused (429) all the
    /// same, not counted as violations.
    pub in_flight_at_pause: u64,
    /// Requests to the login endpoint (`/oauth/token`, `/oauth_token.do`) for this principal.
    pub token_requests: u64,
    /// Of `token_requests`, those a login outage answered (503, dropped or held).
    pub token_refusals: u64,
    /// Authenticated API requests of this principal, by method and path as sent
    /// (percent-encoded, without the query): "PUT /api/v2/flows/datatables/t/rows/s1" → count.
    /// For isolation tests: which endpoints a tenant's credentials reached.
    pub paths: BTreeMap<String, u64>,
    /// Successful row writes (Genesys) / inserted or updated records (ServiceNow), retires not
    /// included.
    pub writes: u64,
    /// Rows deleted (Genesys `DELETE …/rows/{key}` answered 204) / records retired (ServiceNow
    /// `u_operation` "retire" applied, whether it updated a held record or inserted a retired
    /// one).
    pub deletes: u64,
    /// Genesys: requests another integration of the same org sent against this principal's
    /// quota (the `other_integration_share` fault), in the windows this principal used, counted
    /// up to its latest request.
    pub other_requests: u64,
    /// Writes whose version was lower than the held one: Genesys overwrites anyway, like the
    /// real table; ServiceNow counts the records it skipped (or, without
    /// `servicenow_skip_older`, overwrote).
    pub older_writes: u64,
    /// ServiceNow batch and insertMultiple calls.
    pub batch_calls: u64,
    /// ServiceNow batch sub-requests received, over all batch calls.
    pub sub_requests: u64,
    /// The last [`RECENT_REQUESTS`] API requests, oldest first, each with its place in the
    /// simulator-wide answer order: lets tests prove what happened *between* two answers
    /// (e.g. another tenant served while this one was paused) without reading clocks.
    pub recent: VecDeque<AnsweredRequest>,
    /// Bodies of Genesys `POST /api/v2/scripts/published`, in arrival order.
    pub published: Vec<PublishedScript>,
    /// Principals whose credentials wrote (or tried to write) this tenant's records on this
    /// target. For isolation tests: a ServiceNow record for tenant A sent with B's token puts
    /// "B" into A's set. For Genesys, rows belong to the principal, so it is just that one.
    pub tokens_seen: BTreeSet<String>,
    /// Who sent the API requests, in arrival order, as runs of consecutive requests from the
    /// same `X-Scriptsync-Replica` ("" when a request had none). A tenant that moves between
    /// replicas shows one new run per handover; two replicas sending at once show as runs
    /// alternating back and forth.
    pub replicas: Vec<ReplicaRun>,
}

/// Consecutive API requests from one replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaRun {
    pub replica: String,
    pub requests: u64,
}

impl TargetState {
    /// Counts one request from `replica` into [`TargetState::replicas`].
    pub(crate) fn note_replica(&mut self, replica: &str) {
        match self.replicas.last_mut() {
            Some(run) if run.replica == replica => run.requests += 1,
            _ => self.replicas.push(ReplicaRun {
                replica: replica.to_owned(),
                requests: 1,
            }),
        }
    }

    /// Requests answered with `status`.
    pub fn answered(&self, status: u16) -> u64 {
        self.requests.get(&status).copied().unwrap_or(0)
    }

    /// All API requests answered, whatever the status.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// How many answered requests each (tenant, target) keeps in [`TargetState::recent`].
pub const RECENT_REQUESTS: usize = 1024;

/// One answered API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnsweredRequest {
    /// Position in the order the simulator answered requests (all tenants and targets),
    /// starting at 1.
    pub seq: u64,
    /// The status answered (0: connection dropped).
    pub status: u16,
}

/// The version of one script a target holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRecord {
    pub version: u64,
    pub version_hash: String,
    pub change_id: String,
    pub disclaimer: Option<String>,
    /// How many times this record was written (created counts as one; a retire counts too).
    pub writes: u64,
    /// ServiceNow: the record was retired (`u_operation` "retire") at `version`; a newer upsert
    /// clears it. Genesys rows are deleted instead, never retired.
    #[serde(default)]
    pub retired: bool,
}

/// One Genesys publish call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedScript {
    pub script_id: String,
    pub version_id: String,
}

/// One write the simulator applied: a Genesys row written or deleted, a ServiceNow record
/// inserted, updated or retired. Streamed to [`super::SimHandle::watch_applied`] subscribers as it happens, so the
/// demo and the bench can time each change from its publication to its arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The Genesys principal (client id) or the record's `u_tenant`.
    pub tenant: String,
    pub target: SimTarget,
    pub script_id: String,
    /// The version written; for a deletion, the version the row held; for a retire, the
    /// retire's `u_version`.
    pub version: u64,
    /// `true` for a Genesys row deleted and for a ServiceNow record retired: the script is no
    /// longer live on the target.
    pub deleted: bool,
    /// When the write was applied (tokio's clock).
    pub at: tokio::time::Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_are_counted_in_runs() {
        let mut t = TargetState::default();
        for r in ["a", "a", "b", "b", "b", "a"] {
            t.note_replica(r);
        }
        let runs: Vec<(&str, u64)> = t
            .replicas
            .iter()
            .map(|r| (r.replica.as_str(), r.requests))
            .collect();
        assert_eq!(runs, [("a", 2), ("b", 3), ("a", 1)]);
    }

    #[test]
    fn snapshots_without_the_newer_fields_still_parse() {
        let target: TargetState = serde_json::from_str(r#"{"writes":2}"#).unwrap();
        assert_eq!(
            (target.writes, target.deletes, target.other_requests),
            (2, 0, 0)
        );
        let held: HeldRecord = serde_json::from_str(
            r#"{"version":3,"version_hash":"h","change_id":"c","disclaimer":null,"writes":1}"#,
        )
        .unwrap();
        assert!(!held.retired);
        let round_trip: SimState = serde_json::from_value(serde_json::json!({
            "tenants": {"t": {"genesys": {"deletes": 1, "other_requests": 4}}}
        }))
        .unwrap();
        assert_eq!(round_trip.tenant("t").genesys.other_requests, 4);
    }
}
