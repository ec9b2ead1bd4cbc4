//! Following the tenants directory while the worker runs. Any of three triggers reads the
//! directory again and applies the difference to the live set:
//!
//! - a change notice from the file system (`notify`: inotify on Linux), gathered for a short
//!   quiet time, since an editor, `kubectl cp` or the kubelet writes in several steps;
//! - `SIGHUP` (an operator's "read it now");
//! - a re-scan every `tenants_rescan`: the fallback that cannot miss. Kubernetes updates a
//!   mounted Secret by swapping the `..data` symlink, which watchers do not always report.
//!
//! The directory is read once more as soon as the watcher is up, so a file written between
//! the worker's first reading and the watcher's start is not left to the re-scan. Notices of
//! files being opened or read are ignored: otherwise each reading would notice itself.
//!
//! Reading is cheap when nothing changed (the files are small, and an unchanged tenant is
//! left exactly as it runs). After each reading this replica's beats carry the new tenant
//! digest, so the replicas share the tenants out only once they all see the same ones.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Catalog, TenantSet};
use crate::cluster::Membership;
use crate::config::Settings;

/// How long change notices are gathered before the directory is read.
const QUIET: Duration = Duration::from_millis(250);

/// Follows `dir` for `tenants` until stopped.
pub struct Follow {
    pub settings: Settings,
    pub dir: PathBuf,
    pub tenants: Arc<TenantSet>,
    pub membership: Arc<Membership>,
}

impl Follow {
    pub async fn run(self, stop: CancellationToken) {
        let (notices, mut noticed) = mpsc::channel::<()>(1);
        let _watcher = watch(&self.dir, notices);
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; the tenants directory is still watched and re-read");
                None
            }
        };
        let mut rescan = tokio::time::interval(self.settings.tenants_rescan);
        rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        rescan.tick().await;
        tracing::info!(dir = %self.dir.display(), rescan = ?self.settings.tenants_rescan, "following the tenants directory");
        self.reload("watch started").await;
        loop {
            let why = tokio::select! {
                _ = stop.cancelled() => return,
                Some(()) = noticed.recv() => {
                    tokio::time::sleep(QUIET).await;
                    while noticed.try_recv().is_ok() {}
                    "change notice"
                }
                Some(()) = hangup_received(&mut hangup) => "SIGHUP",
                _ = rescan.tick() => "re-scan",
            };
            self.reload(why).await;
        }
    }

    /// Reads the directory and applies what changed.
    pub async fn reload(&self, why: &str) {
        let previous = self.tenants.catalog();
        let settings = self.settings.clone();
        let read =
            tokio::task::spawn_blocking(move || Catalog::load(&settings, Some(&previous))).await;
        let catalog = match read {
            Ok(catalog) => catalog,
            Err(e) => {
                tracing::error!(error = %e, "reading the tenants directory failed; keeping every tenant as it is");
                return;
            }
        };
        let applied = self.tenants.apply(catalog).await;
        if !applied.is_empty() {
            tracing::info!(
                trigger = why, added = ?applied.added, changed = ?applied.changed,
                rotated = ?applied.rotated, removed = ?applied.removed,
                tenants = self.tenants.len(), "tenant set changed"
            );
        }
        self.membership.set_tenant_digest(self.tenants.digest());
    }
}

async fn hangup_received(hangup: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match hangup {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Whether an event can mean new contents. inotify also reports files being opened and
/// closed after reading: the directory's own reading (every reload) would otherwise notice
/// itself and read the directory again, every [`QUIET`], for as long as the worker runs.
/// A close after writing is a change (the end of an editor's or `kubectl cp`'s write).
fn changes_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// A watcher that sends a notice on every event under `dir`; `None` (with a warning) when
/// the platform refuses one: the re-scan still follows the directory.
fn watch(dir: &std::path::Path, notices: mpsc::Sender<()>) -> Option<RecommendedWatcher> {
    let handler = move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| changes_content(&e.kind)) {
            // A notice already waiting covers this one too.
            let _ = notices.try_send(());
        }
    };
    let watcher = notify::recommended_watcher(handler).and_then(|mut w| {
        w.watch(dir, RecursiveMode::Recursive)?;
        Ok(w)
    });
    match watcher {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the tenants directory; re-reading it every tenants_rescan");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_is_not_a_change_and_writing_is() {
        use notify::event::{CreateKind, ModifyKind};
        assert!(!changes_content(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!changes_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(changes_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(changes_content(&EventKind::Modify(ModifyKind::Any)));
        assert!(changes_content(&EventKind::Create(CreateKind::File)));
    }

    /// The watcher itself: reading a file of the directory sends no notice (it did, through
    /// inotify's open events, and every reload then caused the next); writing one does.
    #[tokio::test]
    async fn the_directory_watcher_ignores_reads_and_reports_writes() {
        let dir = std::env::temp_dir().join(format!("scriptsync-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("acme.toml");
        std::fs::write(&file, "id = \"acme\"\n").unwrap();
        let (tx, mut rx) = mpsc::channel(1);
        let _watcher = watch(&dir, tx).expect("inotify watcher");
        for _ in 0..3 {
            assert!(!std::fs::read_to_string(&file).unwrap().is_empty());
        }
        // Give a wrongly sent notice time to arrive (inotify delivers within milliseconds).
        let quiet = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await;
        assert!(quiet.is_err(), "reading the directory sent a change notice");
        std::fs::write(&file, "id = \"acme\"\n# changed\n").unwrap();
        let noticed = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await;
        assert!(matches!(noticed, Ok(Some(()))), "a write is noticed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
