//! The live tenant set: each tenant's long-lived parts (targets with their gates and token
//! caches, ordering state), which survive broker reconnects and are replaced only when the
//! catalog says the tenant changed. [`TenantSet::apply`] turns a new catalog into the
//! difference:
//!
//! - **added**: parts built, metrics started at zero; the connection loop declares its queues
//!   and starts it where this replica owns it;
//! - **secrets rotated** (nothing else changed): the token caches take the new credentials at
//!   once; the next request fetches a token with them. The tenant keeps running;
//! - **changed** otherwise: new parts (same ordering state); the connection loop drains the
//!   running tenant (requests in flight finish) and starts it again on the new parts, with
//!   the pauses its gates had;
//! - **removed**: the parts go; the connection loop drains the tenant and stops. Its queues
//!   stay, with their messages.
//!
//! A tenant whose parts cannot be built is a problem like a broken file: it keeps what it had.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use super::catalog::{Catalog, Entry, Problem, Source};
use crate::change::TargetKind;
use crate::dlq::Reason;
use crate::metrics::Metrics;
use crate::pipeline::high_water::HighWater;
use crate::targets::{self, Target, TargetContext, TargetLayer};

/// The long-lived state of one tenant.
pub struct TenantParts {
    pub id: String,
    pub prefetch: u16,
    pub targets: Vec<Arc<dyn Target>>,
    pub high_water: Arc<Mutex<HighWater>>,
    shape: u64,
    secrets: AtomicU64,
}

impl TenantParts {
    /// Carries `old`'s gate pauses over to these parts' gates of the same kind: a tenant
    /// started again on new settings never sends into a server's `Retry-After`.
    pub fn carry_pauses_from(&self, old: &TenantParts) {
        for target in &self.targets {
            let before = old.targets.iter().find(|t| t.kind() == target.kind());
            if let Some(left) = before.and_then(|t| t.gate().paused_for()) {
                target
                    .gate()
                    .pause_until(tokio::time::Instant::now() + left);
            }
        }
    }
}

/// What building parts needs.
pub struct PartsFactory {
    pub targets: TargetContext,
    /// `broker.prefetch`, for tenants that do not set their own.
    pub prefetch: u16,
    /// Wraps each target built, if given.
    pub layer: Option<TargetLayer>,
}

/// What one [`TenantSet::apply`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub rotated: Vec<String>,
    pub removed: Vec<String>,
}

impl Applied {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.changed.is_empty()
            && self.rotated.is_empty()
            && self.removed.is_empty()
    }
}

/// Every tenant this process knows, shared by the connection loop, `/status` and the reload.
pub struct TenantSet {
    factory: PartsFactory,
    metrics: Arc<Metrics>,
    parts: RwLock<BTreeMap<String, Arc<TenantParts>>>,
    catalog: Mutex<Catalog>,
    problems: RwLock<Vec<Problem>>,
    /// Bumped whenever the parts change (a tenant added, changed or removed).
    version: watch::Sender<u64>,
}

impl TenantSet {
    /// The set the catalog gives. Main-file tenants whose targets cannot be built are fatal
    /// (as a bad `[[tenants]]` entry always was); directory tenants become problems.
    pub fn new(
        factory: PartsFactory,
        metrics: Arc<Metrics>,
        catalog: Catalog,
    ) -> Result<Arc<Self>, crate::config::ConfigError> {
        let set = Arc::new(Self {
            factory,
            metrics,
            parts: RwLock::default(),
            catalog: Mutex::default(),
            problems: RwLock::default(),
            version: watch::Sender::new(0),
        });
        let mut parts = BTreeMap::new();
        let mut problems = catalog.problems.clone();
        for (id, entry) in &catalog.entries {
            match set.build(entry, None) {
                Ok(built) => {
                    parts.insert(id.clone(), built);
                }
                Err(p) if entry.source == Source::MainFile => {
                    return Err(crate::config::ConfigError::Invalid(p.message));
                }
                Err(p) => problems.push(p),
            }
        }
        *set.parts.write() = parts;
        set.metrics.tenants_configured(set.len());
        set.record_problems(problems);
        *set.catalog.lock() = catalog;
        Ok(set)
    }

    /// The tenants now, by id.
    pub fn snapshot(&self) -> BTreeMap<String, Arc<TenantParts>> {
        self.parts.read().clone()
    }

    pub fn get(&self, id: &str) -> Option<Arc<TenantParts>> {
        self.parts.read().get(id).cloned()
    }

