//! The per-tenant batcher: coalesces pending changes by `script_id` and says when to flush.
//!
//! Every delivery is kept (each must be settled), grouped by script; the group's newest
//! version per target is what gets pushed. A batch is due when `max_changes` distinct
//! scripts are pending or `linger` has passed since the first pending change arrived.
//! Pure data: no I/O, so it is unit-tested with paused time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::change::{ScriptChange, TargetKind};

/// One delivery waiting in a batch: its change, the targets it is owed, and its token
/// (the ack handle in production, anything in tests).
pub struct Pending<T> {
    pub change: Arc<ScriptChange>,
    pub owed: Vec<TargetKind>,
    /// The message came from a DLQ replay or is a redelivery: check what the target holds
    /// before writing.
    pub replay: bool,
    pub token: T,
}

/// Every pending delivery of one script.
pub struct Group<T> {
    pub script_id: String,
    pub members: Vec<Pending<T>>,
}

impl<T> Group<T> {
    /// The member with the highest version among those owed `target` (first one on ties).
    pub fn newest_for(&self, target: TargetKind) -> Option<&Pending<T>> {
        self.members
            .iter()
            .filter(|m| m.owed.contains(&target))
            .fold(None, |best: Option<&Pending<T>>, m| match best {
                Some(b) if b.change.version >= m.change.version => Some(b),
                _ => Some(m),
            })
    }
}

/// Pending groups of one tenant plus the flush rule.
pub struct Batcher<T> {
    groups: Vec<Group<T>>,
    index: HashMap<String, usize>,
    first_at: Option<Instant>,
    deliveries: usize,
    max_changes: usize,
    linger: Duration,
}

impl<T> Batcher<T> {
    pub fn new(max_changes: usize, linger: Duration) -> Self {
        Self {
            groups: Vec::new(),
            index: HashMap::new(),
            first_at: None,
            deliveries: 0,
            max_changes: max_changes.max(1),
            linger,
        }
    }

    /// Adds a delivery to its script's group; starts the linger clock on the first one.
    pub fn add(&mut self, pending: Pending<T>) {
        self.first_at.get_or_insert_with(Instant::now);
        self.deliveries += 1;
        let script = pending.change.script_id.clone();
        match self.index.get(&script) {
            Some(&i) => self.groups[i].members.push(pending),
            None => {
                self.index.insert(script.clone(), self.groups.len());
                self.groups.push(Group {
                    script_id: script,
                    members: vec![pending],
                });
            }
        }
    }

    /// Distinct scripts pending.
    pub fn scripts(&self) -> usize {
        self.groups.len()
    }

    /// Deliveries pending (≥ scripts).
    pub fn deliveries(&self) -> usize {
        self.deliveries
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// True when at least `max_changes` distinct scripts are pending.
    pub fn is_full(&self) -> bool {
        self.groups.len() >= self.max_changes
    }

    /// When the pending batch becomes due by linger (None when empty).
    pub fn deadline(&self) -> Option<Instant> {
        self.first_at.map(|t| t + self.linger)
    }

    /// True when full or past the linger deadline.
    pub fn is_due(&self, now: Instant) -> bool {
        self.is_full() || self.deadline().is_some_and(|d| now >= d)
    }

    /// Takes every pending group, leaving the batcher empty.
    pub fn take(&mut self) -> Vec<Group<T>> {
        self.index.clear();
        self.first_at = None;
        self.deliveries = 0;
        std::mem::take(&mut self.groups)
    }

    /// Takes the `max_changes` oldest groups (one batch). Groups left behind keep their
    /// place and their linger clock, so they are due at once and go in the next batch;
    /// meanwhile they keep absorbing newer versions of their scripts.
    pub fn take_batch(&mut self) -> Vec<Group<T>> {
        if self.groups.len() <= self.max_changes {
            return self.take();
        }
        let rest = self.groups.split_off(self.max_changes);
        let batch = std::mem::replace(&mut self.groups, rest);
        self.index = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.script_id.clone(), i))
            .collect();
        self.deliveries = self.groups.iter().map(|g| g.members.len()).sum();
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(script: &str, version: u64) -> Arc<ScriptChange> {
        Arc::new(ScriptChange {
            schema: crate::change::SCHEMA_V1.into(),
            id: format!("{script}-{version}"),
            tenant: "t".into(),
            script_id: script.into(),
            version,
            version_hash: "h".into(),
            published_at: "2026-11-27T10:00:00Z".into(),
            disclaimer: None,
            campaign_id: None,
            genesys_version_id: None,
            attributes: None,
            targets: None,
            priority: None,
        })
    }

    fn pending(script: &str, version: u64, owed: &[TargetKind]) -> Pending<u64> {
        Pending {
            change: change(script, version),
            owed: owed.to_vec(),
            replay: false,
            token: version,
        }
    }

    const BOTH: &[TargetKind] = &TargetKind::ALL;

    #[tokio::test(start_paused = true)]
    async fn coalesces_by_script_and_keeps_every_delivery() {
        let mut b = Batcher::new(10, Duration::from_millis(100));
        for v in [3, 10, 7, 1] {
            b.add(pending("s1", v, BOTH));
        }
        b.add(pending("s2", 1, BOTH));
        assert_eq!((b.scripts(), b.deliveries()), (2, 5));
        let groups = b.take();
        assert_eq!(groups[0].members.len(), 4);
        assert_eq!(
            groups[0]
                .newest_for(TargetKind::Genesys)
                .unwrap()
                .change
                .version,
            10
        );
        assert!(b.is_empty() && b.deadline().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn newest_per_target_respects_owed_targets() {
        let mut b = Batcher::new(10, Duration::from_millis(100));
        b.add(pending("s", 4, BOTH));
        b.add(pending("s", 5, &[TargetKind::Servicenow]));
        let g = &b.take()[0];
        assert_eq!(g.newest_for(TargetKind::Genesys).unwrap().change.version, 4);
        assert_eq!(
            g.newest_for(TargetKind::Servicenow).unwrap().change.version,
            5
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_takes_the_oldest_scripts_and_the_rest_stays_due() {
        let mut b = Batcher::new(2, Duration::from_millis(100));
        for s in ["a", "b", "c", "a", "c"] {
            b.add(pending(s, 1, BOTH));
        }
        let batch = b.take_batch();
        let names: Vec<&str> = batch.iter().map(|g| g.script_id.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(batch[0].members.len(), 2);
        assert_eq!((b.scripts(), b.deliveries()), (1, 2));
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(b.is_due(Instant::now()), "the rest keeps its linger clock");
        b.add(pending("c", 2, BOTH));
        assert_eq!(b.take_batch()[0].members.len(), 3, "c kept coalescing");
        assert!(b.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn due_on_size_or_linger() {
        let mut b = Batcher::new(2, Duration::from_millis(100));
        assert!(!b.is_due(Instant::now()));
        b.add(pending("a", 1, BOTH));
        assert!(!b.is_due(Instant::now()));
        tokio::time::advance(Duration::from_millis(99)).await;
        assert!(!b.is_due(Instant::now()));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(b.is_due(Instant::now()));
        b.take();
        b.add(pending("a", 2, BOTH));
        b.add(pending("a", 3, BOTH));
        assert!(!b.is_full(), "same script twice is one change");
        b.add(pending("b", 1, BOTH));
        assert!(b.is_due(Instant::now()));
    }
}
