//! The guarantees about how the targets were called: no request into a pause (the
//! simulator's own count of requests that arrived while it had told the caller to wait), and
//! no record of one tenant written with another tenant's credentials.

use std::collections::BTreeMap;

use scriptsync::change::TargetKind;

use super::{Verdict, with_faults};
use crate::chaos::history::Event;

/// The simulator saw no request inside a pause it had announced.
pub fn no_request_into_a_pause(history: &[Event]) -> Verdict {
    let mut counts: BTreeMap<(&str, TargetKind), u64> = BTreeMap::new();
    let mut first: Option<&Event> = None;
    for e in history {
        if let Event::IntoPause {
            tenant,
            target,
            count,
            ..
        } = e
        {
            let seen = counts.entry((tenant, *target)).or_default();
            if *count > *seen {
                first.get_or_insert(e);
            }
            *seen = (*seen).max(*count);
        }
    }
    let total: u64 = counts.values().sum();
    let evidence = first
        .map(|e| {
            let at = e.at_ms();
            with_faults(history, std::iter::once(e), at.saturating_sub(5_000), at)
        })
        .unwrap_or_default();
    Verdict {
        guarantee: "0 requests into a pause",
        figure: format!(
            "{total} requests into a pause, over {} (tenant, target)",
            counts.len()
        ),
        held: total == 0,
        evidence,
    }
}

/// Every record was written with its own tenant's credentials.
pub fn no_cross_tenant_credential(history: &[Event]) -> Verdict {
    let (mut seen, mut foreign) = (0usize, Vec::new());
    for e in history {
        if let Event::Credential {
            tenant, principal, ..
        } = e
        {
            seen += 1;
            if tenant != principal {
                foreign.push(e);
            }
        }
    }
    Verdict {
        guarantee: "no cross-tenant credential",
        figure: format!(
            "{} of {seen} (tenant, target, credential) pairs foreign",
            foreign.len()
        ),
        held: foreign.is_empty(),
        evidence: foreign
            .first()
            .map(|e| vec![(*e).clone()])
            .unwrap_or_default(),
    }
}
