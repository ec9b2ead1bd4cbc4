//! Reading `scriptsync publish`'s input into numbered entries, each a valid change or the
//! reason it is not one (the decoder's rules, [`change::parse`]).
//!
//! Two shapes are accepted, told apart by the first non-blank line:
//! - **JSON Lines**, one change per line, read as a stream (any size). The first line holds a
//!   whole JSON value, or is not JSON at all; a bad line is reported and the next one read.
//! - **JSON documents**: the first line starts with `[`, or opens a value that later lines
//!   close (pretty-printed; unless the second line is a whole object: then the input is
//!   JSON Lines whose first line is cut short). The input is then read whole; each document is a change or an
//!   array of changes, and several may follow each other (as `jq` prints them). An entry is
//!   numbered by the line its value starts on, plus its item number within an array.
//!   Malformed JSON ends the reading there: where the next value starts cannot be known.
//!
//! Blank lines are skipped; nothing here panics on any input.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead};

use serde::de::IgnoredAny;

use super::documents::split_documents;
use crate::change::{self, InvalidChange, ScriptChange};

/// One change of the input, or why that part of the input is not one.
#[derive(Debug)]
pub struct Entry {
    pub at: Position,
    pub change: Result<ScriptChange, InvalidChange>,
}

impl Entry {
    /// A part of the input at `line` that is no change, and why.
    pub(super) fn invalid(line: usize, why: String) -> Self {
        let at = Position { line, item: None };
        let change = Err(InvalidChange(why));
        Self { at, change }
    }
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

    /// Decides the shape from the first non-blank line (and, when that line opens a value,
    /// the next one: a whole object there means JSON Lines whose first line is cut short).
    fn decide(&mut self, line: usize, text: Vec<u8>) -> io::Result<()> {
        let array = text.starts_with(b"[");
        let opens = !array && opens_a_document(&text);
        let second = if opens { self.next_line()? } else { None };
        let cut_short = second.as_ref().is_some_and(|(_, t)| is_whole_object(t));
        if !(array || opens) || cut_short {
            self.lines_mode = Some(true);
            self.split.push_back(self.line_entry(line, &text));
            if let Some((line, text)) = second {
                self.split.push_back(self.line_entry(line, &text));
            }
            return Ok(());
        }
        self.lines_mode = Some(false);
        let mut all = text;
        if let Some((second_line, text)) = second {
            all.extend(std::iter::repeat_n(b'\n', second_line - line));
            all.extend(text);
        }
        all.push(b'\n');
        self.reader.read_to_end(&mut all)?;
        self.split = match String::from_utf8(all) {
            Ok(text) => split_documents(&text, line, self.max_bytes),
            Err(e) => {
                let bytes = e.as_bytes();
                let valid = e.utf8_error().valid_up_to();
                let line = line + bytes[..valid].iter().filter(|b| **b == b'\n').count();
                let why = "input is not UTF-8; the rest of the input is not read";
                VecDeque::from([Entry::invalid(line, why.into())])
            }
        };
        Ok(())
    }
}

impl<R: BufRead> Iterator for Entries<R> {
    type Item = io::Result<Entry>;

    fn next(&mut self) -> Option<io::Result<Entry>> {
        if let Some(entry) = self.split.pop_front() {
            return Some(Ok(entry));
        }
        if self.lines_mode == Some(false) {
            return None;
        }
        let (line, text) = match self.next_line() {
            Ok(Some(found)) => found,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        if self.lines_mode.is_none() {
            return match self.decide(line, text) {
                Ok(()) => self.next(),
                Err(e) => Some(Err(e)),
            };
        }
        Some(Ok(self.line_entry(line, &text)))
    }
}

/// True if `line` starts a JSON value it does not finish (a pretty-printed document).
fn opens_a_document(line: &[u8]) -> bool {
    serde_json::from_slice::<IgnoredAny>(line).is_err_and(|e| e.is_eof())
}

/// True if `line` is one whole JSON object (a line of JSON Lines, valid change or not).
fn is_whole_object(line: &[u8]) -> bool {
    line.starts_with(b"{") && serde_json::from_slice::<IgnoredAny>(line).is_ok()
}

#[cfg(test)]
#[path = "input_tests.rs"]
mod tests;
