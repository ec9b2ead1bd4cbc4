//! The doctor's broker checks: RabbitMQ answers (with the configured URL, credentials and
//! TLS), the topology the worker declares is there (main exchange, dead-letter exchange and
//! queue), each tenant checked has its queue with a consumer, and the dead-letter queue's
//! depth. All read-only: passive declares on throwaway channels. Before the worker's first
//! start the topology is absent; that is a warning, not a failure.

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ExchangeKind};

use super::report::{Checks, Finding};
use crate::broker::{self, Names, passive_lookup, redacted_url};
use crate::config::Settings;

/// How long connecting may take before the broker counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs the broker checks for `tenants`.
pub async fn check(settings: &Settings, config_path: &str, tenants: &[String]) -> Vec<Finding> {
    let mut c = Checks::new("broker", None);
    let where_ = redacted_url(&settings.broker.url);
    let connect = broker::connect(&settings.broker, "scriptsync doctor");
    let conn = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            c.fail(
                "reachable",
                format!("{where_}: {e:#}"),
                "check broker.url, the broker password (broker.password / \
                 SCRIPTSYNC_BROKER_PASSWORD) and broker.ca_file, and that RabbitMQ runs",
            );
            c.skip(
                &["topology", "tenant queue", "dead letters"],
                "no connection",
            );
            return c.findings;
        }
        Err(_) => {
            c.fail(
                "reachable",
                format!("{where_}: no answer within {} s", CONNECT_TIMEOUT.as_secs()),
                "check the host and port in broker.url and the network path to it",
            );
            c.skip(
                &["topology", "tenant queue", "dead letters"],
                "no connection",
            );
            return c.findings;
        }
    };
    c.ok("reachable", where_);
    let names = Names::new(&settings.broker.prefix);
    let outcome = topology(&mut c, &conn, &names, config_path, tenants).await;
    if let Err(e) = outcome {
        c.fail(
            "topology",
            format!("a lookup failed: {e}"),
            "run the doctor again",
        );
    }
    let _ = conn.close(200, "doctor done".into()).await;
    c.findings
}

async fn topology(
    c: &mut Checks,
    conn: &Connection,
    names: &Names,
    config_path: &str,
    tenants: &[String],
) -> lapin::Result<()> {
    let mut missing = Vec::new();
    for exchange in [names.exchange(), names.dlx()] {
        if !exchange_exists(conn, &exchange).await? {
            missing.push(format!("exchange {exchange}"));
        }
    }
    let dlq = queue(conn, &names.dlq()).await?;
    if dlq.is_none() {
        missing.push(format!("queue {}", names.dlq()));
    }
    if missing.is_empty() {
        c.ok(
            "topology",
            format!(
                "{} and its dead-letter exchange and queue exist",
                names.exchange()
            ),
        );
    } else {
        c.warn(
            "topology",
            format!("missing: {}", missing.join(", ")),
            "the worker declares the topology when it starts: expected before the first \
             start; afterwards, check that broker.prefix matches the worker's",
        );
    }
    for tenant in tenants {
        let name = names.tenant_queue(tenant);
        match queue(conn, &name).await? {
            None => c.warn(
                "tenant queue",
                format!("{tenant}: no queue {name}"),
                "the worker declares it when it takes the tenant on; until then publishers' \
                 changes for this tenant are dead-lettered as unknown_tenant",
            ),
            Some((ready, 0)) => c.warn(
                "tenant queue",
                format!("{tenant}: {name} has no consumer ({ready} message(s) waiting)"),
                "no worker consumes this tenant now: check the workers' /status and logs",
            ),
            Some((ready, consumers)) => c.ok(
                "tenant queue",
                format!("{tenant}: {name}, {consumers} consumer(s), {ready} waiting"),
            ),
        }
    }
    match dlq {
        Some((0, _)) => c.ok("dead letters", format!("{} is empty", names.dlq())),
        Some((depth, _)) => c.warn(
            "dead letters",
            format!("{} holds {depth} message(s)", names.dlq()),
            format!("see why with `scriptsync dlq --config {config_path} stats`, fix the cause, then `dlq replay`"),
        ),
        None => {}
    }
    Ok(())
}

async fn exchange_exists(conn: &Connection, name: &str) -> lapin::Result<bool> {
    let options = ExchangeDeclareOptions {
        passive: true,
        ..ExchangeDeclareOptions::default()
    };
    let name = name.to_owned();
    let found = passive_lookup(conn, |ch| async move {
        ch.exchange_declare(
            name.as_str().into(),
            ExchangeKind::Topic,
            options,
            FieldTable::default(),
        )
        .await
    })
    .await?;
    Ok(found.is_some())
}

/// (ready messages, consumers) of queue `name`, if it exists.
async fn queue(conn: &Connection, name: &str) -> lapin::Result<Option<(u32, u32)>> {
    let options = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let name = name.to_owned();
    passive_lookup(conn, |ch| async move {
        ch.queue_declare(name.as_str().into(), options, FieldTable::default())
            .await
            .map(|q| (q.message_count(), q.consumer_count()))
    })
    .await
}
