//! Reading `scriptsync publish`'s input into numbered entries, each a valid change or the
//! reason it is not one (the decoder's rules, [`change::parse`]).
//!
//! Two shapes are accepted, told apart by the first non-blank line:
//! - **JSON Lines**, one change per line, read as a stream (any size). The first line holds a
//!   whole JSON value, or is not JSON at all; a bad line is reported and the next one read.
//! - **JSON documents**: the first line starts with `[`, or opens a value that later lines
//!   close (pretty-printed). The input is then read whole; each document is a change or an
//!   array of changes, and several may follow each other (as `jq` prints them). An entry is
//!   numbered by the line its value starts on, plus its item number within an array.
//!   Malformed JSON ends the reading there: where the next value starts cannot be known.
//!
//! Blank lines are skipped; nothing here panics on any input.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead};

use serde::de::IgnoredAny;

use crate::change::{self, InvalidChange, ScriptChange, without_position};

/// One change of the input, or why that part of the input is not one.
#[derive(Debug)]
pub struct Entry {
    pub at: Position,
    pub change: Result<ScriptChange, InvalidChange>,
}

/// Where an entry starts in the input: its line (1-based), and in an array its item (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub item: Option<usize>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.item {
            None => write!(f, "line {}", self.line),
            Some(item) => write!(f, "line {} (array item {item})", self.line),
        }
    }
}

/// The entries of an input, in order; see the module docs for the shapes.
pub struct Entries<R> {
    reader: R,
    max_bytes: usize,
    /// Lines read so far.
    line: usize,
    /// `None` until the first non-blank line decides the shape.
    lines_mode: Option<bool>,
    /// Documents mode: every entry, split at once.
    split: VecDeque<Entry>,
}

impl<R: BufRead> Entries<R> {
    /// Reads `reader`; a change longer than `max_bytes` (`broker.max_message_bytes`) is
    /// invalid, as the worker would dead-letter it.
    pub fn new(reader: R, max_bytes: usize) -> Self {
        Self {
            reader,
            max_bytes,
            line: 0,
            lines_mode: None,
            split: VecDeque::new(),
        }
    }

    /// The next non-blank line (trimmed) and its number, or `None` at the end.
    fn next_line(&mut self) -> io::Result<Option<(usize, Vec<u8>)>> {
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if self.reader.read_until(b'\n', &mut buf)? == 0 {
                return Ok(None);
            }
            self.line += 1;
            let text = buf.trim_ascii();
            if !text.is_empty() {
                return Ok(Some((self.line, text.to_vec())));
            }
        }
    }

    fn line_entry(&self, line: usize, text: &[u8]) -> Entry {
        let change = change::parse(text, self.max_bytes).map_err(|e| {
            // The line is the whole body: serde's "line 1" would only confuse.
            InvalidChange(e.0.replace(" at line 1 column ", " at column "))
        });
        let at = Position { line, item: None };
        Entry { at, change }
    }

    /// Documents mode: reads the rest of the input and splits it (first line `first`).
    fn split_rest(&mut self, first: usize, text: Vec<u8>) -> io::Result<()> {
        let mut all = text;
        all.push(b'\n');
        self.reader.read_to_end(&mut all)?;
        self.split = match String::from_utf8(all) {
            Ok(text) => split_documents(&text, first, self.max_bytes),
            Err(e) => {
                let bytes = e.as_bytes();
                let valid = e.utf8_error().valid_up_to();
                let line = first + bytes[..valid].iter().filter(|b| **b == b'\n').count();
                let at = Position { line, item: None };
                let why = "input is not UTF-8; the rest of the input is not read";
                VecDeque::from([Entry {
                    at,
                    change: Err(InvalidChange(why.into())),
                }])
            }
        };
        Ok(())
    }
}

impl<R: BufRead> Iterator for Entries<R> {
    type Item = io::Result<Entry>;

    fn next(&mut self) -> Option<io::Result<Entry>> {
        if self.lines_mode == Some(false) {
            return self.split.pop_front().map(Ok);
        }
        let (line, text) = match self.next_line() {
            Ok(Some(found)) => found,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        if self.lines_mode.is_none() {
            let documents = text.starts_with(b"[") || opens_a_document(&text);
            self.lines_mode = Some(!documents);
            if documents {
                return match self.split_rest(line, text) {
                    Ok(()) => self.split.pop_front().map(Ok),
                    Err(e) => Some(Err(e)),
                };
            }
        }
        Some(Ok(self.line_entry(line, &text)))
    }
}

/// True if `line` starts a JSON value it does not finish (a pretty-printed document).
fn opens_a_document(line: &[u8]) -> bool {
    serde_json::from_slice::<IgnoredAny>(line).is_err_and(|e| e.is_eof())
}

/// Splits `text` (whose first line is line `first`) into entries: each top-level value is
/// one, an array's items one each.
fn split_documents(text: &str, first: usize, max_bytes: usize) -> VecDeque<Entry> {
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
                let at = Position { line, item: None };
                entries.push_back(Entry {
                    at,
                    change: Err(InvalidChange(why)),
                });
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

#[cfg(test)]
#[path = "input_tests.rs"]
mod tests;
