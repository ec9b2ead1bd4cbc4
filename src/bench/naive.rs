//! Scenario F, the naive baseline: the pattern contact-centre teams write by hand, run
//! inside the bench against the same simulator and publish schedule as the scenario it
//! shadows (D, E, H). Per tenant one task consumes that tenant's queue (prefetch 1) and, for
//! each change in order: `PUT` the row (on 404 `POST` it), then one ServiceNow single-record
//! import; on a 429 it sleeps the `Retry-After` it got and resends that same request. Tokens
//! are fetched once per tenant (to be fair); no coalescing, no shared pause; ack after both.

use std::time::Duration;

use futures::StreamExt;
use lapin::Connection;
use reqwest::RequestBuilder;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::direct::{Direct, send};
use super::rig::{self, Rig};
use scriptsync::broker::QueueConsumer;
use scriptsync::change::ScriptChange;

/// The wait after a 429 without `Retry-After`, or a connection error.
const FALLBACK_WAIT: Duration = Duration::from_secs(1);

/// The naive consumers of one rig's tenants.
pub struct Naive {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
    conn: Connection,
}

impl Naive {
    /// Starts one consumer task per tenant of `rig`, calling the simulator at `base_url`.
    pub async fn start(broker_url: &str, rig: &Rig, base_url: &str) -> anyhow::Result<Self> {
        let conn = rig::connect(broker_url, &format!("naive baseline {}", rig.prefix)).await?;
        let direct = Direct::new(base_url)?;
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        for tenant in &rig.tenants {
            let queue = rig.names.tenant_queue(tenant);
            let (_consumer, stream) = QueueConsumer::start(&conn, &queue, 1, "").await?;
            let tokens = direct.tokens(tenant).await?;
            let (direct, stop) = (direct.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let _consumer = _consumer;
                let mut stream = stream;
                loop {
                    let inbound = tokio::select! {
                        _ = stop.cancelled() => return Ok(()),
                        next = stream.next() => match next {
                            Some(Ok(inbound)) => inbound,
                            _ => return Ok(()),
                        },
                    };
                    let change: ScriptChange = serde_json::from_slice(&inbound.body)?;
                    let put = || direct.put_row(&tokens.genesys, &change);
                    let Some(status) = patiently(&stop, put).await else {
                        return Ok(());
                    };
                    if status == 404 {
                        let post = || direct.post_row(&tokens.genesys, &change);
                        if patiently(&stop, post).await.is_none() {
                            return Ok(());
                        }
                    }
                    let import = || direct.import_one(&tokens.servicenow, &change);
                    if patiently(&stop, import).await.is_none() {
                        return Ok(());
                    }
                    inbound.ack.ack().await?;
                }
            }));
        }
        Ok(Self { stop, tasks, conn })
    }

    /// Stops every task (unacked deliveries go back to their queue) and closes the
    /// connection.
    pub async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        let _ = self.conn.close(200, "naive baseline done".into()).await;
    }
}

/// Sends until the answer is not a 429, sleeping each `Retry-After` (the status answered),
/// or `None` once stopped.
async fn patiently(stop: &CancellationToken, request: impl Fn() -> RequestBuilder) -> Option<u16> {
    loop {
        let wait = match send(request()).await {
            Ok((429, retry_after)) => retry_after.map_or(FALLBACK_WAIT, Duration::from_secs),
            Ok((status, _)) => return Some(status),
            Err(_) => FALLBACK_WAIT,
        };
        tokio::select! {
            _ = stop.cancelled() => return None,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
