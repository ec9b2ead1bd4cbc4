//! The simulator's mutable state behind one lock, shared by every handler.
//!
//! [`World`] holds the snapshot-shaped accounting ([`TenantState`] per tenant) plus what the
//! snapshot does not show: tokens, quota gates, live faults, Genesys rows (per principal and
//! table, keys ascending) and ServiceNow sys_ids. The lock is a `parking_lot::Mutex`, held
//! only for short, non-async sections.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::{Mutex, MutexGuard};
use serde_json::{Map, Value};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::allowance::Gate;
use super::fault_state::FaultState;
use super::faults::Faults;
use super::state::{AnsweredRequest, Applied, RECENT_REQUESTS};
use super::tokens::Tokens;
use super::{SimConfig, SimState, SimTarget, TargetState, TenantState};

/// What handlers hold: `Arc<Shared>`.
pub(crate) type Sim = Arc<Shared>;

/// (principal, datatable id): one org's table.
pub(crate) type TableKey = (String, String);

/// One table's rows, by key (ascending, as the listing pages through them).
pub(crate) type Rows = BTreeMap<String, Map<String, Value>>;

/// Read-only facts plus the locked [`World`].
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    /// Quota windows are aligned to this instant.
    pub(crate) origin: Instant,
    /// Wall-clock time at `origin`, to turn window ends into UNIX seconds.
    pub(crate) origin_wall: SystemTime,
    /// "http://127.0.0.1:PORT", used in ServiceNow record links.
    pub(crate) base_url: String,
    world: Mutex<World>,
}

impl Shared {
    pub(crate) fn new(config: SimConfig, base_url: String) -> Self {
        Self {
            config,
            origin: Instant::now(),
            origin_wall: SystemTime::now(),
            base_url,
            world: Mutex::new(World::default()),
        }
    }

    /// Locks the world.
    pub(crate) fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock()
    }

    pub(crate) fn snapshot(&self) -> SimState {
        let world = self.lock();
        SimState {
            tenants: world.tenants.clone(),
            unrouted: world.unrouted.clone(),
        }
    }

    /// UNIX seconds (rounded up) of a tokio instant.
    pub(crate) fn unix_secs(&self, at: Instant) -> u64 {
        let wall = self.origin_wall + at.saturating_duration_since(self.origin);
        let since = wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        since.as_secs() + u64::from(since.subsec_nanos() > 0)
    }

    /// The gate of (principal, target), created on first use.
    pub(crate) fn gate<'w>(
        &self,
        world: &'w mut World,
        principal: &str,
        target: SimTarget,
    ) -> &'w mut Gate {
        world
            .gates
            .entry((principal.to_string(), target))
            .or_insert_with(|| Gate::for_target(&self.config, self.origin, target))
    }
}

#[derive(Debug, Default)]
pub(crate) struct World {
    pub(crate) tenants: BTreeMap<String, TenantState>,
    pub(crate) tokens: Tokens,
    /// Who may log in now, and every secret presented.
    pub(crate) credentials: super::credentials::Credentials,
    pub(crate) gates: HashMap<(String, SimTarget), Gate>,
    /// Key `None`: the default for principals without their own setting.
    pub(crate) faults: HashMap<(Option<String>, SimTarget), FaultState>,
    /// Genesys data-table rows, as last written.
    pub(crate) tables: HashMap<TableKey, Rows>,
    /// Data tables created through the API, per (principal, id) ([`super::table_defs`]).
    pub(crate) table_defs: HashMap<TableKey, super::table_defs::DataTableSpec>,
    /// ServiceNow target-record sys_id per (u_tenant, u_script_id).
    pub(crate) sys_ids: HashMap<(String, String), String>,
    /// Counter behind ISET numbers.
    pub(crate) import_sets: u64,
    /// Requests answered so far, all tenants and targets: the `seq` of the last one.
    pub(crate) answered: u64,
    /// Requests no route matched (see [`SimState::unrouted`]).
    pub(crate) unrouted: VecDeque<String>,
    /// Subscribers to every applied write ([`super::SimHandle::watch_applied`]).
    pub(crate) watchers: Vec<UnboundedSender<Applied>>,
}

impl World {
    /// The accounting of (tenant, target), created on first use.
    pub(crate) fn target(&mut self, tenant: &str, target: SimTarget) -> &mut TargetState {
        self.tenants
            .entry(tenant.to_string())
            .or_default()
            .target_mut(target)
    }

