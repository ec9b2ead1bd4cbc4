//! `[broker]`: the RabbitMQ connection (one address or a cluster's several), the names'
//! prefix, queue types, prefetch and the in-flight budget, confirm and consumer timeouts, and
//! the broker's password and CA file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::secret::Secret;
use super::tls::read_ca_file;
use super::{ConfigError, invalid};

/// RabbitMQ connection and topology.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(
    try_from = "super::file_shape::BrokerFile",
    into = "super::file_shape::BrokerFile"
)]
pub struct BrokerSettings {
    /// AMQP URI without a password (`amqp://user@host:5672/%2f`); the password comes from
    /// `password_env` / `password_file`. Without a user, `guest` is used. With `broker.urls`,
    /// the first of them.
    pub url: String,
    /// The other addresses of `broker.urls` (nodes of one cluster): on connection loss the
    /// worker tries them in turn. Empty with `broker.url`.
    pub other_urls: Vec<String>,
    /// Prefix of every exchange and queue name; tests use a random one.
    pub prefix: String,
    /// Type of the per-tenant queues: quorum (replicated) or classic.
    pub queue_type: QueueType,
    /// Type of the dead-letter queue.
    pub dlq_queue_type: QueueType,
    /// Unacked deliveries per tenant consumer; bounds memory and the batch a tenant can build.
    pub prefetch: u16,
    /// The global in-flight budget: the most deliveries one replica holds unacked across all
    /// the tenants it owns. Each consumer's prefetch is its share (at most `prefetch`), so
    /// memory is bounded by this, not by tenants × prefetch (see `budget::prefetch_for`).
    pub max_inflight: u32,
    /// How long to wait for a publisher confirm before treating the publish as failed.
    pub confirm_timeout: Duration,
    /// The broker's `consumer_timeout` (RabbitMQ closes a channel holding a delivery unacked
    /// longer; 30 min by default): a change that would be held past half of it, because its
    /// target's gate stays closed, is handed to a wait queue instead and acked.
    pub consumer_timeout: Duration,
    /// Largest accepted message body in bytes (DESIGN §3: 64 KiB).
    pub max_message_bytes: usize,
    /// `password_env` or `password_file` in the file.
    pub password: Option<Secret>,
    /// PEM file of CA certificates trusted for `amqps://`, in addition to the system roots
    /// (a private CA signing the broker's certificate).
    pub ca_file: Option<PathBuf>,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        Self {
            url: "amqp://127.0.0.1:5672/%2f".into(),
            other_urls: Vec::new(),
            prefix: "scriptsync".into(),
            queue_type: QueueType::Quorum,
            dlq_queue_type: QueueType::Quorum,
            prefetch: 500,
            max_inflight: 5_000,
            confirm_timeout: Duration::from_secs(10),
            consumer_timeout: Duration::from_secs(30 * 60),
            max_message_bytes: 64 * 1024,
            password: None,
            ca_file: None,
        }
    }
}

impl BrokerSettings {
    /// How long a delivery may be held waiting for a closed gate before it is handed to a
    /// wait queue: half the broker's `consumer_timeout`, well clear of it.
    pub fn hold_limit(&self) -> Duration {
        self.consumer_timeout / 2
    }

    pub(crate) fn resolve_secrets(
        &mut self,
        env: Option<&HashMap<String, String>>,
    ) -> Result<(), ConfigError> {
        match &mut self.password {
            Some(password) => password.resolve("broker.password", env),
            None => Ok(()),
        }
    }

    /// The defaults, with the addresses of `list`: one URL, or several comma-separated (the
    /// conventional host-list form; `bench --broker-url` and `demo --broker-url` take it).
    pub fn with_addresses(list: &str) -> Self {
        let mut urls = split_addresses(list);
        let url = urls.next().unwrap_or_default();
        Self {
            url,
            other_urls: urls.collect(),
            ..Self::default()
        }
    }

    /// Every address: `url`, then `other_urls`.
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.url.as_str()).chain(self.other_urls.iter().map(String::as_str))
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for address in self.addresses() {
            let parsed = url::Url::parse(address)
                .map_err(|e| invalid(format!("broker.url is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "amqp" | "amqps") {
                return Err(invalid("broker.url must start with amqp:// or amqps://"));
            }
            if parsed.password().is_some() {
                return Err(invalid(
                    "broker.url must not contain a password: use broker.password_env or broker.password_file",
                ));
            }
        }
        if self.prefix.is_empty() || !super::is_valid_tenant_id(&self.prefix) {
            return Err(invalid(
                "broker.prefix must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}",
            ));
        }
        if self.prefetch == 0 {
            return Err(invalid("broker.prefetch must be at least 1"));
        }
        if self.max_inflight == 0 {
            return Err(invalid("broker.max_inflight must be at least 1"));
        }
        if self.consumer_timeout < std::time::Duration::from_secs(2) {
            return Err(invalid("broker.consumer_timeout must be at least 2s"));
        }
        if let Some(path) = &self.ca_file {
            read_ca_file(path, "broker.ca_file")?;
        }
        Ok(())
    }
}

/// RabbitMQ queue type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    Quorum,
    Classic,
}

/// The URLs of a comma-separated host list, trimmed, empty entries dropped.
pub(crate) fn split_addresses(list: &str) -> impl Iterator<Item = String> + '_ {
    list.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
}
