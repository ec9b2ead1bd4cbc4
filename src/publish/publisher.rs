//! [`ChangePublisher`]: puts one [`ScriptChange`] on the main exchange the way the worker
//! expects it (DESIGN §3): routing key = tenant, persistent, `content_type`
//! `application/json`, `message_id` = the change's id, `timestamp` = now, and a W3C
//! `traceparent` header, published with confirms, and refused as *unroutable* when no
//! worker queue exists for the tenant ([`super::routes`] says why that needs a look-up).

use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Connection};
use time::OffsetDateTime;

use super::routes::Routes;
use crate::broker::{self, InFlight, Names, PublishError, Publisher};
use crate::change::ScriptChange;
use crate::config::BrokerSettings;
use crate::telemetry;

/// Why a change was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishFailure {
    /// No queue takes the tenant's key: no worker is configured for it.
    #[error("unroutable: no queue {queue} for tenant {tenant:?} (not a tenant of the worker?)")]
    Unroutable { tenant: String, queue: String },
    /// Larger than `broker.max_message_bytes`: the worker would dead-letter it.
    #[error("the change is {bytes} bytes, more than broker.max_message_bytes ({limit})")]
    TooLarge { bytes: usize, limit: usize },
    /// serde could not write it (strings and maps only: not expected, said if it happens).
    #[error("cannot encode the change: {0}")]
    Encode(#[from] serde_json::Error),
    /// The broker did not confirm it (nack, timeout, channel or connection error).
    #[error("not confirmed: {0}")]
    NotConfirmed(PublishError),
}

/// Publishes script changes with publisher confirms; see the module docs.
pub struct ChangePublisher {
    conn: Connection,
    publisher: Publisher,
    routes: Routes,
    exchange: String,
    max_bytes: usize,
}

impl ChangePublisher {
    /// Connects to the broker of `settings` (`broker.url`/`urls`, password, TLS) and opens
    /// a publisher on the exchange of `broker.prefix`.
    pub async fn connect(settings: &BrokerSettings) -> anyhow::Result<Self> {
        let conn = broker::connect(settings, "scriptsync publish").await?;
        Self::open(conn, settings).await
    }

    /// A publisher on an open connection; fails if the main exchange does not exist.
    pub async fn open(conn: Connection, settings: &BrokerSettings) -> anyhow::Result<Self> {
        let names = Names::new(&settings.prefix);
        let publisher = Publisher::open(&conn, settings.confirm_timeout).await?;
        Ok(Self {
            exchange: names.exchange(),
            routes: Routes::open(&conn, names).await?,
            conn,
            publisher,
            max_bytes: settings.max_message_bytes,
        })
    }

    /// Publishes `change` and waits for the broker's confirm.
    pub async fn publish(&mut self, change: &ScriptChange) -> Result<(), PublishFailure> {
        self.send(change).await?.confirmed().await
    }

    /// Sends `change` and returns without waiting for its confirm, so many can be in flight
    /// at once (the broker confirms in batches); changes are sent in call order.
    pub async fn send(&mut self, change: &ScriptChange) -> Result<Pending, PublishFailure> {
        let tenant = change.tenant();
        let routable = self.routes.routable(&self.conn, tenant).await;
        let unroutable = || PublishFailure::Unroutable {
            tenant: tenant.to_owned(),
            queue: self.routes.queue(tenant),
        };
        match routable {
            Ok(true) => {}
            Ok(false) => return Err(unroutable()),
            Err(e) => return Err(PublishFailure::NotConfirmed(e.into())),
        }
        let body = serde_json::to_vec(change)?;
        if body.len() > self.max_bytes {
            return Err(PublishFailure::TooLarge {
                bytes: body.len(),
                limit: self.max_bytes,
            });
        }
        // `mandatory`: where the exchange has no alternate exchange, a miss comes back.
        let sent = self
            .publisher
            .send(&self.exchange, tenant, &body, properties(change), true)
            .await
            .map_err(PublishFailure::NotConfirmed)?;
        Ok(Pending {
            sent,
            unroutable: unroutable(),
        })
    }

    /// False once the channel or the connection is gone (every later send would fail).
    pub fn is_open(&self) -> bool {
        self.publisher.channel().status().connected()
    }

    /// Closes the connection (after the last confirm was awaited).
    pub async fn close(self) {
        let _ = self.conn.close(200, "publish done".into()).await;
    }
}

/// A change sent and not yet confirmed.
#[must_use = "a change counts as published only once confirmed"]
pub struct Pending {
    sent: InFlight,
    unroutable: PublishFailure,
}

impl Pending {
    /// Waits for the broker's confirm.
    pub async fn confirmed(self) -> Result<(), PublishFailure> {
        match self.sent.confirmed().await {
            Ok(()) => Ok(()),
            Err(PublishError::Unroutable) => Err(self.unroutable),
            Err(e) => Err(PublishFailure::NotConfirmed(e)),
        }
    }
}

/// The AMQP properties of a change (persistence is added by [`Publisher`]).
fn properties(change: &ScriptChange) -> BasicProperties {
    let mut headers = FieldTable::default();
    for (name, value) in telemetry::outgoing_trace(&tracing::Span::current()) {
        headers.insert(name.into(), AMQPValue::LongString(LongString::from(value)));
    }
    let now = OffsetDateTime::now_utc().unix_timestamp();
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_message_id(change.id().into())
        .with_timestamp(u64::try_from(now).unwrap_or_default())
        .with_headers(headers)
}
