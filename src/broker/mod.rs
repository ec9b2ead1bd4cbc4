//! Everything lapin: the connection, the topology, consumers, confirmed publishing and the
//! ack handle. Nothing here knows about HTTP or targets.

pub mod consumer;
pub mod depth;
pub mod inbound;
pub mod park;
pub mod probe;
pub mod publisher;
pub mod topology;

pub use consumer::{ConsumeError, Delivery, QueueConsumer};
pub use inbound::{AckHandle, Inbound};
pub use publisher::{InFlight, PublishError, Publisher};
pub use topology::{Names, Topology};

use std::sync::atomic::{AtomicUsize, Ordering};

use lapin::tcp::OwnedTLSConfig;
use lapin::{Channel, Connection, ConnectionProperties};
use url::Url;

use crate::config::{BrokerSettings, expose, read_ca_file};

/// Where the next [`connect`] starts in `broker.urls`: a random node at first (so replicas
/// spread their connections), then the one after the last tried (so a lost node is tried
/// last).
static NEXT_ADDRESS: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Connects to the first answering address of `broker.url` / `broker.urls`, trying them in
/// turn, with the password from its secret reference (TLS settings apply to each). The URI
/// with the password is built here and never logged; the node reached is.
pub async fn connect(settings: &BrokerSettings, name: &str) -> anyhow::Result<Connection> {
    let addresses: Vec<&str> = settings.addresses().collect();
    let n = addresses.len();
    let _ = NEXT_ADDRESS.compare_exchange(
        usize::MAX,
        rand::random_range(0..n.max(1)),
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    let start = NEXT_ADDRESS.load(Ordering::SeqCst);
    let mut failures = Vec::new();
    for i in 0..n {
        let address = addresses[start.wrapping_add(i) % n];
        match connect_to(settings, address, name).await {
            Ok(conn) => {
                if n > 1 {
                    tracing::info!(node = %redacted_url(address), "connected to RabbitMQ");
                }
                // A reconnect starts after this node: if it is the one lost, it comes last.
                NEXT_ADDRESS.store(start.wrapping_add(i + 1), Ordering::SeqCst);
                return Ok(conn);
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    Err(anyhow::anyhow!(failures.join("; ")))
}

/// One connection attempt to `address`.
async fn connect_to(
    settings: &BrokerSettings,
    address: &str,
    name: &str,
) -> anyhow::Result<Connection> {
    let mut url = Url::parse(address)?;
    if url.username().is_empty() {
        let _ = url.set_username("guest");
    }
    let password = settings.password.as_ref().and_then(|p| p.value());
    if password.is_none() && url.username() == "guest" {
        // RabbitMQ's well-known default account, usable from loopback only.
        let _ = url.set_password(Some("guest"));
    }
    if let Some(password) = password {
        let _ = url.set_password(Some(expose(password)));
    }
    if !url.query_pairs().any(|(k, _)| k == "frame_max") {
        url.query_pairs_mut()
            .append_pair("frame_max", &DEFAULT_FRAME_MAX.to_string());
    }
    let props = ConnectionProperties::default().with_connection_name(name.into());
    let runtime = lapin::runtime::default_runtime()?;
    let attempt =
        Connection::connect_with_config(url.as_str(), props, tls_config(settings)?, runtime);
    // A broker that accepts the socket but never answers the handshake (a node stopping or
    // starting) must not hold the reconnect loop for ever.
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(connected) => connected.map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to RabbitMQ at {}: {e}",
                redacted_url(address)
            )
        }),
        Err(_) => Err(anyhow::anyhow!(
            "cannot connect to RabbitMQ at {}: no answer within {:?} (a node starting or \
             stopping, or one out of file descriptors: `rabbitmqctl status` shows them; quorum \
             queues hold about 3 each, and 1,024 stalls new connections at ~300 tenants)",
            redacted_url(address),
            CONNECT_TIMEOUT
        )),
    }
}

/// The largest AMQP frame proposed unless the URL says `?frame_max=`: the broker's 128 KiB
/// default makes lapin keep two 4 MiB buffers per connection (32 frames each); messages of a
/// few hundred bytes gain nothing from it, and larger ones are simply split into frames.
const DEFAULT_FRAME_MAX: u32 = 16_384;

/// How long one connection attempt (TCP, TLS, AMQP handshake) may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The TLS settings of an `amqps://` connection: the system roots plus the certificates of
/// `broker.ca_file`, when set. Unused for `amqp://`.
pub fn tls_config(settings: &BrokerSettings) -> anyhow::Result<OwnedTLSConfig> {
    let cert_chain = match &settings.ca_file {
        Some(path) => Some(read_ca_file(path, "broker.ca_file")?.pem),
        None => None,
    };
    Ok(OwnedTLSConfig {
        identity: None,
        cert_chain,
    })
}

/// The URL as it can be shown: host, port and vhost, no credentials.
pub fn redacted_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "<unparseable broker url>".into(),
    }
}

/// How long closing a channel or a connection may take (a dying broker may never answer).
pub const CLOSE_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Closes `channel` and waits for the broker's answer (at most [`CLOSE_MARGIN`]); what it
/// held unacked goes back to its queues. Every channel is closed this way before its last
/// handle or consumer is dropped and before its connection closes: a channel that lapin
/// closes on drop does so in a task of its own, which fails (and logs an ERROR) when the
/// connection is closed under it, as in every clean stop.
pub async fn close_channel(channel: &Channel, why: &str) {
    if channel.status().connected() {
        let _ = tokio::time::timeout(CLOSE_MARGIN, channel.close(200, why.into())).await;
    }
}

/// The AMQP reply code of a passive declare that finds nothing.
const NOT_FOUND: u16 = 404;

/// Runs a passive declare on a throwaway channel (a miss closes that channel with 404, never
/// one in use): `Ok(None)` when the broker answers 404, else what the declare returned.
pub async fn passive_lookup<T, F, Fut>(conn: &Connection, declare: F) -> lapin::Result<Option<T>>
where
    F: FnOnce(Channel) -> Fut,
    Fut: Future<Output = lapin::Result<T>>,
{
    let channel = conn.create_channel().await?;
    match declare(channel.clone()).await {
        Ok(found) => {
            let _ = channel.close(200, "looked up".into()).await;
            Ok(Some(found))
        }
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn is_not_found(e: &lapin::Error) -> bool {
    matches!(e.kind(), lapin::ErrorKind::ProtocolError(amqp) if amqp.get_id() == NOT_FOUND)
}

/// Longest wait between broker reconnection attempts.
pub const MAX_RECONNECT_DELAY: std::time::Duration = std::time::Duration::from_secs(30);
/// The first wait after a lost connection; doubled after each failed attempt.
pub const FIRST_RECONNECT_DELAY: std::time::Duration = std::time::Duration::from_millis(200);

/// The waits between reconnection attempts (backon): from the first, doubling, capped, never
/// running out (the broker is always worth another try).
pub fn reconnect_backoff() -> backon::ExponentialBackoff {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::new()
        .with_min_delay(FIRST_RECONNECT_DELAY)
        .with_factor(2.0)
        .with_max_delay(MAX_RECONNECT_DELAY)
        .without_max_times()
        .build()
}

#[cfg(test)]
mod reconnect_tests {
    use super::*;

    #[test]
    fn reconnection_waits_double_from_the_first_up_to_the_cap_and_never_run_out() {
        let ms: Vec<u128> = reconnect_backoff()
            .take(10)
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(
            ms,
            [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]
        );
        assert_eq!(reconnect_backoff().nth(1_000), Some(MAX_RECONNECT_DELAY));
    }
}