    /// Counts one answered API request and logs it in the answer order.
    pub(crate) fn count(&mut self, principal: &str, target: SimTarget, status: u16) {
        self.answered += 1;
        let seq = self.answered;
        let state = self.target(principal, target);
        *state.requests.entry(status).or_default() += 1;
        if state.recent.len() == RECENT_REQUESTS {
            state.recent.pop_front();
        }
        state.recent.push_back(AnsweredRequest { seq, status });
    }

    /// Tells every watcher that `target` of `tenant` now holds `version` of `script_id`.
    pub(crate) fn applied(
        &mut self,
        tenant: &str,
        target: SimTarget,
        script_id: &str,
        version: u64,
    ) {
        self.notify(tenant, target, script_id, version, false);
    }

    /// Tells every watcher that `script_id` left `target` of `tenant` (a Genesys row deleted, a
    /// ServiceNow record retired) at `version`.
    pub(crate) fn deleted(
        &mut self,
        tenant: &str,
        target: SimTarget,
        script_id: &str,
        version: u64,
    ) {
        self.notify(tenant, target, script_id, version, true);
    }

    /// Sends one [`Applied`] to every watcher; forgets watchers that hung up.
    fn notify(
        &mut self,
        tenant: &str,
        target: SimTarget,
        script_id: &str,
        version: u64,
        deleted: bool,
    ) {
        if self.watchers.is_empty() {
            return;
        }
        let event = Applied {
            tenant: tenant.to_string(),
            target,
            script_id: script_id.to_string(),
            version,
            deleted,
            at: Instant::now(),
        };
        self.watchers.retain(|w| w.send(event.clone()).is_ok());
    }

    /// Notes an authenticated API request: its method and path ("PUT /api/…", counted in
    /// [`TargetState::paths`]), and the replica that sent it.
    pub(crate) fn note_request(
        &mut self,
        principal: &str,
        target: SimTarget,
        method_and_path: String,
        replica: &str,
    ) {
        let state = self.target(principal, target);
        *state.paths.entry(method_and_path).or_default() += 1;
        state.note_replica(replica);
    }

    /// Notes a request no route matched.
    pub(crate) fn note_unrouted(&mut self, request: String) {
        if self.unrouted.len() == RECENT_REQUESTS {
            self.unrouted.pop_front();
        }
        self.unrouted.push_back(request);
    }

    /// The faults that apply to `principal`: its own setting, else the default one.
    pub(crate) fn faults_for(
        &mut self,
        principal: &str,
        target: SimTarget,
    ) -> Option<&mut FaultState> {
        let own = (Some(principal.to_string()), target);
        let key = if self.faults.contains_key(&own) {
            own
        } else {
            (None, target)
        };
        self.faults.get_mut(&key)
    }

    /// Replaces the faults of `principal` (or the default), restarting their one-shot counts.
    pub(crate) fn set_faults(
        &mut self,
        principal: Option<&str>,
        target: SimTarget,
        faults: Faults,
    ) {
        let key = (principal.map(str::to_string), target);
        self.faults.insert(key, FaultState::new(faults));
    }

    /// The next import-set number, "ISET0010001" style.
    pub(crate) fn next_import_set(&mut self) -> String {
        self.import_sets += 1;
        format!("ISET{:07}", 10_000 + self.import_sets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_numbered_across_tenants_and_the_log_is_bounded() {
        let mut world = World::default();
        world.count("a", SimTarget::Genesys, 429);
        world.count("b", SimTarget::Servicenow, 200);
        world.count("a", SimTarget::Genesys, 200);
        let a: Vec<_> = world.tenants["a"].genesys.recent.iter().copied().collect();
        assert_eq!(
            a,
            [
                AnsweredRequest {
                    seq: 1,
                    status: 429
                },
                AnsweredRequest {
                    seq: 3,
                    status: 200
                }
            ]
        );
        assert_eq!(world.tenants["b"].servicenow.recent[0].seq, 2);
        for _ in 0..RECENT_REQUESTS + 10 {
            world.count("c", SimTarget::Genesys, 200);
        }
        let c = &world.tenants["c"].genesys;
        assert_eq!(c.recent.len(), RECENT_REQUESTS);
        assert_eq!(c.recent.back().unwrap().seq, world.answered);
        assert_eq!(c.answered(200), (RECENT_REQUESTS + 10) as u64);
    }
}
