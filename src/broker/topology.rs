//! The queue topology of DESIGN §4, declared idempotently at start (and deleted by the demo
//! and tests, which use random prefixes); a tenant's wait queues are declared when first used.

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};

use crate::change::TargetKind;
use crate::config::{BrokerSettings, QueueType};

/// Routing key used from the DLX to the DLQ (the original key travels in a header).
pub const DLQ_ROUTING_KEY: &str = "dlq";

/// Every exchange and queue name, derived from `broker.prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
}

impl Names {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }
    /// The topic exchange publishers send to (routing key = tenant id).
    pub fn exchange(&self) -> String {
        self.prefix.clone()
    }
    /// Fanout exchange (and its queue) for messages whose tenant has no queue.
    pub fn unrouted(&self) -> String {
        format!("{}.unrouted", self.prefix)
    }
    /// Fanout exchange of the replicas' heartbeats (DESIGN §8).
    pub fn replicas(&self) -> String {
        format!("{}.replicas", self.prefix)
    }
    /// Quorum-queue write probe (max length 1): a confirmed write here proves the cluster
    /// still has a majority for this prefix's queues (see [`super::probe`]).
    pub fn probe(&self) -> String {
        format!("{}.probe", self.prefix)
    }
    pub fn dlx(&self) -> String {
        format!("{}.dlx", self.prefix)
    }
    pub fn dlq(&self) -> String {
        format!("{}.dlq", self.prefix)
    }
    pub fn tenant_queue(&self, tenant: &str) -> String {
        format!("{}.t.{tenant}", self.prefix)
    }
    /// Where a tenant's changes wait, out of the consumer's hands, while `target`'s gate stays
    /// closed past the hold limit: each message expires when the gate reopens and goes back to
    /// the tenant queue (see [`declare_wait_queue`]).
    pub fn wait_queue(&self, tenant: &str, target: TargetKind) -> String {
        format!("{}.t.{tenant}.wait.{target}", self.prefix)
    }
}

/// Declares the wait queue of (`tenant`, `target`): a message expires there (its own
/// `expiration`) and is dead-lettered back through the main exchange with the tenant's routing
/// key, so it returns to the tenant queue. On a quorum queue the dead-lettering is
/// at-least-once (`x-dead-letter-strategy`, which needs `x-overflow = reject-publish`): a
/// message leaves the wait queue only once the broker has routed it back. Idempotent.
pub async fn declare_wait_queue(
    ch: &Channel,
    names: &Names,
    tenant: &str,
    target: TargetKind,
    kind: QueueType,
) -> lapin::Result<String> {
    let queue = names.wait_queue(tenant, target);
    let mut args = queue_args(kind, false);
    let text = |s: String| AMQPValue::LongString(LongString::from(s));
    args.insert("x-dead-letter-exchange".into(), text(names.exchange()));
    args.insert("x-dead-letter-routing-key".into(), text(tenant.to_owned()));
    if kind == QueueType::Quorum {
        args.insert(
            "x-dead-letter-strategy".into(),
            text("at-least-once".into()),
        );
        args.insert("x-overflow".into(), text("reject-publish".into()));
    }
    ch.queue_declare(queue.as_str().into(), durable_queue(), args)
        .await?;
    Ok(queue)
}

/// What to declare: the names, queue types and the configured tenants.
pub struct Topology<'a> {
    names: &'a Names,
    queue_type: QueueType,
    dlq_queue_type: QueueType,
    tenants: Vec<String>,
}

impl<'a> Topology<'a> {
    /// The topology of `tenants` under `names`, with the queue types of `broker`.
    pub fn new(
        names: &'a Names,
        broker: &BrokerSettings,
        tenants: impl IntoIterator<Item = String>,
    ) -> Self {
        Self {
            names,
            queue_type: broker.queue_type,
            dlq_queue_type: broker.dlq_queue_type,
            tenants: tenants.into_iter().collect(),
        }
    }
}

