//! The tenant catalog: which tenants there are now and with which settings, from the main
//! file's `[[tenants]]` (fixed for the process's life) and the tenants directory (read again
//! on every change notice), with the problems found. A tenant whose file is broken keeps its
//! last good settings (or stays absent if it never had any); every other tenant is unaffected.
//!
//! Rules, in order:
//! - the main file's tenants are always in;
//! - a directory that cannot be listed is one problem, and every tenant it gave before stays;
//! - a file that gives an id the main file has, or an id another file gives too, is a problem
//!   (for each such file); the tenant keeps what it had;
//! - a file that fails (TOML, unknown key, validation, a secret that cannot be read) is a
//!   problem; the tenant it names (its `id`, or the one it gave before) keeps what it had;
//! - a tenant whose file is gone, or now gives another id, is removed.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Settings, TenantFile, TenantSettings, expose, scan_tenants_dir};

/// Where a tenant's settings come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `[[tenants]]` in the main configuration file.
    MainFile,
    /// A file of the tenants directory.
    File(PathBuf),
}

/// One tenant's settings and what tells a change apart.
#[derive(Debug, Clone)]
pub struct Entry {
    pub settings: TenantSettings,
    pub source: Source,
    /// Everything but secret values (references included): a change restarts the tenant.
    pub shape: u64,
    /// The secret values: a change alone is a rotation, applied in place.
    pub secrets: u64,
}

impl Entry {
    pub fn new(settings: TenantSettings, source: Source) -> Self {
        let shape = fingerprint([toml::to_string(&settings).unwrap_or_default().as_str()]);
        let secrets = fingerprint(settings.secret_values().into_iter().map(expose));
        Self {
            settings,
            source,
            shape,
            secrets,
        }
    }
}

/// A tenant file (or the directory) that could not be used, and why (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: PathBuf,
    /// The tenant it concerns, when known.
    pub tenant: Option<String>,
    pub message: String,
}

/// The tenants now, and the problems found reading them.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub entries: BTreeMap<String, Entry>,
    pub problems: Vec<Problem>,
}

impl Catalog {
    /// The main file's tenants and, with a `tenants_dir`, the directory read now;
    /// `previous` gives the last good settings of tenants whose files fail now.
    pub fn load(settings: &Settings, previous: Option<&Catalog>) -> Self {
        let dir = settings
            .tenants_dir
            .as_deref()
            .map(|d| (d, scan_tenants_dir(d, None)));
        Self::merge(&settings.tenants, dir, previous)
    }

    /// The rules of the module doc, on an already read directory.
    pub fn merge(
        main: &[TenantSettings],
        dir: Option<(&Path, Result<Vec<TenantFile>, String>)>,
        previous: Option<&Catalog>,
    ) -> Self {
        let mut catalog = Catalog::default();
        for t in main {
            catalog
                .entries
                .insert(t.id.clone(), Entry::new(t.clone(), Source::MainFile));
        }
        let keep = |catalog: &mut Catalog, id: &str| {
            let last = previous.and_then(|p| p.entries.get(id));
            if let Some(last) = last.filter(|_| !catalog.entries.contains_key(id)) {
                catalog.entries.insert(id.to_owned(), last.clone());
            }
        };
        let files = match dir {
            None => return catalog,
            Some((path, Err(message))) => {
                catalog.problems.push(Problem {
                    file: path.to_owned(),
                    tenant: None,
                    message,
                });
                let from_dir = previous.into_iter().flat_map(|p| p.entries.iter());
                let ids: Vec<String> = from_dir
                    .filter(|(_, e)| e.source != Source::MainFile)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in ids {
                    keep(&mut catalog, &id);
                }
                return catalog;
            }
            Some((_, Ok(files))) => files,
        };
        let mut good: BTreeMap<String, Vec<(PathBuf, TenantSettings)>> = BTreeMap::new();
        let mut kept = BTreeSet::new();
        for file in files {
            match file.settings {
                Ok(settings) => good
                    .entry(settings.id.clone())
                    .or_default()
                    .push((file.path, settings)),
                Err(message) => {
                    let id = file.id.or_else(|| gave_before(previous, &file.path));
                    catalog.problems.push(Problem {
                        file: file.path,
                        tenant: id.clone(),
                        message,
                    });
                    kept.extend(id);
                }
            }
        }
        for (id, mut files) in good {
            let in_main_file = catalog.entries.contains_key(&id);
            if in_main_file {
                for (path, _) in files {
                    catalog.problems.push(Problem {
                        message: format!(
                            "{}: tenant {id:?} is already configured in the main file",
                            path.display()
                        ),
                        file: path,
                        tenant: Some(id.clone()),
                    });
                }
            } else if files.len() > 1 {
                let all: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
                for (path, _) in files {
                    catalog.problems.push(Problem {
                        message: format!(
                            "tenant id {id:?} is given by several files: {}",
                            all.join(", ")
                        ),
                        file: path,
                        tenant: Some(id.clone()),
                    });
                }
                kept.insert(id);
            } else if let Some((path, settings)) = files.pop() {
                kept.remove(&id);
                catalog
                    .entries
                    .insert(id, Entry::new(settings, Source::File(path)));
            }
        }
        for id in kept {
            keep(&mut catalog, &id);
        }
        catalog
    }

    /// A fingerprint of the tenant ids (not their settings), the same in every build: replicas
    /// compare it to know they see the same tenants before they share them out.
    pub fn digest(&self) -> u64 {
        digest_of(self.entries.keys().map(String::as_str))
    }
}

/// The tenant `path` gave in `previous`, if any.
fn gave_before(previous: Option<&Catalog>, path: &Path) -> Option<String> {
    let entries = previous?.entries.iter();
    entries
        .filter(|(_, e)| matches!(&e.source, Source::File(p) if p == path))
        .map(|(id, _)| id.clone())
        .next()
}

/// The digest of a set of tenant ids (given sorted): FNV-1a 64 over the ids, each ended by a
/// byte no id holds.
pub fn digest_of<'a>(ids: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for id in ids {
        for b in id.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// A within-process fingerprint of some texts (compared only in this process).
fn fingerprint<'a>(parts: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
