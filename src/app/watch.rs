//! What a connection waits for once its tenants run: shutdown, a change of the live
//! replicas, of the tenant set or of the replicas' agreement on it (each followed at once),
//! and the end of any of its tasks: a tenant released on purpose is settled
//! (`after_release`); any other end is the connection's loss.

use std::collections::BTreeSet;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Application;
use super::connected::Connected;
use crate::pipeline::LoopEnd;
use crate::pipeline::tenant::task_panicked;

impl Application {
    /// Runs until shutdown (`None`) or a loss (`Some(why)`), following membership and tenant
    /// set changes.
    pub(super) async fn watch_loop(
        &self,
        c: &mut Connected,
        shutdown: &CancellationToken,
        live: &mut watch::Receiver<BTreeSet<String>>,
    ) -> anyhow::Result<Option<String>> {
        let mut tenant_set = self.tenants.subscribe();
        let mut agreement = self.membership.agreement();
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(None),
                Ok(()) = live.changed() => {
                    let replicas = live.borrow_and_update().clone();
                    self.follow(c, &replicas, true).await?;
                }
                Ok(()) = tenant_set.changed() => {
                    tenant_set.mark_unchanged();
                    let replicas = live.borrow().clone();
                    self.follow(c, &replicas, true).await?;
                }
                Ok(()) = agreement.changed() => {
                    agreement.mark_unchanged();
                    let replicas = live.borrow().clone();
                    self.follow(c, &replicas, true).await?;
                }
                Some(res) = c.tasks.set.join_next_with_id() => {
                    let (id, end) = match res {
                        Ok(done) => done,
                        Err(e) => {
                            let tenant = c.tasks.tenant_of.remove(&e.id());
                            let parts = tenant.and_then(|t| self.tenants.get(&t));
                            return Ok(Some(match parts {
                                Some(t) => {
                                    let ctx = self.loop_context(Some(&t), &c.publisher);
                                    task_panicked(&ctx, "tenant", &e.to_string())
                                }
                                None => format!("a connection task panicked: {e}"),
                            }));
                        }
                    };
                    let tenant = c.tasks.tenant_of.remove(&id);
                    let released = tenant
                        .as_ref()
                        .and_then(|t| c.tasks.running.get(t))
                        .is_some_and(|r| r.releasing);
                    match end {
                        LoopEnd::Shutdown if released => {
                            let tenant = tenant.unwrap_or_default();
                            let ended = c.tasks.running.remove(&tenant);
                            self.after_release(c, &tenant, ended).await?;
                        }
                        LoopEnd::Shutdown if shutdown.is_cancelled() => return Ok(None),
                        LoopEnd::Shutdown => return Ok(Some("a consumer loop stopped".into())),
                        LoopEnd::StreamLost(e) | LoopEnd::TaskPanicked(e) => return Ok(Some(e)),
                    }
                }
            }
        }
    }
}
