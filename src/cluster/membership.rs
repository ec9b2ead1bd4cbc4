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

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, ExchangeKind};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::change::TargetKind;

/// A replica counts as gone after this many missed beats.
const MISSED_BEATS: u32 = 3;

/// How long replicas that see different tenant sets wait for each other before each shares
/// out its own view (at least; ten beats when beats are slower). Kubernetes takes up to about a
/// minute to bring a changed Secret to every pod.
pub const AGREEMENT_PATIENCE: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize, Deserialize)]
struct Beat {
    replica: String,
    leaving: bool,
    #[serde(default)]
    pauses: Vec<PauseNote>,
    /// The digest of the tenant ids the sender knows (absent from older builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenants: Option<u64>,
}

/// A gate of `tenant` at `target` is closed until `until_unix_ms` (wall clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseNote {
    pub tenant: String,
    pub target: TargetKind,
    pub until_unix_ms: u64,
}

impl PauseNote {
    /// A pause of `tenant` at `target` lasting `remaining` from now.
    pub fn lasting(tenant: &str, target: TargetKind, remaining: Duration) -> Self {
        let until = SystemTime::now() + remaining;
        let until_unix_ms = until
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self {
            tenant: tenant.to_owned(),
            target,
            until_unix_ms,
        }
    }

    /// How long the pause still lasts from now (`None` once over).
    pub fn remaining(&self) -> Option<Duration> {
        let until = UNIX_EPOCH + Duration::from_millis(self.until_unix_ms);
        until
            .duration_since(SystemTime::now())
            .ok()
            .filter(|d| !d.is_zero())
    }
}

/// What this replica's beats say about its gates' pauses.
pub type PauseSource = Box<dyn Fn() -> Vec<PauseNote> + Send + Sync>;

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

    /// Beats and listens on `channel` until `stop`; says `leaving` when `leaving` is
    /// cancelled first (a shutdown). Errors end it; the caller's connection handling takes
    /// over.
    pub async fn run(
        self: &Arc<Self>,
        channel: Channel,
        exchange: &str,
        stop: CancellationToken,
        leaving: CancellationToken,
    ) -> lapin::Result<()> {
        let mut beats = listen(&channel, exchange).await?;
        let end = self
            .beat_and_listen(&channel, &mut beats, exchange, stop, leaving)
            .await;
        // The channel closes before the consumer is dropped (see `broker::close_channel`).
        crate::broker::close_channel(&channel, "heartbeats stopped").await;
        drop(beats);
        end
    }

    async fn beat_and_listen(
        self: &Arc<Self>,
        channel: &Channel,
        beats: &mut lapin::Consumer,
        exchange: &str,
        stop: CancellationToken,
        leaving: CancellationToken,
    ) -> lapin::Result<()> {
        let expiration = (self.interval * MISSED_BEATS).as_millis().to_string();
        let beat = |leaving: bool| {
            let body = serde_json::to_vec(&Beat {
                replica: self.me.clone(),
                leaving,
                pauses: self.own_pauses(),
                tenants: *self.own_digest.lock(),
            })
            .unwrap_or_default();
            let props = BasicProperties::default()
                .with_content_type("application/json".into())
                .with_expiration(expiration.as_str().into());
            (body, props)
        };
        let mut tick = tokio::time::interval(self.interval);
        loop {
            // Beats already received are read before the tick's refresh: a replica that was
            // starved of CPU must not drop a peer (and take its tenants without the pause
            // that peer's last beat reported) while that beat waits in the consumer.
            tokio::select! {
                biased;
                _ = leaving.cancelled() => {
                    let (body, props) = beat(true);
                    let _ = channel
                        .basic_publish(exchange.into(), "".into(), BasicPublishOptions::default(), &body, props)
                        .await;
                    return Ok(());
                }
                _ = stop.cancelled() => return Ok(()),
                next = beats.next() => match next {
                    Some(Ok(delivery)) => {
                        if let Ok(beat) = serde_json::from_slice::<Beat>(&delivery.data) {
                            self.heard(beat, Instant::now());
                        }
                    }
                    Some(Err(e)) => return Err(e),
                    None => return Err(lapin::Error::from(lapin::ErrorKind::InvalidChannelState(
                        lapin::ChannelState::Closed,
                        "the heartbeat consumer ended",
                    ))),
                },
                _ = tick.tick() => {
                    let (body, props) = beat(false);
                    channel
                        .basic_publish(exchange.into(), "".into(), BasicPublishOptions::default(), &body, props)
                        .await?;
                    self.refresh(Instant::now());
                }
            }
        }
    }
}

