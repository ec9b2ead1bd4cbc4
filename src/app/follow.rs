//! Which tenants run on this connection. This replica consumes the tenants it owns (and only
//! those), and follows ownership as replicas come and go: a tenant that moves away is drained
//! first (its in-flight pushes finish and settle), then its channel closes, which returns what
//! it still held to the queue and lets the next single active consumer (the new owner) start:
//! the old owner stops sending before the new one starts.
//!
//! The tenant set changes too (a `tenants_dir`): a tenant added is declared and started where
//! it is owned; one removed is drained and stopped (its queues stay); one changed is drained
//! and started again on its new parts, with the pauses its gates had. Tenants move between
//! replicas only while every replica sees the same tenant set (see `cluster::membership`).

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::Context as _;

use super::Application;
use super::connected::Connected;
use super::tenant_task::Running;
use crate::broker::Topology;
use crate::budget::{prefetch_for, should_restart};
use crate::cluster::owned_by;

impl Application {
    /// Starts the tenants this replica owns among `replicas` and releases the others;
    /// `taking_over`: a tenant it starts may have been another replica's this quota window.
    /// While the replicas see different tenant sets, nothing new is taken: tenants removed or
    /// changed here are still stopped (and the changed ones started again).
    pub(super) async fn follow(
        &self,
        c: &mut Connected,
        replicas: &BTreeSet<String>,
        taking_over: bool,
    ) -> anyhow::Result<()> {
        let all = self.tenants.snapshot();
        let new: Vec<String> = all
            .keys()
            .filter(|id| !c.tasks.declared.contains(*id))
            .cloned()
            .collect();
        if !new.is_empty() {
            Topology::new(&self.names, &self.settings.broker, new.iter().cloned())
                .declare(c.publisher.channel())
                .await
                .context("cannot declare the queues of new tenants")?;
            c.tasks.declared.extend(new);
        }
        let agreed = *self.membership.agreement().borrow();
        let owned: BTreeSet<String> = if agreed {
            owned_by(self.replica(), all.keys().map(String::as_str), replicas)
        } else {
            c.tasks
                .running
                .keys()
                .filter(|t| all.contains_key(*t))
                .cloned()
                .collect()
        };
        let max_inflight = self.settings.broker.max_inflight;
        for (tenant, running) in c.tasks.running.iter_mut() {
            if running.releasing {
                continue;
            }
            let why = match all.get(tenant) {
                None => "tenant removed: draining",
                Some(parts) if !Arc::ptr_eq(parts, &running.parts) => {
                    "tenant settings changed: draining, then starting again on them"
                }
                Some(_) if !owned.contains(tenant) => "tenant moves to another replica: draining",
                Some(parts)
                    if should_restart(
                        running.prefetch,
                        prefetch_for(parts.prefetch, max_inflight, owned.len()),
                    ) =>
                {
                    "the tenant's share of broker.max_inflight changed: draining, then \
                     consuming again with the new prefetch"
                }
                Some(_) => continue,
            };
            tracing::info!(%tenant, replica = self.replica(), "{why}");
            running.releasing = true;
            running.restart = owned.contains(tenant);
            running.stop.cancel();
        }
        for (id, parts) in all.iter().filter(|(id, _)| owned.contains(*id)) {
            if !c.tasks.running.contains_key(id) {
                let prefetch = prefetch_for(parts.prefetch, max_inflight, owned.len());
                self.start_tenant(c, parts, prefetch, taking_over).await?;
            }
        }
        Ok(())
    }

    /// A tenant stopped on purpose (`ended`: how it ran): handed over, removed, or to start
    /// again on new parts (carrying its gates' pauses over) if this replica still runs it.
    pub(super) async fn after_release(
        &self,
        c: &mut Connected,
        tenant: &str,
        ended: Option<Running>,
    ) -> anyhow::Result<()> {
        let replica = self.replica();
        let Some(parts) = self.tenants.get(tenant) else {
            tracing::info!(%tenant, %replica, "tenant removed: stopped here (its queues stay)");
            return Ok(());
        };
        let Some(ended) = ended.filter(|_| !c.stop.is_cancelled()) else {
            return Ok(());
        };
        let changed = !Arc::ptr_eq(&ended.parts, &parts);
        if !changed && !ended.restart {
            tracing::info!(%tenant, %replica, "tenant handed over");
            return Ok(());
        }
        if changed {
            parts.carry_pauses_from(&ended.parts);
        }
        let replicas = self.membership.watch().borrow().clone();
        let ids = self.tenants.snapshot();
        let (still_mine, owned) = if *self.membership.agreement().borrow() {
            let owned = owned_by(replica, ids.keys().map(String::as_str), &replicas);
            (owned.contains(tenant), owned.len())
        } else {
            (true, c.tasks.running.len() + 1)
        };
        if still_mine {
            let prefetch = prefetch_for(parts.prefetch, self.settings.broker.max_inflight, owned);
            tracing::info!(%tenant, %replica, prefetch, "tenant started again");
            self.start_tenant(c, &parts, prefetch, false).await?;
        }
        Ok(())
    }
}
