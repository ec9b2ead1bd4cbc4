//! JSON documents mode of the input reader ([`super::input`]): the whole input split into
//! its top-level values (a change, or an array of changes, one after another as `jq` prints
//! them), each entry numbered by the line its value starts on and, in an array, its item.
//! Values are found with serde_json's own parser (`IgnoredAny`), so any JSON it accepts
//! splits right; malformed JSON ends the split there, since where the next value would
//! start cannot be known.

use std::collections::VecDeque;

use serde::de::IgnoredAny;

use super::input::{Entry, Position};
use crate::change::{self, without_position};

/// Splits `text` (whose first line is line `first`) into entries: each top-level value is
/// one, an array's items one each.
pub(super) fn split_documents(text: &str, first: usize, max_bytes: usize) -> VecDeque<Entry> {
    let mut lines = LineCounter::new(text, first);
    let mut entries = VecDeque::new();
    let mut pos = skip_space(text, 0);
    while pos < text.len() {
        let line = lines.at(pos);
        let end = match value_end(text, pos) {
            Ok(end) => end,
            Err(e) => {
                // serde counts from the value's start; a column on its first line is offset
                // by where the value starts on that line.
                let column = match e.line() {
                    1 => pos - text[..pos].rfind('\n').map_or(0, |i| i + 1) + e.column(),
                    _ => e.column(),
                };
                let line = line + e.line() - 1;
                let why = format!(
                    "not valid JSON: {} at column {column}; the rest of the input is not read",
                    without_position(&e),
                );
                entries.push_back(Entry::invalid(line, why));
                break;
            }
        };
        if text[pos..].starts_with('[') {
            let mut item_pos = skip_space(text, pos + 1);
            let mut item = 0;
            // The array parsed as a whole, so each item is a value followed by `,` or `]`.
            while item_pos < end && !text[item_pos..].starts_with(']') {
                item += 1;
                let item_end = value_end(text, item_pos).unwrap_or(end);
                let at = Position {
                    line: lines.at(item_pos),
                    item: Some(item),
                };
                let change = change::parse(&text.as_bytes()[item_pos..item_end], max_bytes);
                entries.push_back(Entry { at, change });
                item_pos = skip_space(text, item_end);
                item_pos = skip_space(
                    text,
                    item_pos + usize::from(text[item_pos..].starts_with(',')),
                );
            }
        } else {
            let at = Position { line, item: None };
            let change = change::parse(&text.as_bytes()[pos..end], max_bytes);
            entries.push_back(Entry { at, change });
        }
        pos = skip_space(text, end);
    }
    entries
}

/// Where the JSON value starting at `pos` ends.
fn value_end(text: &str, pos: usize) -> Result<usize, serde_json::Error> {
    let mut values = serde_json::Deserializer::from_str(&text[pos..]).into_iter::<IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => Ok(pos + values.byte_offset()),
        Some(Err(e)) => Err(e),
        None => Ok(text.len()),
    }
}

fn skip_space(text: &str, pos: usize) -> usize {
    let rest = &text[pos.min(text.len())..];
    text.len() - rest.trim_start().len()
}

/// Line numbers of byte offsets, counted forward (offsets asked in increasing order).
struct LineCounter<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str, first: usize) -> Self {
        Self {
            text,
            pos: 0,
            line: first,
        }
    }

    fn at(&mut self, pos: usize) -> usize {
        let pos = pos.max(self.pos);
        self.line += self.text.as_bytes()[self.pos..pos]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.pos = pos;
        self.line
    }
}