    pub fn len(&self) -> usize {
        self.parts.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Announces every change of the set.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// The fingerprint of the tenant ids (what replicas compare).
    pub fn digest(&self) -> u64 {
        let parts = self.parts.read();
        super::catalog::digest_of(parts.keys().map(String::as_str))
    }

    /// The problems of the last catalog applied (and parts that could not be built).
    pub fn problems(&self) -> Vec<Problem> {
        self.problems.read().clone()
    }

    /// The catalog last applied (the last good settings of tenants whose files fail now).
    pub fn catalog(&self) -> Catalog {
        self.catalog.lock().clone()
    }

    /// Makes the set what `catalog` says; see the module doc.
    pub async fn apply(&self, catalog: Catalog) -> Applied {
        let old = self.snapshot();
        let mut next = BTreeMap::new();
        let mut problems = catalog.problems.clone();
        let mut applied = Applied::default();
        for (id, entry) in &catalog.entries {
            match old.get(id) {
                Some(parts) if parts.shape == entry.shape => {
                    if parts.secrets.load(Ordering::SeqCst) != entry.secrets {
                        match rotate(parts, entry).await {
                            Ok(()) => applied.rotated.push(id.clone()),
                            Err(p) => problems.push(p),
                        }
                    }
                    next.insert(id.clone(), parts.clone());
                }
                Some(parts) => match self.build(entry, Some(parts)) {
                    Ok(new) => {
                        applied.changed.push(id.clone());
                        next.insert(id.clone(), new);
                    }
                    Err(p) => {
                        problems.push(p);
                        next.insert(id.clone(), parts.clone());
                    }
                },
                None => match self.build(entry, None) {
                    Ok(new) => {
                        applied.added.push(id.clone());
                        next.insert(id.clone(), new);
                    }
                    Err(p) => problems.push(p),
                },
            }
        }
        applied.removed = old
            .keys()
            .filter(|id| !next.contains_key(*id))
            .cloned()
            .collect();
        for id in &applied.removed {
            self.metrics.consuming_forgotten(id);
        }
        self.record_problems(problems);
        *self.catalog.lock() = catalog;
        let changed =
            !applied.added.is_empty() || !applied.changed.is_empty() || !applied.removed.is_empty();
        if changed {
            *self.parts.write() = next;
            self.metrics.tenants_configured(self.len());
            self.version.send_modify(|v| *v += 1);
        }
        applied
    }

    fn build(
        &self,
        entry: &Entry,
        old: Option<&Arc<TenantParts>>,
    ) -> Result<Arc<TenantParts>, Problem> {
        let t = &entry.settings;
        let mut targets =
            targets::build_targets(t, &self.factory.targets).map_err(|e| Problem {
                file: source_path(&entry.source),
                tenant: Some(t.id.clone()),
                message: e.to_string(),
            })?;
        if let Some(layer) = &self.factory.layer {
            targets = targets.into_iter().map(|target| layer(target)).collect();
        }
        let kinds: Vec<TargetKind> = targets.iter().map(|x| x.kind()).collect();
        let reasons = Reason::TENANT_REASONS.map(Reason::as_str);
        self.metrics.start_at_zero(&t.id, &kinds, &reasons);
        Ok(Arc::new(TenantParts {
            id: t.id.clone(),
            prefetch: t.prefetch.unwrap_or(self.factory.prefetch),
            targets,
            high_water: old.map(|o| o.high_water.clone()).unwrap_or_default(),
            shape: entry.shape,
            secrets: AtomicU64::new(entry.secrets),
        }))
    }

    /// Keeps `problems`, logs the ones that are new, and sets the gauge.
    fn record_problems(&self, problems: Vec<Problem>) {
        let mut current = self.problems.write();
        for p in problems.iter().filter(|p| !current.contains(p)) {
            tracing::error!(file = %p.file.display(), tenant = p.tenant.as_deref().unwrap_or("?"), error = %p.message, "tenant configuration refused; the tenant keeps its last good settings");
        }
        for p in current.iter().filter(|p| !problems.contains(p)) {
            tracing::info!(file = %p.file.display(), "tenant configuration problem resolved");
        }
        self.metrics.tenant_config_errors(problems.len());
        *current = problems;
    }
}

/// Hands the rotated credentials to every target's token cache.
async fn rotate(parts: &TenantParts, entry: &Entry) -> Result<(), Problem> {
    for target in &parts.targets {
        target
            .rotate_credentials(&entry.settings)
            .await
            .map_err(|e| Problem {
                file: source_path(&entry.source),
                tenant: Some(parts.id.clone()),
                message: e.to_string(),
            })?;
    }
    parts.secrets.store(entry.secrets, Ordering::SeqCst);
    Ok(())
}

fn source_path(source: &Source) -> std::path::PathBuf {
    match source {
        Source::MainFile => "(main configuration file)".into(),
        Source::File(path) => path.clone(),
    }
}
