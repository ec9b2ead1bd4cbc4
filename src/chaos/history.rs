//! The history of a chaos run: everything that happened, one JSON object per line, in the
//! order it was recorded (`at_ms`: milliseconds since the run began). The checker
//! ([`super::checker`]) reads it whole (`scriptsync chaos check FILE`).

use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use scriptsync::change::TargetKind;
use serde::{Deserialize, Serialize};

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run's parameters.
    Began {
        seed: u64,
        duration_ms: u64,
        /// Tenants whose offered load stays within their quota: the latency guarantee
        /// covers them.
        in_quota: Vec<String>,
    },
    /// A change the broker confirmed, owed to `targets`.
    Published {
        at_ms: u64,
        tenant: String,
        script: String,
        version: u64,
        targets: Vec<TargetKind>,
        retire: bool,
    },
    /// A write the simulator applied (`deleted`: a row deleted or a record retired; a
    /// Genesys deletion carries the version the row held).
    Applied {
        at_ms: u64,
        tenant: String,
        target: TargetKind,
        script: String,
        version: u64,
        deleted: bool,
    },
    /// The simulator's count, so far, of the requests of (tenant, target) that arrived while
    /// it had told them to wait.
    IntoPause {
        at_ms: u64,
        tenant: String,
        target: TargetKind,
        count: u64,
    },
    /// A record of `tenant` at `target` written with `principal`'s credentials.
    Credential {
        at_ms: u64,
        tenant: String,
        target: TargetKind,
        principal: String,
    },
    /// A dead letter found at the end of the run, owing `targets`.
    DeadLettered {
        at_ms: u64,
        tenant: String,
        script: String,
        version: u64,
        targets: Vec<TargetKind>,
        reason: String,
        permanent: bool,
    },
    /// A fault the nemesis injected, from `at_ms` until `until_ms`.
    Fault {
        at_ms: u64,
        until_ms: u64,
        kind: String,
        detail: String,
    },
    /// A worker's resident memory.
    Rss {
        at_ms: u64,
        worker: String,
        bytes: u64,
    },
}

impl Event {
    /// When it happened (the run's parameters: at its start).
    pub fn at_ms(&self) -> u64 {
        match self {
            Event::Began { .. } => 0,
            Event::Published { at_ms, .. }
            | Event::Applied { at_ms, .. }
            | Event::IntoPause { at_ms, .. }
            | Event::Credential { at_ms, .. }
            | Event::DeadLettered { at_ms, .. }
            | Event::Fault { at_ms, .. }
            | Event::Rss { at_ms, .. } => *at_ms,
        }
    }

    /// The (tenant, script) it is about, if any.
    pub fn script(&self) -> Option<(&str, &str)> {
        match self {
            Event::Published { tenant, script, .. }
            | Event::Applied { tenant, script, .. }
            | Event::DeadLettered { tenant, script, .. } => Some((tenant, script)),
            _ => None,
        }
    }
}

/// Reads a history; a line that is not an event is an error naming the line.
pub fn read(path: &Path) -> anyhow::Result<Vec<Event>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open the history {}", path.display()))?;
    let mut events = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let event = serde_json::from_str(&line)
            .with_context(|| format!("{} line {}: not a history event", path.display(), n + 1))?;
        events.push(event);
    }
    Ok(events)
}