fn queue_args(kind: QueueType, single_active: bool) -> FieldTable {
    let mut args = FieldTable::default();
    let kind = match kind {
        QueueType::Quorum => "quorum",
        QueueType::Classic => "classic",
    };
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from(kind)),
    );
    if single_active {
        args.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
    }
    args
}

fn durable_exchange() -> ExchangeDeclareOptions {
    ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    }
}

fn durable_queue() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

/// Binds `queue` to `exchange` with `key`.
async fn bind(ch: &Channel, queue: &str, exchange: &str, key: &str) -> lapin::Result<()> {
    ch.queue_bind(
        queue.into(),
        exchange.into(),
        key.into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
}

/// An exchange of `kind` with one durable queue bound to it by `key` (the unrouted pair and
/// the dead-letter pair).
struct Pair<'a> {
    exchange: &'a str,
    kind: ExchangeKind,
    queue: &'a str,
    queue_type: QueueType,
    key: &'a str,
}

impl Pair<'_> {
    async fn declare(self, ch: &Channel) -> lapin::Result<()> {
        let no_args = FieldTable::default();
        ch.exchange_declare(self.exchange.into(), self.kind, durable_exchange(), no_args)
            .await?;
        let args = queue_args(self.queue_type, false);
        ch.queue_declare(self.queue.into(), durable_queue(), args)
            .await?;
        bind(ch, self.queue, self.exchange, self.key).await
    }
}

impl Topology<'_> {
    /// The tenants whose queues it declares.
    pub fn tenants(&self) -> &[String] {
        &self.tenants
    }

    /// Declares everything; safe to run again with the same arguments.
    pub async fn declare(&self, ch: &Channel) -> lapin::Result<()> {
        let n = self.names;
        let (unrouted, dlx, dlq) = (n.unrouted(), n.dlx(), n.dlq());
        Pair {
            exchange: &unrouted,
            kind: ExchangeKind::Fanout,
            queue: &unrouted,
            queue_type: self.dlq_queue_type,
            key: "",
        }
        .declare(ch)
        .await?;

        let mut main_args = FieldTable::default();
        main_args.insert(
            "alternate-exchange".into(),
            AMQPValue::LongString(LongString::from(n.unrouted())),
        );
        ch.exchange_declare(
            n.exchange().into(),
            ExchangeKind::Topic,
            durable_exchange(),
            main_args,
        )
        .await?;

        Pair {
            exchange: &dlx,
            kind: ExchangeKind::Direct,
            queue: &dlq,
            queue_type: self.dlq_queue_type,
            key: DLQ_ROUTING_KEY,
        }
        .declare(ch)
        .await?;

        let mut probe_args = queue_args(self.queue_type, false);
        probe_args.insert("x-max-length".into(), AMQPValue::LongLongInt(1));
        probe_args.insert(
            "x-overflow".into(),
            AMQPValue::LongString(LongString::from("drop-head")),
        );
        ch.queue_declare(n.probe().into(), durable_queue(), probe_args)
            .await?;

        let exchange = n.exchange();
        for tenant in &self.tenants {
            let q = n.tenant_queue(tenant);
            let args = queue_args(self.queue_type, true);
            ch.queue_declare(q.as_str().into(), durable_queue(), args)
                .await?;
            bind(ch, &q, &exchange, tenant).await?;
        }
        Ok(())
    }

    /// Deletes every object (demo and test clean-up). Messages in them are lost.
    pub async fn delete(&self, ch: &Channel) -> lapin::Result<()> {
        let n = self.names;
        for tenant in &self.tenants {
            ch.queue_delete(n.tenant_queue(tenant).into(), QueueDeleteOptions::default())
                .await?;
            for target in TargetKind::ALL {
                let wait = n.wait_queue(tenant, target);
                ch.queue_delete(wait.into(), QueueDeleteOptions::default())
                    .await?;
            }
        }
        for q in [n.dlq(), n.unrouted(), n.probe()] {
            ch.queue_delete(q.into(), QueueDeleteOptions::default())
                .await?;
        }
        for x in [n.exchange(), n.dlx(), n.unrouted()] {
            ch.exchange_delete(x.into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}
