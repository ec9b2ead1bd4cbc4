//! Whether a tenant's changes reach a worker: does its queue `<prefix>.t.<tenant>` exist?
//!
//! `mandatory` alone cannot say it here: the main exchange has an alternate exchange
//! (`<prefix>.unrouted`, DESIGN §4) that takes every message no tenant queue is bound for,
//! so the broker routes it there, confirms it and returns nothing, and the worker later
//! dead-letters it as `unknown_tenant`. So before a tenant's first change the queue is looked
//! up with a passive `queue.declare` on a channel of its own (a miss closes that channel with
//! 404, never the publishing one), and the answer is kept for the rest of the run: one round
//! trip per tenant, not per change.
//!
//! The worker declares and binds each configured tenant's queue together, so "the queue
//! exists" stands for "a binding routes the tenant's key to it". What this check cannot see:
//! a queue deleted after it was looked up (the alternate exchange then catches the change, and
//! the worker dead-letters it as `unknown_tenant`), and a queue left behind by a tenant
//! removed from the worker's config (changes wait in it). `mandatory` stays on for an
//! exchange declared without the alternate exchange, where a miss is returned.

use std::collections::HashMap;

use lapin::options::{ExchangeDeclareOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ExchangeKind};

use crate::broker::{Names, passive_lookup as lookup};

/// The tenants looked up so far: tenant → its queue exists.
pub struct Routes {
    names: Names,
    known: HashMap<String, bool>,
}

impl Routes {
    /// Routes under `names`, after checking that the main exchange exists (a clear error
    /// instead of every publish failing on a closed channel).
    pub async fn open(conn: &Connection, names: Names) -> anyhow::Result<Self> {
        let exchange = names.exchange();
        let options = ExchangeDeclareOptions {
            passive: true,
            ..ExchangeDeclareOptions::default()
        };
        let found = lookup(conn, |ch| async move {
            ch.exchange_declare(
                exchange.as_str().into(),
                ExchangeKind::Topic,
                options,
                FieldTable::default(),
            )
            .await
        })
        .await?
        .is_some();
        if !found {
            anyhow::bail!(
                "exchange {:?} does not exist: is broker.prefix right, and has the worker \
                 started once (it declares the topology)?",
                names.exchange()
            );
        }
        Ok(Self {
            names,
            known: HashMap::new(),
        })
    }

    /// True if `tenant`'s queue exists (asked once per tenant and run).
    pub async fn routable(&mut self, conn: &Connection, tenant: &str) -> lapin::Result<bool> {
        if let Some(known) = self.known.get(tenant) {
            return Ok(*known);
        }
        let queue = self.names.tenant_queue(tenant);
        let options = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let found = lookup(conn, |ch| async move {
            ch.queue_declare(queue.as_str().into(), options, FieldTable::default())
                .await
                .map(drop)
        })
        .await?
        .is_some();
        self.known.insert(tenant.to_owned(), found);
        Ok(found)
    }

    /// The queue a tenant's changes go to (for messages).
    pub fn queue(&self, tenant: &str) -> String {
        self.names.tenant_queue(tenant)
    }
}
