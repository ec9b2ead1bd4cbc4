//! What a run must end with, read from the simulator and the queues: every script at its
//! newest version on both targets, the tenant queue drained, nothing dead-lettered, nothing
//! older written over newer, no violations; then the worker stopped cleanly.

use super::Harness;
use crate::common::{KillOnDrop, eventually};

impl Harness {
    pub fn genesys_writes(&self) -> u64 {
        self.sim.state().tenant(&self.tenant).genesys.writes
    }

    /// True when both targets hold version `versions` of every script.
    pub fn all_newest(&self, scripts: u64, versions: u64) -> bool {
        let state = self.sim.state();
        let t = state.tenant(&self.tenant);
        (0..scripts).all(|s| {
            let key = format!("s{s}");
            t.genesys.held.get(&key).map(|h| h.version) == Some(versions)
                && t.servicenow.held.get(&key).map(|h| h.version) == Some(versions)
        })
    }

    /// Ready messages in `queue` (own connection).
    pub async fn depth(&self, queue: &str) -> u32 {
        let (conn, publisher) = self.connect().await;
        let opts = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let q = publisher
            .channel()
            .queue_declare(queue.into(), opts, Default::default())
            .await
            .unwrap();
        let _ = conn.close(200, "ok".into()).await;
        q.message_count()
    }

    /// Waits until everything is delivered, the queue is empty, nothing was dead-lettered
    /// and nothing older overwrote anything newer; then stops `worker` with SIGTERM (exit 0
    /// required) and cleans up.
    pub async fn finish(self, worker: KillOnDrop, scripts: u64, versions: u64) {
        eventually(
            "every script at its newest version on both targets",
            || async { self.all_newest(scripts, versions) },
        )
        .await;
        let queue = self.names.tenant_queue(&self.tenant);
        eventually("tenant queue drained", || async {
            self.depth(&queue).await == 0
        })
        .await;
        assert_eq!(
            self.depth(&self.names.dlq()).await,
            0,
            "nothing dead-lettered"
        );
        let state = self.sim.state();
        assert_eq!(
            state.tenant(&self.tenant).genesys.older_writes,
            0,
            "no older version over a newer one at Genesys"
        );
        assert_eq!(state.total_violations(), 0);
        self.stop_and_clean(worker).await;
    }
}
