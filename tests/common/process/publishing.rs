//! Publishing to the harness's tenant, each time on a connection of its own (so it works
//! after a broker fault): one change, a whole grid of scripts × versions, or the grid with
//! the worker started first and pushes in flight when it returns.

use lapin::BasicProperties;

use super::Harness;
use crate::common::{KillOnDrop, change, eventually};

impl Harness {
    /// Publishes one change, `script` at `version`, as a new message (own connection).
    pub async fn publish_one(&self, script: &str, version: u64) {
        let (conn, publisher) = self.connect().await;
        let body = serde_json::to_vec(&change(&self.tenant, script, version)).unwrap();
        let props = BasicProperties::default().with_content_type("application/json".into());
        publisher
            .publish(&self.names.exchange(), &self.tenant, &body, props, false)
            .await
            .unwrap();
        let _ = conn.close(200, "ok".into()).await;
    }

    /// Publishes `scripts` × `versions` changes, versions rising per script, in batches
    /// of confirms.
    pub async fn publish_all(&self, scripts: u64, versions: u64) {
        let (conn, publisher) = self.connect().await;
        let exchange = self.names.exchange();
        let mut pending = Vec::new();
        for v in 1..=versions {
            for s in 0..scripts {
                let body = serde_json::to_vec(&change(&self.tenant, &format!("s{s}"), v)).unwrap();
                let (publisher, exchange, tenant) =
                    (publisher.clone(), exchange.clone(), self.tenant.clone());
                pending.push(async move {
                    let props =
                        BasicProperties::default().with_content_type("application/json".into());
                    publisher
                        .publish(&exchange, &tenant, &body, props, false)
                        .await
                        .unwrap();
                });
                if pending.len() == 500 {
                    futures::future::join_all(pending.drain(..)).await;
                }
            }
        }
        futures::future::join_all(pending).await;
        let _ = conn.close(200, "ok".into()).await;
    }

    /// Starts the worker, publishes `scripts` × `versions` changes and returns once pushes
    /// are in flight (a few Genesys writes done): the moment the fault tests strike.
    pub async fn spawn_mid_flight(&self, scripts: u64, versions: u64) -> KillOnDrop {
        let worker = self.spawn_worker();
        self.publish_all(scripts, versions).await;
        eventually("some pushes in flight", || async {
            self.genesys_writes() >= 5
        })
        .await;
        worker
    }
}