/// Declares the heartbeat exchange and a queue of this listener's own (exclusive, deleted
/// with its channel) bound to it, and consumes it without acks: every beat of every replica.
pub async fn listen(channel: &Channel, exchange: &str) -> lapin::Result<lapin::Consumer> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
    let own = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    let queue = channel
        .queue_declare("".into(), own, FieldTable::default())
        .await?;
    let queue = queue.name().as_str().to_owned();
    channel
        .queue_bind(
            queue.as_str().into(),
            exchange.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..BasicConsumeOptions::default()
    };
    channel
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            no_ack,
            FieldTable::default(),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn beats_keep_a_replica_live_silence_or_leaving_removes_it() {
        let m = Membership::new("a", Duration::from_secs(1));
        let live = m.watch();
        let beat = |r: &str, leaving| Beat {
            replica: r.into(),
            leaving,
            pauses: Vec::new(),
            tenants: None,
        };
        m.heard(beat("b", false), Instant::now());
        m.heard(beat("c", false), Instant::now());
        assert_eq!(live.borrow().len(), 3);
        tokio::time::advance(Duration::from_secs(2)).await;
        m.heard(beat("b", false), Instant::now());
        tokio::time::advance(Duration::from_millis(1500)).await;
        m.refresh(Instant::now());
        let ids: Vec<String> = live.borrow().iter().cloned().collect();
        assert_eq!(ids, ["a", "b"], "c missed three beats");
        m.heard(beat("b", true), Instant::now());
        let ids: Vec<String> = live.borrow().iter().cloned().collect();
        assert_eq!(ids, ["a"], "b left");
        m.heard(beat("a", true), Instant::now());
        assert_eq!(live.borrow().len(), 1, "never without itself");
    }

    #[test]
    fn pauses_heard_in_beats_are_kept_until_they_end() {
        let m = Membership::new("a", Duration::from_secs(1));
        let note = PauseNote::lasting("acme", TargetKind::Genesys, Duration::from_secs(30));
        let beat = Beat {
            replica: "b".into(),
            leaving: false,
            pauses: vec![note],
            tenants: None,
        };
        m.heard(beat, Instant::now());
        let left = m.heard_pause("acme", TargetKind::Genesys).unwrap();
        assert!(left > Duration::from_secs(28) && left <= Duration::from_secs(30));
        assert_eq!(m.heard_pause("acme", TargetKind::Servicenow), None);
        let over = PauseNote::lasting("x", TargetKind::Genesys, Duration::ZERO);
        assert_eq!(over.remaining(), None);
        let wire = serde_json::to_string(&Beat {
            replica: "b".into(),
            leaving: false,
            pauses: Vec::new(),
            tenants: None,
        })
        .unwrap();
        let old: Beat = serde_json::from_str(r#"{"replica":"b","leaving":false}"#).unwrap();
        assert!(old.pauses.is_empty() && wire.contains("pauses"));
    }

    #[tokio::test(start_paused = true)]
    async fn tenants_are_shared_out_only_while_the_replicas_agree_or_after_the_patience() {
        let m = Membership::new("a", Duration::from_secs(1));
        let agreed = m.agreement();
        m.set_tenant_digest(7);
        let beat = |digest| Beat {
            replica: "b".into(),
            leaving: false,
            pauses: Vec::new(),
            tenants: digest,
        };
        m.heard(beat(None), Instant::now());
        assert!(
            *agreed.borrow(),
            "an older build that says nothing does not hold anyone back"
        );
        m.heard(beat(Some(7)), Instant::now());
        assert!(*agreed.borrow());
        m.heard(beat(Some(8)), Instant::now());
        assert!(!*agreed.borrow(), "b knows another tenant set");
        for _ in 0..59 {
            tokio::time::advance(Duration::from_secs(1)).await;
            m.heard(beat(Some(8)), Instant::now());
        }
        assert!(!*agreed.borrow(), "still within the patience");
        tokio::time::advance(Duration::from_secs(1)).await;
        m.heard(beat(Some(8)), Instant::now());
        assert!(
            *agreed.borrow(),
            "a lasting difference no longer holds the others back"
        );
        m.set_tenant_digest(8);
        assert!(*agreed.borrow());
        m.set_tenant_digest(9);
        assert!(!*agreed.borrow(), "a new difference waits afresh");
        m.heard(
            Beat {
                leaving: true,
                ..beat(Some(8))
            },
            Instant::now(),
        );
        assert!(*agreed.borrow(), "b left");
    }
}
