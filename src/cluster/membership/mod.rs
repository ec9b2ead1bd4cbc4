//! Who is alive, learned through the broker itself (DESIGN §8: no coordinator of our own).
//!
//! Every replica publishes a heartbeat to the fanout exchange `<prefix>.replicas` every
//! `interval` (with a message TTL, so a backlog of stale beats never builds up) and reads
//! everyone's beats from an exclusive, auto-delete queue of its own bound to it. A replica is
//! live while its last beat is younger than `3 × interval`; one that stops on purpose says
//! `leaving` and drops out at once. The live set (always including this replica) is published
//! on a `watch` channel whenever it changes.
//!
//! Beats also carry the digest of the tenant ids the sender knows: tenants are shared out
//! only while every live replica reports the same digest (a tenant file appears on each
//! replica's disk at its own time), so no replica takes a tenant from a view the others do not
//! have. While they differ, each keeps what it runs; a difference that lasts past
//! [`AGREEMENT_PATIENCE`] (a replica whose directory is broken) no longer holds the others back.
//!
//! Beats also carry the pauses of the gates the sender holds (a tenant's target told it to
//! wait, after a 429): a replica that takes the tenant over honours the pause it heard, so a
//! hand-over never sends into a server's `Retry-After`.
//!
//! Layout: this file holds the view (who is live, whether they agree, the pauses heard);
//! `heartbeat` the beats on the wire and the loop that sends and reads them; `pause` a pause
//! note.

mod heartbeat;
mod pause;

pub use heartbeat::listen;
pub use pause::{PauseNote, PauseSource};

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::change::TargetKind;
use heartbeat::Beat;

/// A replica counts as gone after this many missed beats.
const MISSED_BEATS: u32 = 3;

/// How long replicas that see different tenant sets wait for each other before each shares
/// out its own view (at least; ten beats when beats are slower). Kubernetes takes up to about a
/// minute to bring a changed Secret to every pod.
pub const AGREEMENT_PATIENCE: Duration = Duration::from_secs(60);

/// The membership view of one replica; outlives connections (a reconnect keeps what it knew).
pub struct Membership {
    me: String,
    interval: Duration,
    seen: Mutex<HashMap<String, Instant>>,
    live: watch::Sender<BTreeSet<String>>,
    /// The latest pause heard per (tenant, target), from any replica.
    heard_pauses: Mutex<HashMap<(String, TargetKind), PauseNote>>,
    pause_source: Mutex<Option<PauseSource>>,
    /// This replica's tenant digest, and the last one each other replica reported.
    own_digest: Mutex<Option<u64>>,
    digests: Mutex<HashMap<String, u64>>,
    /// Since when the live replicas' digests differ.
    disagree_since: Mutex<Option<Instant>>,
    agreed: watch::Sender<bool>,
}

impl Membership {
    pub fn new(me: &str, interval: Duration) -> Arc<Self> {
        let (live, _) = watch::channel(BTreeSet::from([me.to_owned()]));
        Arc::new(Self {
            me: me.to_owned(),
            interval: interval.max(Duration::from_millis(10)),
            seen: Mutex::new(HashMap::new()),
            live,
            heard_pauses: Mutex::new(HashMap::new()),
            pause_source: Mutex::new(None),
            own_digest: Mutex::new(None),
            digests: Mutex::new(HashMap::new()),
            disagree_since: Mutex::new(None),
            agreed: watch::Sender::new(true),
        })
    }

    /// The digest of the tenant ids this replica knows (sent in its beats).
    pub fn set_tenant_digest(&self, digest: u64) {
        *self.own_digest.lock() = Some(digest);
        self.refresh(Instant::now());
    }

    /// Whether the live replicas see the same tenants (or have waited long enough for it);
    /// changes are announced on the receiver.
    pub fn agreement(&self) -> watch::Receiver<bool> {
        self.agreed.subscribe()
    }

    /// Recomputes the agreement over the live replicas `live`.
    fn refresh_agreement(&self, live: &BTreeSet<String>, now: Instant) {
        let mine = *self.own_digest.lock();
        let digests = self.digests.lock();
        let same = live
            .iter()
            .filter(|r| **r != self.me)
            .filter_map(|r| digests.get(r))
            .all(|d| Some(*d) == mine);
        drop(digests);
        let mut since = self.disagree_since.lock();
        let agreed = if same {
            *since = None;
            true
        } else {
            let patience = AGREEMENT_PATIENCE.max(self.interval * 10);
            let began = *since.get_or_insert(now);
            now.saturating_duration_since(began) >= patience
        };
        drop(since);
        self.agreed.send_if_modified(|current| {
            let changed = *current != agreed;
            if changed {
                if agreed {
                    tracing::info!("replicas see the same tenants (or waited long enough): sharing them out");
                } else {
                    tracing::info!("replicas see different tenant sets: keeping the tenants running here until they agree");
                }
                *current = agreed;
            }
            changed
        });
    }

    /// Where this replica's beats take their pauses from.
    pub fn set_pause_source(&self, source: PauseSource) {
        *self.pause_source.lock() = Some(source);
    }

    /// The pause another replica reported for `tenant` at `target`, if it still lasts.
    pub fn heard_pause(&self, tenant: &str, target: TargetKind) -> Option<Duration> {
        let pauses = self.heard_pauses.lock();
        pauses
            .get(&(tenant.to_owned(), target))
            .and_then(PauseNote::remaining)
    }

    fn own_pauses(&self) -> Vec<PauseNote> {
        let source = self.pause_source.lock();
        source.as_ref().map(|f| f()).unwrap_or_default()
    }

    pub fn me(&self) -> &str {
        &self.me
    }

    /// How long to listen before the first decision, so that a starting replica hears the
    /// others before it takes any tenant.
    pub fn settle_time(&self) -> Duration {
        self.interval * 2
    }

    /// The live replicas, this one included; changes are announced on the receiver.
    pub fn watch(&self) -> watch::Receiver<BTreeSet<String>> {
        self.live.subscribe()
    }

    fn heard(&self, beat: Beat, now: Instant) {
        if beat.replica == self.me {
            return;
        }
        let mut pauses = self.heard_pauses.lock();
        pauses.retain(|_, note| note.remaining().is_some());
        for note in beat.pauses {
            pauses.insert((note.tenant.clone(), note.target), note);
        }
        drop(pauses);
        let mut digests = self.digests.lock();
        match beat.tenants {
            Some(d) if !beat.leaving => digests.insert(beat.replica.clone(), d),
            _ => digests.remove(&beat.replica),
        };
        drop(digests);
        let mut seen = self.seen.lock();
        if beat.leaving {
            seen.remove(&beat.replica);
        } else {
            seen.insert(beat.replica, now);
        }
        drop(seen);
        self.refresh(now);
    }

    /// Forgets replicas silent for too long and announces the live set if it changed.
    fn refresh(&self, now: Instant) {
        let ttl = self.interval * MISSED_BEATS;
        let mut seen = self.seen.lock();
        seen.retain(|_, at| now.saturating_duration_since(*at) < ttl);
        let mut live: BTreeSet<String> = seen.keys().cloned().collect();
        drop(seen);
        live.insert(self.me.clone());
        self.refresh_agreement(&live, now);
        self.live.send_if_modified(|current| {
            let changed = *current != live;
            if changed {
                tracing::info!(replicas = ?live, "replica membership changed");
                *current = live;
            }
            changed
        });
    }
}

#[cfg(test)]
#[path = "membership_tests.rs"]
mod tests;
