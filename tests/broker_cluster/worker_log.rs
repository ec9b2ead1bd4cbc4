//! What the worker logged while nodes were down, read from its log file for the record: its
//! warnings and errors (each message counted, with its first occurrence), how many changes it
//! pushed, how often it logged one message.

use std::collections::BTreeMap;

use crate::common::process::Harness;

/// The worker's warnings and errors logged since byte `from`: each distinct message with
/// its count and its first occurrence (fields included), plus how many changes were pushed.
pub(super) fn log_summary(h: &Harness, from: usize) -> String {
    let text = std::fs::read_to_string(&h.log).unwrap_or_default();
    let mut seen: BTreeMap<String, (u32, String)> = BTreeMap::new();
    let mut pushed = 0;
    for line in text.get(from..).unwrap_or("").lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let message = v["message"].as_str().unwrap_or("").to_string();
        if message == "change pushed" {
            pushed += 1;
        }
        let level = v["level"].as_str().unwrap_or("");
        if level == "WARN" || level == "ERROR" {
            let mut example = line.to_string();
            example.truncate(400);
            seen.entry(format!("{level} {message}"))
                .or_insert((0, example))
                .0 += 1;
        }
    }
    let mut out = format!(
        "{pushed} \"change pushed\" lines; warnings and errors: {}",
        seen.len()
    );
    for (message, (count, example)) in &seen {
        out.push_str(&format!("\n    {count} × {message}: {example}"));
    }
    out
}

/// How often the worker logged `message` (a WARN or ERROR text) since byte `from`.
pub(super) fn log_count(h: &Harness, from: usize, message: &str) -> usize {
    let text = std::fs::read_to_string(&h.log).unwrap_or_default();
    text.get(from..)
        .unwrap_or("")
        .matches(&format!("\"message\":\"{message}\""))
        .count()
}

pub(super) fn log_len(h: &Harness) -> usize {
    std::fs::metadata(&h.log)
        .map(|m| m.len() as usize)
        .unwrap_or(0)
}
